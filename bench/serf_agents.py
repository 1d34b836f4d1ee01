"""Run real HashiCorp ``serf`` agents on loopback and drive them over serf's msgpack RPC.

Why this exists: ``bench/fidelity.py`` checks the simulator's timings against the real
thing, and ``tests/e2e`` checks interop against it. Both need many agents at once (up to 50
on a 2-core machine), polled every few tens of milliseconds. Spawning the ``serf`` CLI for
each poll costs ~10 ms of process start per call, so this module speaks the agent's RPC
protocol itself, over one persistent TCP connection per agent.

The RPC protocol (serf ``cmd/serf/command/agent/ipc.go``, client ``client/rpc_client.go``):

* Every message is a bare msgpack object on the TCP stream, no framing. A request is a
  header map ``{"Command": str, "Seq": int}`` followed, for commands that take arguments, by
  a body map. A response is a header ``{"Seq": int, "Error": str}`` followed, for commands
  that return data (``join``, ``members``, ``stats``), by a body.
* ``handshake`` with ``{"Version": 1}`` must come first on each connection.
* Responses on one connection come back in request order, except event ``stream`` records,
  which arrive whenever the agent has one, each as a header carrying the stream's ``Seq``
  plus a record (``{"Event": "member-join", "Members": [...]}``). ``SerfRPC`` demultiplexes
  by ``Seq``, so requests can be pipelined: send ``members`` to 50 agents, then read the 50
  answers.
* ``leave`` answers after the graceful leave (about 1-2 s on a LAN profile) and the agent then
  shuts down and exits.

Timing caveat: the serf agent coalesces member events for 1-3 s before its event handlers,
RPC ``stream`` included, see them (``CoalescePeriod``/``QuiescentPeriod`` in the agent's
command.go). Member *status* is not delayed, so timings must come from polling ``members``
(``SerfCluster.wait_for``), never from the event stream.

Processes: agents run in their own process group (Ctrl-C in the terminal does not reach
them), get SIGKILL from the kernel if this Python process dies (``PR_SET_PDEATHSIG`` on Linux),
are stopped by PID (SIGTERM, then SIGKILL) on ``SerfCluster`` exit and on any exception, and
are SIGKILLed at interpreter exit if still running (``agent.processes.child``, which spawns
them, does that for every child). Only 127.0.0.0/8 addresses are accepted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import msgpack

from agent.processes.child import log_tail, spawn

__all__ = [
    "IPC_VERSION",
    "SerfAgent",
    "SerfCluster",
    "SerfConnectionError",
    "SerfRPC",
    "SerfRPCError",
    "WaitTimeout",
    "serf_binary",
    "serf_version",
]

IPC_VERSION = 1
"""The only IPC version serf's agent speaks (``MinIPCVersion == MaxIPCVersion == 1``)."""

STATUSES = ("alive", "leaving", "left", "failed")
"""Member status strings as serf's RPC ``members`` reports them."""

_RECV_CHUNK = 65536
"""Bytes per ``recv``; a 50-member ``members`` answer is ~10 KB."""

_PORT_RANGE = (20000, 32000)
"""Ports are drawn below Linux's default ephemeral range (32768-60999) so that outgoing
connections of other programs do not collide with an agent about to bind."""


