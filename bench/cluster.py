"""Real agents against real serf: crash detection, join convergence, idle CPU and RSS.

Why: ``bench/fidelity.py`` holds the *simulator* against serf. This holds the *agent* itself
(``python -m agent agent -server ...``: asyncio sockets, uvicorn, raft over the RPC port) against
``serf agent`` processes from Debian's ``serf`` package, both with the LAN profile on loopback,
in one invocation and measured the same way. The issue's goals: detection within 25% of
serf's, idle CPU per agent at most 1.2x serf's, the raft leader included (issue 14; it was 2x),
RSS per agent under 35 MiB idle and under 40 MiB after the members reads (issue 14).

For each N in ``--sizes`` and each of ``--runs`` runs, one fresh cluster per side (ours, then
serf, so drifting machine load hits both alike):

1. start N agents ``n1..nN`` at seeded random offsets within ``--jitter`` s (memberlist's tick
   phase is its start time, see ``SerfCluster.start``). Ours: servers with
   ``-bootstrap-expect 3``, ``-gossip-profile lan``, ``-log-level WARN``, each on Nomad's ports
   4646-4648 of its own loopback address (``--base-ip``, default 127.0.1.1, 127.0.1.2, ...).
   serf: ``serf agent -profile=lan`` on 127.0.0.1 with free ports (``bench/serf_agents.py``).
2. **join**: agents 2..N all join n1 at once (``PUT /v1/agent/join?address=<n1>`` / serf RPC
   ``join``, all issued before the first answer is awaited); time until every agent lists all
   N ``alive``.
3. first run only, **idle**: ours first waits until every agent has a raft leader
   (``/v1/agent/health`` 200); then ``--idle-settle`` s of quiet, then utime+stime of each PID
   from ``/proc/<pid>/stat`` over ``--idle-seconds`` with nothing polling (% of one core) and
   the context switches in that window (how often an idle process wakes up), then VmRSS;
   then ``--load-requests`` members reads per agent (HTTP ``GET /v1/agent/members`` over 4
   keep-alive connections / serf RPC ``members``) and VmRSS again.
4. **detection**: ``--settle`` s (+ jitter) later, SIGKILL one random non-seed agent (ours:
   never the raft leader); time until every survivor lists it ``failed`` (and until the first).

Waiting means polling every agent not yet satisfied, all at once, every ``--poll-interval`` s
(50 ms); an agent's time is when the answer showing the condition arrived, so every figure
carries up to one poll interval (plus the round's own latency) of lag, on both sides.

Usage::

    python bench/cluster.py                                  # N = 3,10,25, 3 runs, both sides
    python bench/cluster.py --sizes 3 --runs 1 --idle-seconds 10
    python bench/cluster.py --json bench/results/cluster.json
    python bench/cluster.py --skip-serf                      # our agents only

Processes: our agents are ``agent.processes.supervisor``'s: each in its own process group
(Ctrl-C in the terminal reaches only this script), SIGKILLed by the kernel if this script dies
(``PR_SET_PDEATHSIG``), and stopped (SIGTERM to the group, 5 s of grace, then SIGKILL) at the
end of every run, on Ctrl-C, on SIGTERM and at exit; serf agents are handled the same way by
``SerfCluster``. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

_HERE = Path(__file__).resolve().parent
# The repo root first (agent/); bench/ last, for serf_agents only: bench/http.py must not
# shadow the standard library's http package, which agent.processes.supervisor needs
# (urllib.request).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))
sys.path.append(str(_HERE))

from serf_agents import (  # noqa: E402
    SerfCluster,
    SerfConnectionError,
    SerfRPCError,
    WaitTimeout,
    serf_binary,
    serf_version,
)

from agent.processes.supervisor import (  # noqa: E402
    SERF_PORT,
    AgentProcess,
    ChildSpec,
    Supervisor,
    SupervisorError,
    wait_ports_free,
)

DEFAULT_SIZES = (3, 10, 25)
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
RSS_IDLE_GOAL_MIB = 35.0
RSS_LOADED_GOAL_MIB = 40.0
DETECTION_TOLERANCE = 0.25
CPU_RATIO_GOAL = 1.2
REGION = "global"

Statuses = dict[str, str]
Predicate = Callable[[Statuses], bool]


# ----------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of every thread of ``pid``: for an idle
    process, about how often it woke up."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/status") as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def memory_mib(pid: int, keys: Sequence[str] = ("VmRSS", "VmHWM")) -> dict[str, float]:
    """The kB fields `keys` of ``/proc/<pid>/status`` in MiB: by default VmRSS and VmHWM
    (peak RSS)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[key] = int(value.split()[0]) * 1024 / MIB
    return out


