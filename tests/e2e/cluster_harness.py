"""docker-compose.yml's five agents as separate processes on 127.0.0.11-15, for e2e tests.

Each agent runs as `python -m agent` from this checkout with `process_argv()` of its
`agent.processes.topology` spec (the compose command, host names swapped for loopback
addresses, its own data directory), output captured to `<name>.log`. Agents can be killed
(`kill -9`, SIGTERM) and started again with the same data dir, with the same argv or another.

Every wait is `Cluster.eventually`: it polls a check against a deadline, treats HTTP errors as
"not yet", fails with the last thing it saw, and fails at once if an agent that should be
running has exited. `Cluster.report()` is every agent's log; the fixtures print it at teardown
(pytest shows it when a test fails). Anything still running is SIGKILLed by PID at the end.

The addresses are fixed (those of `gossip-agent cluster`), so a cluster first takes an
exclusive lock file and waits for the ports to be free (`AddressClaim`): two pytest runs of
these tests at once take turns instead of starting agents on each other's ports.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from agent.processes.child import spawn
from agent.processes.topology import (
    AGENTS,
    CLIENTS,
    HTTP_PORT,
    LOOPBACK_IPS,
    RPC_PORT,
    SERF_PORT,
    SERVERS,
    AgentSpec,
)
from agent.processes.topology import process_argv as twin_argv

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.25
T = TypeVar("T")

SERVER_RPC = [f"{LOOPBACK_IPS[name]}:{RPC_PORT}" for name in SERVERS]
"""`127.0.0.11:4647`, `127.0.0.12:4647`, `127.0.0.13:4647`."""


def can_bind(ip: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((ip, 0))
    except OSError:
        return False
    return True


MISSING_IPS = [a.loopback_ip for a in AGENTS if not can_bind(a.loopback_ip)]


def ports_busy() -> list[str]:
    """The topology's ports something already holds (another cluster, or a stray agent):
    HTTP and RPC (tcp) everywhere, serf (tcp and udp) on the servers. As `gossip-agent
    cluster` checks them, with SO_REUSEADDR so sockets in TIME_WAIT do not count."""
    busy = []
    for spec in AGENTS:
        wanted = [(socket.SOCK_STREAM, HTTP_PORT), (socket.SOCK_STREAM, RPC_PORT)]
        if spec.role == "server":
            wanted += [(socket.SOCK_STREAM, SERF_PORT), (socket.SOCK_DGRAM, SERF_PORT)]
        for kind, port in wanted:
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((spec.loopback_ip, port))
                except OSError:
                    proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
                    busy.append(f"{spec.loopback_ip}:{port}/{proto}")
    return busy


LOCK_PATH = Path(tempfile.gettempdir()) / "gossip-agent-e2e-127.0.0.11-15.lock"
CLAIM_DEADLINE = 300.0


class AddressClaim:
    """127.0.0.11-15 for one cluster at a time, across processes: an exclusive `flock` on
    LOCK_PATH (other pytest runs of this file wait for it), then the ports free (which also
    waits out anything else there, e.g. test_cluster_command's cluster)."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None

    def acquire(self, deadline: float = CLAIM_DEADLINE) -> float:
        """Seconds waited. Raises AssertionError after `deadline` s."""
        start = time.monotonic()
        self._file = LOCK_PATH.open("ab")
        while True:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start > deadline:
                    self.release()
                    raise AssertionError(
                        f"{LOCK_PATH} still locked after {deadline:.0f} s: "
                        "another run of the cluster tests holds 127.0.0.11-15"
                    ) from None
                time.sleep(POLL)
        while busy := ports_busy():
            if time.monotonic() - start > deadline:
                self.release()
                raise AssertionError(
                    f"still in use after {deadline:.0f} s: {', '.join(busy)} "
                    "(another cluster or agent on 127.0.0.11-15?)"
                )
            time.sleep(POLL)
        return time.monotonic() - start

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # drops the flock
            self._file = None


def strip_joins(argv: Sequence[str]) -> list[str]:
    """`argv` without `-join`/`-retry-join` (and their values, inline or separate)."""
    out: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        flag, eq, _ = token.lstrip("-").partition("=")
        if token.startswith("-") and flag in ("join", "retry-join"):
            skip = not eq
            continue
        out.append(token)
    return out


def _agent_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOSSIP_AGENT_", "NOMAD_")) and not k.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class AgentProcess:
    """One agent of the topology: its argv, data dir and log, and its current process."""

    def __init__(self, spec: AgentSpec, base_dir: Path, extra: Sequence[str] = ()) -> None:
        self.spec = spec
        self.name = spec.name
        self.ip = spec.loopback_ip
        self.base = f"http://{self.ip}:4646"
        self.rpc = f"{self.ip}:{RPC_PORT}"
        self.member = f"{spec.name}.global"
        self.data_dir = base_dir / "data" / spec.name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = base_dir / "logs" / f"{spec.name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.argv = [*twin_argv(spec, LOOPBACK_IPS, self.data_dir), *extra]
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs: list[tuple[list[str], int | None]] = []
        """(argv, exit status) of every run so far, the current one last."""
        self._log: IO[bytes] | None = None
        self.expect_running = False

    def start(self, argv: Sequence[str] | None = None) -> None:
        assert not self.running(), f"{self.name} is already running"
        argv = list(self.argv if argv is None else argv)
        self.close_log()
        self._log = self.log_path.open("ab")
        banner = f"\n===== start: python -m agent {' '.join(argv)} =====\n"
        self._log.write(banner.encode())
        self._log.flush()
        self.proc = spawn(
            [sys.executable, "-m", "agent", *argv],
            self._log,
            env=_agent_env(),
            cwd=ROOT,
            death_signal=signal.SIGKILL,  # if the test process dies without its teardown
        )
        self.runs.append((argv, None))
        self.expect_running = True

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGKILL, timeout: float = 20.0) -> int | None:
        """Send `sig` and reap (SIGKILL after `timeout`); the exit status."""
        self.expect_running = False
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.runs[-1] = (self.runs[-1][0], self.proc.returncode)
        self.close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """`kill -9`: a crash, as `docker compose kill`."""
        self.stop(signal.SIGKILL)

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"