class SerfRPCError(RuntimeError):
    """The agent answered a request with a non-empty ``Error`` field."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"serf RPC {command!r} failed: {message}")
        self.command = command
        self.message = message


class SerfConnectionError(ConnectionError):
    """The RPC connection closed or timed out (e.g. the agent was killed or left)."""


class WaitTimeout(TimeoutError):
    """``SerfCluster.wait_for`` ran past its deadline; carries the last statuses seen."""

    def __init__(self, what: str, pending: Mapping[str, Mapping[str, str]]) -> None:
        lines = [f"{name}: {dict(sorted(statuses.items()))}" for name, statuses in pending.items()]
        super().__init__(f"timed out waiting for {what}; still pending:\n  " + "\n  ".join(lines))
        self.pending = dict(pending)


def _require_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"only loopback addresses are allowed, got {host!r}")


# ----------------------------------------------------------------------------- RPC client


@dataclass
class _Pending:
    command: str
    has_body: bool


class SerfRPC:
    """One RPC connection to one serf agent: handshake, pipelined requests, event streams.

    Not thread-safe; use one instance per thread.
    """

    # Commands whose successful response carries a body after the header.
    _BODY_COMMANDS = frozenset({"join", "members", "members-filtered", "stats", "get-coordinate"})

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        _require_loopback(host)
        self.address = (host, port)
        self.timeout = timeout
        self._seq = itertools.count()
        self._pending: dict[int, _Pending] = {}
        self._ready: dict[int, Any] = {}
        self._streams: dict[int, list[dict[str, Any]]] = {}
        # Go's codec writes []byte (member Addr) as msgpack bin; strings are UTF-8 but keep
        # odd bytes rather than fail a whole poll on one.
        self._unpacker = msgpack.Unpacker(raw=False, unicode_errors="surrogateescape")
        try:
            self._sock = socket.create_connection(self.address, timeout=timeout)
        except OSError as exc:
            raise SerfConnectionError(f"cannot connect to serf RPC {host}:{port}: {exc}") from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._closed = False
        self.call("handshake", {"Version": IPC_VERSION})

    # -- plumbing

    def close(self) -> None:
        """Close the socket; pending requests are dropped."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                self._sock.close()

    def __enter__(self) -> SerfRPC:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, command: str, body: Mapping[str, Any] | None = None) -> int:
        """Send one request without waiting; returns its sequence number for ``result``."""
        if self._closed:
            raise SerfConnectionError(f"RPC connection to {self.address} is closed")
        seq = next(self._seq)
        data = msgpack.packb({"Command": command, "Seq": seq}, use_bin_type=False)
        if body is not None:
            data += msgpack.packb(dict(body), use_bin_type=False)
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise SerfConnectionError(f"send to {self.address} failed: {exc}") from exc
        self._pending[seq] = _Pending(command, command in self._BODY_COMMANDS)
        return seq

    def result(self, seq: int, timeout: float | None = None) -> Any:
        """Wait for the response to ``seq``; returns its body (``None`` if it has none).

        Raises:
            SerfRPCError: the agent reported an error.
            SerfConnectionError: the connection closed or ``timeout`` passed.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while seq not in self._ready:
            if seq not in self._pending:
                raise KeyError(f"no request with seq {seq} is outstanding")
            self._read_one(deadline)
        outcome = self._ready.pop(seq)
        if isinstance(outcome, SerfRPCError):
            raise outcome
        return outcome

    def call(self, command: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send one request and wait for its answer."""
        return self.result(self.send(command, body))

    def _next_object(self, deadline: float) -> Any:
        while True:
            try:
                return next(self._unpacker)
            except StopIteration:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SerfConnectionError(f"timed out reading from serf RPC {self.address}")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(_RECV_CHUNK)
            except TimeoutError as exc:
                raise SerfConnectionError(
                    f"timed out reading from serf RPC {self.address}"
                ) from exc
            except OSError as exc:
                self.close()
                raise SerfConnectionError(f"read from {self.address} failed: {exc}") from exc
            if not chunk:
                self.close()
                raise SerfConnectionError(f"serf RPC {self.address} closed the connection")
            self._unpacker.feed(chunk)

    def _read_one(self, deadline: float) -> None:
        """Read one response (header plus body if any) and file it under its Seq."""
        header = self._next_object(deadline)
        if not isinstance(header, dict) or "Seq" not in header:
            self.close()
            raise SerfConnectionError(f"unexpected RPC header from {self.address}: {header!r}")
        seq = int(header["Seq"])
        error = header.get("Error") or ""
        if seq in self._streams:
            # An event-stream record (or the stream's own ack, which has no body).
            pending = self._pending.pop(seq, None)
            if pending is not None:
                self._ready[seq] = SerfRPCError(pending.command, error) if error else None
                return
            self._streams[seq].append(self._next_object(deadline))
            return
        pending = self._pending.pop(seq, None)
        if pending is None:
            self.close()
            raise SerfConnectionError(f"RPC response for unknown seq {seq} from {self.address}")
        if error:
            # Errors carry no body, except join/force-leave which still send one.
            if pending.command == "join":
                self._next_object(deadline)
            self._ready[seq] = SerfRPCError(pending.command, error)
            return
        self._ready[seq] = self._next_object(deadline) if pending.has_body else None

    # -- commands

    def members(self) -> list[dict[str, Any]]:
        """All members this agent knows, any status (RPC ``members``)."""
        return list(self.call("members")["Members"])

    def statuses(self) -> dict[str, str]:
        """``{member name: status}`` as this agent sees it."""
        return {m["Name"]: m["Status"] for m in self.members()}

    def join(self, addresses: Sequence[str], *, replay: bool = False) -> int:
        """Join via the given ``ip:port`` addresses; returns how many push-pulls worked."""
        reply = self.call("join", {"Existing": list(addresses), "Replay": replay})
        return int(reply["Num"])

    def leave(self) -> None:
        """Graceful leave; the agent shuts down and exits afterwards."""
        self.call("leave")

    def force_leave(self, node: str, *, prune: bool = False) -> None:
        """Force ``node`` into ``left`` (RemoveFailedNode; ``prune`` erases it at once)."""
        body: dict[str, Any] = {"Node": node}
        if prune:
            body["Prune"] = True
        self.call("force-leave", body)

    def stats(self) -> dict[str, Any]:
        """The agent's ``stats`` map (sections ``agent``, ``serf``, ``runtime``...)."""
        return dict(self.call("stats"))

    def stream(self, event_filter: str = "member-join,member-leave,member-failed") -> int:
        """Subscribe to events (serf filter syntax, ``*`` for all); returns the stream id.

        Member events reach RPC streams only after the agent's 1-3 s coalescing, see the
        module docstring: use them to observe *what* happened, not *when*.
        """
        seq = self.send("stream", {"Type": event_filter})
        self._streams[seq] = []
        try:
            self.result(seq)
        except BaseException:
            self._streams.pop(seq, None)
            raise
        return seq

    def stream_events(self, stream_id: int, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Records received so far on ``stream_id``; waits up to ``timeout`` for a first one."""
        records = self._streams[stream_id]
        deadline = time.monotonic() + timeout
        while not records and time.monotonic() < deadline:
            try:
                self._read_one(deadline)
            except SerfConnectionError:
                if self._closed:
                    raise
                break
        out = list(records)
        records.clear()
        return out

    def stop_stream(self, stream_id: int) -> None:
        """Unsubscribe (RPC ``stop``)."""
        self.call("stop", {"Stop": stream_id})
        self._streams.pop(stream_id, None)


# ----------------------------------------------------------------------------- processes


def serf_binary(name: str = "serf") -> str | None:
    """Path of the serf executable, or None (install with ``apt-get install -y serf``)."""
    return shutil.which(name)


def serf_version(binary: str = "serf") -> str:
    """First line of ``serf version`` (Debian bookworm: ``0.8.2-dev``)."""
    out = subprocess.run([binary, "version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[0]


class _PortAllocator:
    """Hands out ports free for TCP+UDP (memberlist binds both on one port), never twice."""

    def __init__(self, host: str) -> None:
        self.host = host
        lo, hi = _PORT_RANGE
        self._next = random.Random(os.getpid()).randrange(lo, hi)
        self._given: set[int] = set()

    def _free(self, port: int) -> bool:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind((self.host, port))
                except OSError:
                    return False
        return True

    def take(self) -> int:
        lo, hi = _PORT_RANGE
        for _ in range(hi - lo):
            port = self._next
            self._next = lo + (self._next + 1 - lo) % (hi - lo)
            if port not in self._given and self._free(port):
                self._given.add(port)
                return port
        raise RuntimeError("no free loopback port left")


_ALLOCATORS: dict[str, _PortAllocator] = {}


def _allocate_port(host: str) -> int:
    return _ALLOCATORS.setdefault(host, _PortAllocator(host)).take()


@dataclass
class SerfAgent:
    """One ``serf agent`` process and its RPC connection."""

    name: str
    host: str
    port: int
    rpc_port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    client: SerfRPC | None = None
    started_at: float = 0.0

    @property
    def address(self) -> str:
        """Gossip address as ``ip:port`` (what ``join`` takes)."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def rpc(self) -> SerfRPC:
        """The live RPC client; raises if the agent was stopped or never connected."""
        if self.client is None or self.client.closed:
            raise SerfConnectionError(f"agent {self.name} has no open RPC connection")
        return self.client

    def open_rpc(self) -> SerfRPC:
        """A second RPC connection, for a command that blocks (``leave``, ``force-leave``)
        while the main connection keeps polling: the agent answers one connection's
        requests strictly in order."""
        return SerfRPC(self.host, self.rpc_port)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to this agent's PID (no-op if it already exited)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: a crash, no leave message. Waits for the process to be gone."""
        self.signal(signal.SIGKILL)
        self.wait(timeout=10.0)

    def wait(self, timeout: float) -> bool:
        """Wait for exit; True if the process is gone. Closes the RPC client when it is."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        if self.client is not None:
            self.client.close()
        return True

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.log_path, lines)


class SerfCluster:
    """N serf agents on loopback, named ``{prefix}1..{prefix}N``; a context manager.

    ``start()`` spawns them and connects RPC (they are not joined yet); ``join_all()`` joins
    agent k to agent 1 for every k; ``stop()`` (also on ``__exit__``) ends every process.
    """

    def __init__(
        self,
        n: int,
        *,
        host: str = "127.0.0.1",
        profile: str = "lan",
        log_level: str = "info",
        binary: str = "serf",
        prefix: str = "n",
        workdir: str | Path | None = None,
        keep_logs: bool = False,
        extra_args: Sequence[str] = (),
        start_timeout: float = 20.0,
    ) -> None:
        if n < 1:
            raise ValueError("need at least one agent")
        _require_loopback(host)
        path = serf_binary(binary)
        if path is None:
            raise FileNotFoundError(
                f"{binary!r} not found on PATH; install it with: apt-get install -y serf"
            )
        self.binary = path
        self.n = n
        self.host = host
        self.profile = profile
        self.log_level = log_level
        self.prefix = prefix
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.keep_logs = keep_logs or workdir is not None
        self._own_dir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="serf-agents-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.agents: list[SerfAgent] = []
        self._log_files: list[Any] = []

    # -- lifecycle

    def __enter__(self) -> SerfCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __iter__(self) -> Iterator[SerfAgent]:
        return iter(self.agents)

    def __getitem__(self, name: str) -> SerfAgent:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def _command(self, agent: SerfAgent) -> list[str]:
        return [
            self.binary,
            "agent",
            f"-node={agent.name}",
            f"-bind={agent.host}:{agent.port}",
            f"-rpc-addr={agent.host}:{agent.rpc_port}",
            f"-profile={self.profile}",
            f"-log-level={self.log_level}",
            *self.extra_args,
        ]

    def start(self, spawn_gaps: Sequence[float] = ()) -> None:
        """Spawn every agent, then connect and handshake RPC to each (polled, with deadline).

        ``spawn_gaps[k]`` seconds pass between spawning agent k+1 and agent k+2. memberlist
        creates its probe and gossip tickers when the agent starts, and its "random stagger"
        only delays the first receive from an already-running ticker, so an agent's timer
        phase is fixed by its start time. Agents spawned back to back therefore tick almost
        in step; random gaps give each its own phase, as in a real cluster.
        """
        gaps = list(spawn_gaps)
        if gaps and len(gaps) != self.n - 1:
            raise ValueError(f"need {self.n - 1} spawn gaps, got {len(gaps)}")
        for i in range(1, self.n + 1):
            if gaps and i > 1 and gaps[i - 2] > 0:
                time.sleep(gaps[i - 2])  # start-time spread, see above
            name = f"{self.prefix}{i}"
            agent = SerfAgent(
                name=name,
                host=self.host,
                port=_allocate_port(self.host),
                rpc_port=_allocate_port(self.host),
                log_path=self.workdir / f"{name}.log",
            )
            self.agents.append(agent)
            self._spawn(agent)
        deadline = time.monotonic() + self.start_timeout
        for agent in self.agents:
            self._connect(agent, deadline)

    def _spawn(self, agent: SerfAgent) -> None:
        log = agent.log_path.open("ab")
        self._log_files.append(log)
        agent.proc = spawn(self._command(agent), log, death_signal=signal.SIGKILL)
        agent.started_at = time.monotonic()

    def _connect(self, agent: SerfAgent, deadline: float) -> None:
        while True:
            if not agent.running():
                raise RuntimeError(
                    f"serf agent {agent.name} exited during start-up; log tail:\n"
                    + agent.log_tail()
                )
            try:
                agent.client = SerfRPC(agent.host, agent.rpc_port)
                return
            except SerfConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # pacing of the readiness poll, not a correctness wait

    def restart(self, name: str) -> SerfAgent:
        """Fresh process for a stopped agent: same name and ports, not joined."""
        agent = self[name]
        if agent.running():
            raise RuntimeError(f"agent {name} is still running")
        self._spawn(agent)
        self._connect(agent, time.monotonic() + self.start_timeout)
        return agent

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM every agent, wait up to ``grace`` s in total, SIGKILL the rest. Idempotent."""
        for agent in self.agents:
            if agent.client is not None:
                agent.client.close()
            agent.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for agent in self.agents:
            if not agent.wait(timeout=max(0.0, deadline - time.monotonic())):
                agent.signal(signal.SIGKILL)
                agent.wait(timeout=10.0)
        for log in self._log_files:
            log.close()
        self._log_files.clear()
        if self._own_dir and not self.keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- operations

    def running(self) -> list[SerfAgent]:
        """Agents whose process is still running."""
        return [a for a in self.agents if a.running()]

    def join_all(self, seed: str | None = None) -> list[int]:
        """Agent k joins the seed (default: agent 1) for every other agent, one after another."""
        target = self[seed] if seed else self.agents[0]
        return [a.rpc.join([target.address]) for a in self.agents if a is not target]

    def poll(self, agents: Iterable[SerfAgent]) -> dict[str, tuple[float, dict[str, str]]]:
        """Pipelined ``members`` to every agent: ``{name: (time received, statuses)}``."""
        sent = [(a, a.rpc.send("members")) for a in agents]
        out: dict[str, tuple[float, dict[str, str]]] = {}
        for agent, seq in sent:
            body = agent.rpc.result(seq)
            out[agent.name] = (
                time.monotonic(),
                {m["Name"]: m["Status"] for m in body["Members"]},
            )
        return out

    def wait_for(
        self,
        agents: Iterable[SerfAgent],
        predicate: Callable[[dict[str, str]], bool],
        *,
        timeout: float,
        poll_interval: float = 0.025,
        what: str = "condition",
    ) -> dict[str, float]:
        """Poll until ``predicate(statuses)`` holds on every agent; stops polling each one
        once it holds there. Returns ``{agent name: time.monotonic() it was first seen}``.

        Raises:
            WaitTimeout: some agent still fails the predicate after ``timeout`` s.
        """
        pending = list(agents)
        seen: dict[str, float] = {}
        last: dict[str, dict[str, str]] = {}
        deadline = time.monotonic() + timeout
        while pending:
            round_start = time.monotonic()
            for name, (at, statuses) in self.poll(pending).items():
                last[name] = statuses
                if predicate(statuses):
                    seen[name] = at
            pending = [a for a in pending if a.name not in seen]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise WaitTimeout(what, {a.name: last.get(a.name, {}) for a in pending})
            # Pacing only: correctness comes from the predicate and the deadline.
            time.sleep(max(0.0, poll_interval - (time.monotonic() - round_start)))
        return seen
