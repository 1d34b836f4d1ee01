"""docker-compose.yml's five agents as separate processes on 127.0.0.11-15, for e2e tests.

The processes are `agent.processes.supervisor`'s: each agent runs this checkout's code with
`loopback_specs()` of `agent.processes.topology` (the compose command, host names swapped for
loopback addresses, its own data directory), output captured to `<name>.log`, and can be
killed (`kill -9`, SIGTERM) and started again with the same data dir, with the same argv or
another. This adds what the cluster tests share on top: HTTP helpers (httpx), the composite
waits (members, leader, health) and taking turns for the fixed addresses.

Every wait is `Cluster.eventually`: it polls a check against a deadline, treats HTTP errors as
"not yet", fails with the last thing it saw, and fails at once if an agent that should be
running has exited. `Cluster.report()` is every agent's log; the fixtures print it at teardown
(pytest shows it when a test fails). Anything still running is SIGKILLed at the end.

The addresses are fixed (those of `gossip-agent cluster`), so a cluster first takes an
exclusive lock file and waits for the ports to be free (`AddressClaim`): two pytest runs of
these tests at once take turns instead of starting agents on each other's ports.
"""

from __future__ import annotations

import fcntl
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from agent.processes.supervisor import (
    RPC_PORT,
    AgentProcess,
    PortsInUse,
    Supervisor,
    can_bind,
    wait_ports_free,
)
from agent.processes.topology import AGENTS, CLIENTS, LOOPBACK_IPS, SERVERS, loopback_specs

__all__ = ["MISSING_IPS", "SERVER_RPC", "AddressClaim", "Cluster", "can_bind", "strip_joins"]

POLL = 0.25
T = TypeVar("T")
NOT_YET = (httpx.HTTPError, AssertionError, KeyError, ValueError)
"""What a check may raise while the agents are still getting there."""

SERVER_RPC = [f"{LOOPBACK_IPS[name]}:{RPC_PORT}" for name in SERVERS]
"""`127.0.0.11:4647`, `127.0.0.12:4647`, `127.0.0.13:4647`."""

MISSING_IPS = [a.loopback_ip for a in AGENTS if not can_bind(a.loopback_ip)]

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
        try:
            wait_ports_free(AGENTS, max(0.0, deadline - (time.monotonic() - start)))
        except PortsInUse as exc:
            self.release()
            raise AssertionError(f"{exc} (after {deadline:.0f} s)") from None
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


class Cluster:
    """The five agents (server1..3, client1..2) plus HTTP helpers and `eventually`."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.supervisor = Supervisor(base_dir / "logs")
        for spec in loopback_specs(base_dir / "data"):
            self.supervisor.add(spec)
        self.http = httpx.Client(trust_env=False, timeout=5.0)
        self.started = time.monotonic()
        self.claim = AddressClaim()
        self.waited_for_addresses = 0.0

    def __getitem__(self, name: str) -> AgentProcess:
        return self.supervisor[name]

    @property
    def agents(self) -> list[str]:
        return [agent.name for agent in self.supervisor]

    @property
    def servers(self) -> list[AgentProcess]:
        return [self.supervisor[name] for name in SERVERS]

    @property
    def clients(self) -> list[AgentProcess]:
        return [self.supervisor[name] for name in CLIENTS]

    def start(self) -> None:
        """Claim the addresses (waiting for other runs to finish), then start all five."""
        self.waited_for_addresses = self.claim.acquire()
        for agent in self.supervisor:
            agent.start()
        self.started = time.monotonic()

    def close(self) -> None:
        """SIGKILL every agent still running, reap it, release the addresses."""
        try:
            self.supervisor.close()
            self.http.close()
        finally:
            self.claim.release()

    def report(self) -> str:
        return self.supervisor.report()

    # ---- HTTP ---------------------------------------------------------------------------

    def get(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(f"{self[name].http}{path}", **kwargs)

    def put(self, name: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(f"{self[name].http}{path}", **kwargs)

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
        self.supervisor.check_running()

    def eventually(
        self,
        check: Callable[[], T],
        what: str,
        deadline: float,
        *,
        show: Callable[[], object] | None = None,
    ) -> T:
        """`Supervisor.eventually`, with HTTP errors (and failed asserts) as "not yet"."""
        return self.supervisor.eventually(
            check, what, deadline, show=show, retry_on=NOT_YET, poll=POLL
        )

    def always(self, check: Callable[[], None], duration: float, every: float = 0.5) -> int:
        """`check` (which asserts) holds at every poll for `duration` s; the number of polls.

        An HTTP error fails it too: the point is that the agents keep answering."""
        return self.supervisor.always(check, duration, every)

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
        rpc_of = {self[n].rpc: n for n in names}

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