class Cluster:
    """The five agents (server1..3, client1..2) plus HTTP helpers and `eventually`."""

    def __init__(self, base_dir: Path, extra: Sequence[str] = ()) -> None:
        self.base_dir = base_dir
        self.agents = {spec.name: AgentProcess(spec, base_dir, extra) for spec in AGENTS}
        self.http = httpx.Client(trust_env=False, timeout=5.0)
        self.started = time.monotonic()
        self.claim = AddressClaim()
        self.waited_for_addresses = 0.0

    def __getitem__(self, name: str) -> AgentProcess:
        return self.agents[name]

    @property
    def servers(self) -> list[AgentProcess]:
        return [self.agents[name] for name in SERVERS]

    @property
    def clients(self) -> list[AgentProcess]:
        return [self.agents[name] for name in CLIENTS]

    def start(self) -> None:
        """Claim the addresses (waiting for other runs to finish), then start all five."""
        self.waited_for_addresses = self.claim.acquire()
        for agent in self.agents.values():
            agent.start()
        self.started = time.monotonic()

    def close(self) -> None:
        """SIGKILL every agent still running, reap it, release the addresses."""
        try:
            for agent in self.agents.values():
                agent.stop(signal.SIGKILL)
            self.http.close()
        finally:
            self.claim.release()

    def report(self) -> str:
        parts = []
        for agent in self.agents.values():
            runs = "; ".join(
                f"run {i + 1}: exit {code if code is not None else '(running)'}"
                for i, (_, code) in enumerate(agent.runs)
            )
            parts.append(f"===== {agent.name} ({agent.ip}) {runs} =====\n{agent.logs()}")
        return "\n".join(parts)

    # ---- HTTP ---------------------------------------------------------------------------

    def get(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(f"{self.agents[name].base}{path}", **kwargs)

    def put(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(f"{self.agents[name].base}{path}", **kwargs)

    def json(self, name: str, path: str) -> Any:
        response = self.get(name, path)
        assert response.status_code == 200, (
            f"{name} GET {path}: {response.status_code} {response.text}"
        )
        return response.json()

    def self_(self, name: str) -> dict[str, Any]:
        return self.json(name, "/v1/agent/self")

    def stats(self, name: str) -> dict[str, dict[str, str]]:
        return self.self_(name)["stats"]

    def statuses(self, name: str) -> dict[str, str]:
        """member name -> serf status, as `name`'s /v1/agent/members shows it."""
        return {m["Name"]: m["Status"] for m in self.json(name, "/v1/agent/members")["Members"]}

    def health(self, name: str, query: str = "") -> tuple[int, str]:
        response = self.get(name, f"/v1/agent/health{query}")
        return response.status_code, response.text

    def leader_view(self, names: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """name -> (leader_addr, leader flag, raft term) from each one's /v1/agent/self."""
        view = {}
        for name in names:
            stats = self.stats(name)
            view[name] = (
                stats["nomad"]["leader_addr"],
                stats["nomad"]["leader"],
                stats["raft"]["term"],
            )
        return view

    # ---- waiting ------------------------------------------------------------------------

    def check_running(self) -> None:
        for agent in self.agents.values():
            if agent.expect_running and not agent.running():
                code = agent.proc.returncode if agent.proc else None
                raise AssertionError(f"{agent.name} exited unexpectedly (status {code})")

    def eventually(
        self,
        check: Callable[[], T],
        what: str,
        deadline: float,
        *,
        show: Callable[[], object] | None = None,
    ) -> T:
        """Poll `check` until it returns something truthy (returned) or `deadline` passes.

        An `httpx.HTTPError`, `AssertionError`, `KeyError` or `ValueError` from `check` counts
        as "not yet" (the agent may still be starting); the last one, or the last value of
        `show()`, is in the failure message.
        """
        start = time.monotonic()
        end = start + deadline
        last: object = None
        while True:
            self.check_running()
            try:
                result = check()
            except (httpx.HTTPError, AssertionError, KeyError, ValueError) as exc:
                result, last = None, f"{type(exc).__name__}: {exc}"  # type: ignore[assignment]
            else:
                if result:
                    return result
                last = result
            if show is not None:
                with contextlib.suppress(Exception):
                    last = show()
            if time.monotonic() >= end:
                raise AssertionError(
                    f"timed out after {deadline:.0f} s waiting for {what}; last seen: "
                    + (json.dumps(last, default=str) if not isinstance(last, str) else last)
                )
            time.sleep(POLL)

    def always(self, check: Callable[[], None], duration: float, every: float = 0.5) -> int:
        """`check` (which asserts) holds at every poll for `duration` s; the number of polls.

        An HTTP error fails it too: the point is that the agents keep answering."""
        end = time.monotonic() + duration
        polls = 0
        while True:
            self.check_running()
            check()
            polls += 1
            if time.monotonic() >= end:
                return polls
            time.sleep(every)

    # ---- composite waits ----------------------------------------------------------------

    def wait_members(
        self, observers: Iterable[str], expected: dict[str, str], deadline: float
    ) -> None:
        """Each observer's members show every `expected` member with that status."""
        observers = list(observers)

        def check() -> bool:
            for name in observers:
                seen = self.statuses(name)
                if any(seen.get(m) != status for m, status in expected.items()):
                    return False
            return True

        self.eventually(
            check,
            f"{observers} to show {expected}",
            deadline,
            show=lambda: {name: self.statuses(name) for name in observers},
        )

    def wait_leader(self, names: Iterable[str], deadline: float, *, min_term: int = 0) -> str:
        """Every one of `names` names the same leader (one of them, with leader=true) in the
        same term above `min_term`; the leader's RPC address."""
        names = list(names)
        rpc_of = {self.agents[n].rpc: n for n in names}

        def check() -> str | None:
            view = self.leader_view(names)
            addrs = {addr for addr, _, _ in view.values()}
            terms = {term for _, _, term in view.values()}
            leaders = [n for n, (_, flag, _) in view.items() if flag == "true"]
            if len(addrs) != 1 or len(terms) != 1 or len(leaders) != 1:
                return None
            (addr,) = addrs
            (term,) = terms
            if addr not in rpc_of or rpc_of[addr] != leaders[0] or int(term) <= min_term:
                return None
            return addr

        return self.eventually(
            check, f"one leader named by {names}", deadline, show=lambda: self.leader_view(names)
        )

    def wait_healthy(self, names: Iterable[str], deadline: float) -> None:
        names = list(names)
        self.eventually(
            lambda: all(self.health(n)[0] == 200 for n in names),
            f"{names} healthy",
            deadline,
            show=lambda: {n: self.health(n) for n in names},
        )