# ----------------------------------------------------------------------------- predicates


def all_alive(names: Iterable[str]) -> Predicate:
    wanted = tuple(names)
    return lambda statuses: all(statuses.get(name) == "alive" for name in wanted)


def status_is(member: str, status: str) -> Predicate:
    return lambda statuses: statuses.get(member) == status


# ----------------------------------------------------------------------------- a tiny HTTP client


class HTTPConn:
    """One keep-alive HTTP/1.1 connection on asyncio streams.

    Polling 25 agents every 50 ms from one process is 500 requests/s; httpx spends ~1 ms of
    CPU on each, which on a 2-core machine would be taken from the agents being measured.
    This does only what the agent's answers need: Content-Length or chunked bodies.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None

    async def request(self, method: str, path: str) -> tuple[int, bytes]:
        """(status, body); one reconnect-and-retry if a kept-alive connection went stale."""
        for attempt in (0, 1):
            try:
                return await asyncio.wait_for(self._exchange(method, path), self.timeout)
            except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as exc:
                self.close()
                if attempt or isinstance(exc, ConnectionRefusedError):
                    raise
            except TimeoutError:
                self.close()
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, path: str) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Length: 0\r\n\r\n".encode("latin-1")
        )
        status_line = await reader.readline()
        if not status_line:
            raise EOFError("connection closed")
        status = int(status_line.split()[1])
        length: int | None = None
        chunked = close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise EOFError("connection closed in headers")
            key, _, value = line.decode("latin-1").partition(":")
            key, value = key.strip().lower(), value.strip().lower()
            if key == "content-length":
                length = int(value)
            elif key == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif key == "connection" and "close" in value:
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        elif length is not None:
            body = await reader.readexactly(length)
        else:
            body, close = await reader.read(), True
        if close:
            self.close()
        return status, body


# ----------------------------------------------------------------------------- our agents


async def _gather(*aws: Any) -> list[Any]:
    """``asyncio.gather`` inside the running loop (a bare gather built outside a running
    loop would bind to the thread's default loop, not ``OursSide.loop``)."""
    return await asyncio.gather(*aws, return_exceptions=True)


def _nth_ip(base: str, k: int) -> str:
    """The address of agent ``k`` (1-based): ``base`` + k - 1, which must stay on loopback."""
    ip = ipaddress.IPv4Address(base) + (k - 1)
    if not ip.is_loopback:
        raise ValueError(f"agent {k} would get {ip}, not a loopback address")
    return str(ip)


def _member_name(name: str) -> str:
    """``n3.global`` -> ``n3``: our members carry the region, serf's do not."""
    suffix = f".{REGION}"
    return name[: -len(suffix)] if name.endswith(suffix) else name


class OursSide:
    """N ``python -m agent agent -server`` processes, each on 4646-4648 of its own address.

    The processes are ``agent.processes.supervisor``'s (started, waited for, killed, stopped);
    this side adds the bench's own asyncio HTTP client, so that polling N agents every 50 ms
    costs the machine little."""

    label = "ours"

    def __init__(
        self,
        *,
        base_ip: str,
        poll_interval: float,
        log_level: str,
        keep_logs: bool,
        bootstrap_expect: int,
        start_timeout: float = 180.0,
        program: tuple[str, ...] | None = None,
    ) -> None:
        self.base_ip = base_ip
        self.poll_interval = poll_interval
        self.log_level = log_level
        self.keep_logs = keep_logs
        self.bootstrap_expect = bootstrap_expect
        self.start_timeout = start_timeout
        self.program = program
        """What runs each agent's argv (None: `python -P -m agent`); bench/idle_profile.py puts
        its probe there."""
        self.supervisor: Supervisor | None = None
        self.conns: dict[str, HTTPConn] = {}
        """The polling connection of each agent, by name."""
        self.workdir: Path | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.leader: str | None = None
        self.info: dict[str, Any] = {}
        self._joins: list[asyncio.Future[tuple[int, bytes]]] = []

    # -- plumbing

    def _run(self, coro: Any) -> Any:
        assert self.loop is not None
        return self.loop.run_until_complete(coro)

    def _agents(self) -> Supervisor:
        if self.supervisor is None:
            raise RuntimeError("cluster not started")
        return self.supervisor

    def __getitem__(self, name: str) -> AgentProcess:
        return self._agents()[name]

    def pids(self) -> dict[str, int]:
        return {a.name: a.pid for a in self._agents() if a.running and a.pid is not None}

    def describe(self) -> str:
        first = self._agents().agents[0]
        return shlex.join(["python", "-m", "agent", *first.argv])

    # -- lifecycle

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None:
        self.loop = asyncio.new_event_loop()
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-cluster-ours-"))
        self.supervisor = Supervisor(self.workdir, run_banners=False)
        expect = min(self.bootstrap_expect, len(names))
        specs = []
        for k, name in enumerate(names, 1):
            ip = _nth_ip(self.base_ip, k)
            data_dir = self.workdir / name
            argv = (
                "agent",
                "-server",
                "-bootstrap-expect",
                str(expect),
                "-node",
                name,
                "-bind",
                ip,
                "-data-dir",
                str(data_dir),
                "-gossip-profile",
                "lan",
                "-log-level",
                self.log_level,
            )
            specs.append(ChildSpec(name, ip, argv, data_dir=data_dir, program=self.program))
        wait_ports_free(specs, 15.0)  # the previous run's agents may still be exiting
        self.supervisor.start(specs[0])
        for spec, gap in zip(specs[1:], gaps, strict=True):
            if gap > 0:
                time.sleep(gap)  # start-time spread, as SerfCluster.start
            self.supervisor.start(spec)
        self.conns = {spec.name: HTTPConn(spec.address, spec.ports.http) for spec in specs}
        self.supervisor.wait_http(timeout=self.start_timeout)

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        if self.supervisor is not None:
            self.supervisor.stop(signal.SIGTERM, grace=5.0)
            self.supervisor.close()
        if self.loop is not None:
            tasks = list(asyncio.all_tasks(self.loop)) + list(self._joins)
            for task in tasks:  # e.g. joins still running when a wait failed
                task.cancel()
            with contextlib.suppress(Exception):  # also retrieves their exceptions
                self.loop.run_until_complete(_gather(*tasks))
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(asyncio.sleep(0))  # let transports close
            self.loop.close()
            self.loop = None
        if self.workdir is not None:
            if self.keep_logs:
                print(f"  ours: logs kept in {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- operations

    def join_all(self, names: Sequence[str], concurrent: bool) -> None:
        """Agents 2..N join n1 through ``PUT /v1/agent/join``; returns once all are *sent*
        (``finish_joins`` collects the answers after the convergence wait)."""
        seed = self[names[0]]
        path = f"/v1/agent/join?address={seed.address}:{SERF_PORT}"

        async def one(agent: AgentProcess) -> tuple[int, bytes]:
            conn = HTTPConn(
                agent.address, agent.spec.ports.http, timeout=30.0
            )  # not the polling one
            try:
                return await conn.request("PUT", path)
            finally:
                conn.close()

        joiners = [self[name] for name in names[1:]]
        assert self.loop is not None
        self._joins = []
        for agent in joiners:
            if concurrent:
                self._joins.append(self.loop.create_task(one(agent)))
            else:  # one after another, each answered before the next is sent
                done: asyncio.Future[tuple[int, bytes]] = self.loop.create_future()
                done.set_result(self._run(one(agent)))
                self._joins.append(done)

    def finish_joins(self) -> None:
        results = self._run(_gather(*self._joins))
        for result in results:
            if isinstance(result, BaseException):
                raise RuntimeError(f"join failed: {result!r}")
            status, body = result
            reply = json.loads(body)
            if status != 200 or reply.get("error") or int(reply.get("num_joined", 0)) < 1:
                raise RuntimeError(f"join answered {status}: {body[:200]!r}")

    async def _statuses(self, agent: AgentProcess) -> tuple[float, Statuses]:
        status, body = await self.conns[agent.name].request("GET", "/v1/agent/members")
        at = time.monotonic()
        if status != 200:
            raise RuntimeError(f"{agent.name}: members answered {status}: {body[:200]!r}")
        members = json.loads(body)["Members"]
        return at, {_member_name(m["Name"]): m["Status"] for m in members}

    def wait_for(
        self, observers: Sequence[str], predicate: Predicate, *, timeout: float, what: str
    ) -> dict[str, float]:
        return self._run(self._wait_for(observers, predicate, timeout, what))

    async def _wait_for(
        self, observers: Sequence[str], predicate: Predicate, timeout: float, what: str
    ) -> dict[str, float]:
        """As ``SerfCluster.wait_for``: poll every pending agent at once each round."""
        pending = [self[name] for name in observers]
        seen: dict[str, float] = {}
        last: dict[str, Statuses] = {}
        deadline = time.monotonic() + timeout
        while pending:
            round_start = time.monotonic()
            answers = await asyncio.gather(
                *(self._statuses(a) for a in pending), return_exceptions=True
            )
            for agent, answer in zip(pending, answers, strict=True):
                if isinstance(answer, BaseException):
                    if not isinstance(answer, Exception):
                        raise answer
                    last[agent.name] = {"<poll error>": repr(answer)[:120]}
                    continue  # a slow answer under load; the deadline still applies
                at, statuses = answer
                last[agent.name] = statuses
                if predicate(statuses):
                    seen[agent.name] = at
            pending = [a for a in pending if a.name not in seen]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise WaitTimeout(what, {a.name: last.get(a.name, {}) for a in pending})
            # Pacing only: correctness comes from the predicate and the deadline.
            await asyncio.sleep(max(0.0, self.poll_interval - (time.monotonic() - round_start)))
        return seen

    def steady(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until every agent has a raft leader; who leads and how many raft peers."""
        started = time.monotonic()
        self._agents().wait_healthy(timeout=timeout)
        waited = time.monotonic() - started
        leaders: list[str] = []
        peers: dict[str, int] = {}
        for agent in self._agents():
            answer = agent.get("/v1/agent/self", timeout=10.0)
            if answer is None or not answer.ok:
                raise RuntimeError(f"{agent.name}: /v1/agent/self answered {answer}")
            stats = json.loads(answer.body)["stats"]
            if stats["nomad"]["leader"] == "true":
                leaders.append(agent.name)
            peers[agent.name] = int(stats["raft"]["num_peers"])
        self.leader = leaders[0] if len(leaders) == 1 else None
        self.info = {"leader": self.leader, "leader_wait_s": round(waited, 3), "raft_peers": peers}
        return self.info

    def load(self, requests: int, connections: int = 4) -> None:
        """``requests`` GETs of /v1/agent/members per agent, agents in parallel."""

        async def agent_load(agent: AgentProcess) -> None:
            conns = [
                HTTPConn(agent.address, agent.spec.ports.http, timeout=30.0)
                for _ in range(connections)
            ]
            share = [
                requests // connections + (i < requests % connections) for i in range(connections)
            ]

            async def worker(conn: HTTPConn, count: int) -> None:
                for _ in range(count):
                    status, _ = await conn.request("GET", "/v1/agent/members")
                    if status != 200:
                        raise RuntimeError(f"{agent.name}: members answered {status}")

            try:
                await asyncio.gather(*(worker(c, k) for c, k in zip(conns, share, strict=True)))
            finally:
                for conn in conns:
                    conn.close()

        running = [a for a in self._agents() if a.running]
        for result in self._run(_gather(*(agent_load(a) for a in running))):
            if isinstance(result, BaseException):
                raise RuntimeError(f"members burst failed: {result!r}")

    def pick_victim(self, candidate: str, names: Sequence[str]) -> str:
        """``candidate`` unless it leads raft, else the next non-seed agent (wrapping)."""
        if candidate != self.leader:
            return candidate
        others = list(names[1:])
        return others[(others.index(candidate) + 1) % len(others)]

    def kill(self, name: str) -> None:
        self[name].kill()
        self.conns[name].close()


# ----------------------------------------------------------------------------- serf agents


class SerfSide:
    """N ``serf agent -profile=lan`` processes on 127.0.0.1, driven over RPC."""

    label = "serf"

    def __init__(self, *, poll_interval: float, log_level: str, keep_logs: bool) -> None:
        self.poll_interval = poll_interval
        self.log_level = log_level
        self.keep_logs = keep_logs
        self.cluster: SerfCluster | None = None
        self.info: dict[str, Any] = {}
        self._joins: list[tuple[Any, int]] = []

    def _c(self) -> SerfCluster:
        if self.cluster is None:
            raise RuntimeError("cluster not started")
        return self.cluster

    def pids(self) -> dict[str, int]:
        return {a.name: a.pid for a in self._c().agents if a.running() and a.pid is not None}

    def describe(self) -> str:
        c = self._c()
        return shlex.join(c._command(c.agents[0]))

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None:
        self.cluster = SerfCluster(
            len(names), profile="lan", log_level=self.log_level, keep_logs=self.keep_logs
        )
        try:
            self.cluster.start(gaps)
        except BaseException:
            self.cluster.stop()
            raise

    def close(self) -> None:
        if self.cluster is not None:
            if self.keep_logs:
                print(f"  serf: logs kept in {self.cluster.workdir}", file=sys.stderr)
            self.cluster.stop()
            self.cluster = None

    def join_all(self, names: Sequence[str], concurrent: bool) -> None:
        """Agents 2..N join n1 over RPC: pipelined sends (the members polls of ``wait_for``
        queue behind each join on its connection), or one after another."""
        c = self._c()
        seed = c[names[0]]
        body = {"Existing": [seed.address], "Replay": False}
        self._joins = []
        for name in names[1:]:
            agent = c[name]
            if concurrent:
                self._joins.append((agent, agent.rpc.send("join", body)))
            else:
                agent.rpc.join([seed.address])

    def finish_joins(self) -> None:
        for agent, seq in self._joins:
            reply = agent.rpc.result(seq, timeout=30.0)
            if int(reply["Num"]) < 1:
                raise RuntimeError(f"serf {agent.name}: join reached no one")
        self._joins = []

    def wait_for(
        self, observers: Sequence[str], predicate: Predicate, *, timeout: float, what: str
    ) -> dict[str, float]:
        c = self._c()
        return c.wait_for(
            [c[name] for name in observers],
            predicate,
            timeout=timeout,
            poll_interval=self.poll_interval,
            what=what,
        )

    def steady(self) -> dict[str, Any]:
        return {}

    def load(self, requests: int) -> None:
        """``requests`` RPC ``members`` calls per agent (the twin of the HTTP burst)."""
        for agent in self._c().running():
            for _ in range(requests):
                agent.rpc.members()

    def pick_victim(self, candidate: str, names: Sequence[str]) -> str:
        return candidate

    def kill(self, name: str) -> None:
        self._c()[name].kill()


class Side(Protocol):
    label: str
    info: dict[str, Any]

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None: ...
    def close(self) -> None: ...
    def pids(self) -> dict[str, int]: ...
    def describe(self) -> str: ...
    def join_all(self, names: Sequence[str], concurrent: bool) -> None: ...
    def finish_joins(self) -> None: ...
    def wait_for(
        self, observers: Sequence[str], predicate: Predicate, *, timeout: float, what: str
    ) -> dict[str, float]: ...
    def steady(self) -> dict[str, Any]: ...
    def load(self, requests: int) -> None: ...
    def pick_victim(self, candidate: str, names: Sequence[str]) -> str: ...
    def kill(self, name: str) -> None: ...


# ----------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class Plan:
    settle: float = 2.0
    jitter: float = 1.0
    idle_settle: float = 5.0
    idle_seconds: float = 25.0
    load_requests: int = 200
    concurrent_join: bool = True
    join_timeout: float = 120.0
    crash_timeout: float = 120.0


@dataclass
class SideResults:
    join: list[float] = field(default_factory=list)
    detect: list[float] = field(default_factory=list)
    detect_first: list[float] = field(default_factory=list)
    victims: list[str] = field(default_factory=list)
    loadavg: list[float] = field(default_factory=list)
    """1-minute load average at the end of each run (the machine may be shared)."""
    idle: dict[str, Any] = field(default_factory=dict)
    command: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "join_s": self.join,
            "detect_s": self.detect,
            "detect_first_s": self.detect_first,
            "victims": self.victims,
            "loadavg_1m": self.loadavg,
            "idle": self.idle,
            "command": self.command,
        }


def measure_idle(side: Side, plan: Plan) -> dict[str, Any]:
    """CPU over ``plan.idle_seconds`` of quiet, then RSS, then RSS after a read burst."""
    info = dict(side.steady())
    time.sleep(plan.idle_settle)  # let join broadcasts and raft's catch-up die down
    pids = side.pids()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    switches = {name: context_switches(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    time.sleep(plan.idle_seconds)  # the measurement window: nothing polls the agents
    wall = time.monotonic() - t0
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cpu = {name: round((after[name] - before[name]) / wall * 100, 3) for name in pids}
    wakeups = {
        name: round((context_switches(pid) - switches[name]) / wall, 1)
        for name, pid in pids.items()
    }
    rss_idle = {name: round(memory_mib(pid)["VmRSS"], 2) for name, pid in pids.items()}
    started = time.monotonic()
    side.load(plan.load_requests)
    load_wall = time.monotonic() - started
    loaded = {name: memory_mib(pid) for name, pid in pids.items()}
    return {
        **info,
        "window_s": round(wall, 3),
        "cpu_pct": cpu,
        "wakeups_per_s": wakeups,
        "rss_idle_mib": rss_idle,
        "rss_loaded_mib": {name: round(m["VmRSS"], 2) for name, m in loaded.items()},
        "hwm_mib": {name: round(m["VmHWM"], 2) for name, m in loaded.items()},
        "load_requests": plan.load_requests,
        "load_wall_s": round(load_wall, 3),
    }


def run_once(
    side: Side, n: int, plan: Plan, schedule_seed: int, *, idle: bool, results: SideResults
) -> str:
    """One fresh cluster: join, (idle), crash. Appends to ``results``; returns a summary."""
    names = [f"n{i}" for i in range(1, n + 1)]
    rng = random.Random(schedule_seed)
    offsets = sorted(rng.uniform(0.0, plan.jitter) for _ in range(n - 1))
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    candidate = rng.choice(names[1:])
    side.start(names, gaps)
    try:
        results.command = results.command or side.describe()
        time.sleep(rng.uniform(0.0, plan.jitter))
        t0 = time.monotonic()
        side.join_all(names, plan.concurrent_join)
        seen = side.wait_for(
            names, all_alive(names), timeout=plan.join_timeout, what=f"join of {n}"
        )
        join = max(seen.values()) - t0
        side.finish_joins()
        results.join.append(round(join, 4))
        brief = f"join={join:.2f}s"
        if idle:
            results.idle = measure_idle(side, plan)
            cpu = results.idle["cpu_pct"].values()
            brief += (
                f" idle-cpu={statistics.mean(cpu):.2f}%/{max(cpu):.2f}% "
                f"rss={statistics.mean(results.idle['rss_loaded_mib'].values()):.1f}MiB"
            )
            # Nothing may have failed while nobody watched.
            side.wait_for(names, all_alive(names), timeout=10.0, what="all alive after idle")
        time.sleep(plan.settle + rng.uniform(0.0, plan.jitter))
        victim = side.pick_victim(candidate, names)
        survivors = [name for name in names if name != victim]
        t0 = time.monotonic()
        side.kill(victim)
        seen = side.wait_for(
            survivors,
            status_is(victim, "failed"),
            timeout=plan.crash_timeout,
            what=f"{victim} failed",
        )
        results.detect.append(round(max(seen.values()) - t0, 4))
        results.detect_first.append(round(min(seen.values()) - t0, 4))
        results.victims.append(victim)
        results.loadavg.append(round(os.getloadavg()[0], 2))
        brief += f" kill {victim}: failed everywhere={results.detect[-1]:.2f}s"
        brief += f" first={results.detect_first[-1]:.2f}s"
        return brief
    finally:
        side.close()


# ----------------------------------------------------------------------------- reporting


def _spread(values: Sequence[float], unit: str = "") -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.2f}{unit}"
    return f"{med:.2f} [{min(values):.2f}-{max(values):.2f}]{unit}"


def _mean_max(values: Iterable[float], digits: int = 2) -> str:
    vals = list(values)
    if not vals:
        return "-"
    return f"{statistics.mean(vals):.{digits}f} (max {max(vals):.{digits}f})"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.2f}"


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(mapping: Mapping[str, float] | None) -> float | None:
    return statistics.mean(mapping.values()) if mapping else None


def table(results: Mapping[int, Mapping[str, SideResults]], sizes: Sequence[int]) -> str:
    rows = [
        "| N | metric | ours | serf | ours/serf | goal |",
        "|---|---|---|---|---|---|",
    ]
    empty = SideResults()
    for n in sizes:
        ours = results.get(n, {}).get("ours", empty)
        serf = results.get(n, {}).get("serf", empty)

        def row(metric: str, a: str, b: str, ratio: str, goal: str = "", n: int = n) -> None:
            rows.append(f"| {n} | {metric} | {a} | {b} | {ratio} | {goal} |")

        row(
            "join convergence, s",
            _spread(ours.join),
            _spread(serf.join),
            _ratio(_median(ours.join), _median(serf.join)),
        )
        ratio = _ratio(_median(ours.detect), _median(serf.detect))
        goal = "within 25%"
        if ratio != "-":
            ok = abs(float(ratio) - 1.0) <= DETECTION_TOLERANCE
            goal += ": ok" if ok else f": MISSED ({(float(ratio) - 1) * 100:+.0f}%)"
        row(
            "kill -9 to `failed` everywhere, s",
            _spread(ours.detect),
            _spread(serf.detect),
            ratio,
            goal,
        )
        row(
            "kill -9 to `failed` on the first, s",
            _spread(ours.detect_first),
            _spread(serf.detect_first),
            _ratio(_median(ours.detect_first), _median(serf.detect_first)),
        )
        oc, sc = ours.idle.get("cpu_pct"), serf.idle.get("cpu_pct")
        ratio = _ratio(_mean(oc), _mean(sc))
        goal = f"<= {CPU_RATIO_GOAL:g}x"
        if ratio != "-":
            goal += ": ok" if float(ratio) <= CPU_RATIO_GOAL else ": MISSED"
        row(
            "idle CPU per agent, % of a core, mean (max)",
            _mean_max(oc.values()) if oc else "-",
            _mean_max(sc.values()) if sc else "-",
            ratio,
            goal,
        )
        leader = ours.idle.get("leader")
        if oc and leader in oc and len(oc) > 1:
            followers = [v for k, v in oc.items() if k != leader]
            row(
                f"idle CPU, ours: raft leader {leader} / followers mean",
                f"{oc[leader]:.2f} / {statistics.mean(followers):.2f}",
                "-",
                _ratio(statistics.mean(followers), _mean(sc)),
                "followers vs serf",
            )
        ow, sw = ours.idle.get("wakeups_per_s"), serf.idle.get("wakeups_per_s")
        oc_mean, ow_mean, sc_mean, sw_mean = _mean(oc), _mean(ow), _mean(sc), _mean(sw)
        row(
            "idle wake-ups per agent per s (context switches), mean; CPU per wake-up",
            f"{ow_mean:.0f}; {oc_mean / ow_mean * 1e4:.0f} µs" if oc_mean and ow_mean else "-",
            f"{sw_mean:.0f}; {sc_mean / sw_mean * 1e4:.0f} µs" if sc_mean and sw_mean else "-",
            _ratio(ow_mean, sw_mean),
        )
        ri, si = ours.idle.get("rss_idle_mib"), serf.idle.get("rss_idle_mib")
        row(
            "RSS per agent idle, MiB, mean (max)",
            _mean_max(ri.values(), 1) if ri else "-",
            _mean_max(si.values(), 1) if si else "-",
            _ratio(_mean(ri), _mean(si)),
            _rss_goal(ri, RSS_IDLE_GOAL_MIB),
        )
        rl, sl = ours.idle.get("rss_loaded_mib"), serf.idle.get("rss_loaded_mib")
        requests = ours.idle.get("load_requests") or serf.idle.get("load_requests") or 0
        row(
            f"RSS per agent after {requests} members reads, MiB, mean (max)",
            _mean_max(rl.values(), 1) if rl else "-",
            _mean_max(sl.values(), 1) if sl else "-",
            _ratio(_mean(rl), _mean(sl)),
            _rss_goal(rl, RSS_LOADED_GOAL_MIB),
        )
    return "\n".join(rows)


def _rss_goal(rss: dict[str, float] | None, limit: float) -> str:
    """The goal cell for an RSS row: every one of our agents under `limit` MiB."""
    goal = f"ours < {limit:.0f} MiB"
    if rss:
        goal += ": ok" if max(rss.values()) < limit else ": MISSED"
    return goal


# ----------------------------------------------------------------------------- main


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Our agents against real serf agents on loopback: crash detection, "
        "join convergence, idle CPU and RSS per agent.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--sizes", type=_int_list, default=list(DEFAULT_SIZES), help="cluster sizes")
    p.add_argument("--runs", type=int, default=3, help="fresh clusters per size and side")
    p.add_argument(
        "--idle-seconds", type=float, default=25.0, help="CPU sampling window (first run only)"
    )
    p.add_argument(
        "--idle-settle", type=float, default=5.0, help="quiet seconds before the CPU window"
    )
    p.add_argument(
        "--load-requests", type=int, default=200, help="members reads per agent before RSS"
    )
    p.add_argument("--settle", type=float, default=2.0, help="quiet seconds before the kill")
    p.add_argument(
        "--jitter",
        type=float,
        default=1.0,
        help="agents start at random offsets within this many seconds; joins and the kill "
        "come up to this much later (spreads timer phases)",
    )
    p.add_argument("--poll-interval", type=float, default=0.05, help="members poll period, s")
    p.add_argument(
        "--join",
        choices=("concurrent", "sequential"),
        default="concurrent",
        help="issue the N-1 joins all at once, or one after another (as bench/fidelity.py)",
    )
    p.add_argument("--base-ip", default="127.0.1.1", help="our agent k listens on base + k - 1")
    p.add_argument("--bootstrap-expect", type=int, default=3, help="our servers' -bootstrap-expect")
    p.add_argument("--log-level", default="WARN", help="our agents' -log-level")
    p.add_argument("--serf-log-level", default="warn", help="serf agents' -log-level")
    p.add_argument("--seed", type=int, default=1, help="schedule seed (offsets, victims)")
    p.add_argument("--json", type=Path, help="write raw numbers, table and metadata here")
    p.add_argument("--keep-logs", action="store_true", help="keep agent logs")
    sides = p.add_mutually_exclusive_group()
    sides.add_argument("--skip-serf", action="store_true", help="run our agents only")
    sides.add_argument("--skip-ours", action="store_true", help="run serf agents only")
    args = p.parse_args(argv)
    if any(n < 2 for n in args.sizes):
        p.error("every size must be at least 2 (one agent is killed)")
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through every side's close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("bench/cluster.py reads /proc: Linux only", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must unwind (and stop the agents) even if a non-interactive shell started us
    # with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    plan = Plan(
        settle=args.settle,
        jitter=args.jitter,
        idle_settle=args.idle_settle,
        idle_seconds=args.idle_seconds,
        load_requests=args.load_requests,
        concurrent_join=args.join == "concurrent",
    )
    errors: list[str] = []
    notes: list[str] = []
    labels: list[str] = []
    if not args.skip_ours:
        labels.append("ours")
    if not args.skip_serf:
        if serf_binary() is None:
            notes.append("serf not found: install it with `apt-get install -y serf`; ours only")
            print(notes[-1], file=sys.stderr)
        else:
            labels.append("serf")
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "serf_version": serf_version() if "serf" in labels else None,
        "sizes": args.sizes,
        "runs": args.runs,
        "profile": "lan",
        "join": args.join,
        "poll_interval_s": args.poll_interval,
        "settle_s": plan.settle,
        "jitter_s": plan.jitter,
        "idle_settle_s": plan.idle_settle,
        "idle_seconds": plan.idle_seconds,
        "load_requests": plan.load_requests,
        "bootstrap_expect": args.bootstrap_expect,
        "base_ip": args.base_ip,
        "seed": args.seed,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    results: dict[int, dict[str, SideResults]] = {}

    def make(label: str) -> Side:
        if label == "ours":
            return OursSide(
                base_ip=args.base_ip,
                poll_interval=args.poll_interval,
                log_level=args.log_level,
                keep_logs=args.keep_logs,
                bootstrap_expect=args.bootstrap_expect,
            )
        return SerfSide(
            poll_interval=args.poll_interval,
            log_level=args.serf_log_level,
            keep_logs=args.keep_logs,
        )

    started_all = time.monotonic()
    for n in args.sizes:
        per = results.setdefault(n, {label: SideResults() for label in labels})
        for run in range(1, args.runs + 1):
            for label in labels:  # alternate sides so load drift hits both
                side = make(label)
                started = time.monotonic()
                idle = not per[label].idle
                try:
                    brief = run_once(
                        side,
                        n,
                        plan,
                        schedule_seed=args.seed * 100_000 + n * 1000 + run,
                        idle=idle,
                        results=per[label],
                    )
                except (
                    TimeoutError,
                    RuntimeError,
                    OSError,
                    SerfConnectionError,
                    SerfRPCError,
                    SupervisorError,
                    ValueError,
                ) as exc:
                    errors.append(f"{label} N={n} run {run}: {type(exc).__name__}: {exc}")
                    print(f"{label:4} N={n} run {run}/{args.runs}: FAILED {exc}", file=sys.stderr)
                    continue
                took = time.monotonic() - started
                print(
                    f"{label:4} N={n} run {run}/{args.runs} ({took:.0f}s, load "
                    f"{os.getloadavg()[0]:.1f}): {brief}",
                    file=sys.stderr,
                    flush=True,
                )
    meta["wall_s"] = round(time.monotonic() - started_all, 1)
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    notes.append(
        f"times: polls every {args.poll_interval * 1e3:g} ms, so each carries up to one poll "
        "interval (+ the round's latency) of lag; median [min-max] over runs"
    )
    notes.append(
        "ours are Nomad servers (raft over the RPC port, bootstrap-expect "
        f"{args.bootstrap_expect}, every agent a server); serf agents run no raft"
    )
    rendered = table(results, args.sizes)
    print(rendered)
    for n in args.sizes:
        info = results.get(n, {}).get("ours")
        if info and info.idle:
            peers = sorted(set(info.idle.get("raft_peers", {}).values()))
            notes.append(
                f"N={n} ours: raft leader {info.idle.get('leader')}, every agent healthy "
                f"{info.idle.get('leader_wait_s')} s after join convergence, raft peers {peers}"
            )
    for note in notes:
        print(f"note: {note}")
    for error in errors:
        print(f"error: {error}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "meta": {**meta, "notes": notes, "errors": errors},
            "results": {
                str(n): {label: r.to_json() for label, r in per.items()}
                for n, per in results.items()
            },
            "table": rendered,
        }
        args.json.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # agents were already stopped while unwinding
        print("interrupted", file=sys.stderr)
        sys.exit(130)
