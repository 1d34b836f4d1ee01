"""RaftSimCluster: N raft cores on the simulated network, checked for raft's safety properties.

Theory of operation. Each server is a `RaftProcess`, the raft twin of `SimProcess`: it decodes
datagrams with `raft_stub.codec`, stamps them with the scheduler's `now`, and after every input
drains the core in the order a real driver must: save `persistent_state()` if `state_version`
moved, then send the messages, then hand over the events, then re-arm the one timer. Servers
listen on 127.2.0.k:4647 of the shared `SimNetwork`, so latency, loss, duplication, reordering
and partitions all apply to raft traffic.

The "disk" of each server is the last `PersistentState` it saved; `restart(i)` builds a new core
from it (round-tripped through its bytes), as a server with a data dir comes back. `kill(i)` is
a crash: nothing is flushed.

Every event is checked as it happens, and failures are kept in `violations` (tests assert it is
empty, so one run can report several problems together with the seed and trace tail):

- Election Safety: at most one leader per term over the whole history.
- State Machine Safety: an index, once committed anywhere, holds the same entry everywhere, and
  each server applies indices in order without gaps.
- Leader Completeness: a new leader's log holds every entry committed in an earlier term.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.sim.network import NetworkConditions, SimNetwork, StreamExchange
from agent.sim.scheduler import Scheduler, Timer
from agent.sim.trace import Trace
from gossip import Address
from raft_stub import (
    DecodeError,
    EntryCommitted,
    EntryType,
    LeaderChanged,
    LogEntry,
    PersistentState,
    RaftConfig,
    RaftEvent,
    RaftStub,
    ServerEntry,
    decode_message,
    encode_message,
)

RAFT_PORT = 4647
HOST_PREFIX = "127.2.0."
"""Servers are 127.2.0.1:4647, 127.2.0.2:4647, ... (the gossip sim uses 127.1.0.k)."""

RaftEventHandler = Callable[["RaftProcess", RaftEvent], None]


class Disk:
    """What one server has saved: the latest PersistentState, None before the first save."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: PersistentState | None = None

    def save(self, state: PersistentState) -> None:
        self.state = state

    def load(self) -> PersistentState | None:
        """The saved state, through its byte form, as a restart reads a data dir."""
        return None if self.state is None else PersistentState.from_bytes(self.state.to_bytes())


class RaftProcess:
    """One raft core bound to an address on the simulated network."""

    __slots__ = (
        "_addresses",
        "_network",
        "_on_event",
        "_saved_version",
        "_scheduler",
        "_timer",
        "addr",
        "core",
        "decode_errors",
        "disk",
        "index",
        "running",
    )

    def __init__(
        self,
        index: int,
        core: RaftStub,
        scheduler: Scheduler,
        network: SimNetwork,
        disk: Disk,
        on_event: RaftEventHandler,
    ) -> None:
        self.index = index
        self.core = core
        self.addr = _address(core.config.address)
        self.disk = disk
        self.running = True
        self.decode_errors = 0
        self._scheduler = scheduler
        self._network = network
        self._on_event = on_event
        self._saved_version = core.state_version if disk.state is not None else -1
        self._addresses: dict[str, Address] = {}
        self._timer = Timer(scheduler, self._on_timer)
        network.bind(self.addr, self)
        self.flush()

    def flush(self) -> None:
        """Save, send, report, re-arm: call after every input, commands included."""
        core = self.core
        if core.state_version != self._saved_version:
            self.disk.save(core.persistent_state())
            self._saved_version = core.state_version
        for dst, msg in core.messages_to_send():
            addr = self._addresses.get(dst)
            if addr is None:
                addr = self._addresses[dst] = _address(dst)
            self._network.send_datagram(self.addr, addr, encode_message(msg))
        while (event := core.next_event()) is not None:
            self._on_event(self, event)
        self._timer.set(core.next_deadline())

    def crash(self) -> None:
        """Vanish: no flush, the address stops listening, the timer is dropped."""
        self.running = False
        self._timer.cancel()
        self._network.unbind(self.addr)

    # -- Receiver ------------------------------------------------------------------------

    def receive_datagram(self, src: Address, data: bytes) -> None:
        if not self.running:
            return
        try:
            msg = decode_message(data)
        except DecodeError:
            self.decode_errors += 1
            return
        self.core.handle_message(self._scheduler.now, str(src), msg)
        self.flush()

    def receive_stream(self, exchange: StreamExchange) -> None:
        self._network.reply_stream(exchange, None)  # raft here is datagrams only

    def receive_stream_result(self, token: int, reply: bytes | None, error: str | None) -> None:
        """Never opens streams, so never gets results."""

    def _on_timer(self) -> None:
        if self.running:
            self.core.handle_timer(self._scheduler.now)
            self.flush()


class RaftSimCluster:
    """`n` raft servers bootstrapped together at t=0 (bootstrap_expect = n)."""

    def __init__(
        self,
        seed: int,
        n: int,
        *,
        conditions: NetworkConditions | None = None,
        timing: Mapping[str, Any] | None = None,
    ) -> None:
        """`timing` overrides RaftConfig fields (heartbeat_timeout, ...) for every server."""
        if n < 1:
            raise ValueError(f"a cluster needs at least one server, got {n}")
        self.seed = seed
        self._master = random.Random(seed)
        self.scheduler = Scheduler()
        self.network = SimNetwork(
            self.scheduler, random.Random(self._master.getrandbits(64)), conditions
        )
        self.timing = dict(timing or {})
        self.addresses = [f"{HOST_PREFIX}{i + 1}:{RAFT_PORT}" for i in range(n)]
        self.servers = tuple(ServerEntry(a, a) for a in self.addresses)
        self.disks = [Disk() for _ in range(n)]
        self.trace = Trace()
        self.history: list[tuple[float, int, str]] = []
        """Every (time, term, leader) any server observed, in order."""
        self.violations: list[str] = []
        self.committed: dict[int, LogEntry] = {}
        """Every index committed anywhere, with its entry."""
        self._commit_terms: dict[int, int] = {}
        self._leaders: dict[int, str] = {}
        self._applied = [0] * n
        self.processes: list[RaftProcess] = []
        for i in range(n):
            self.processes.append(self._start(i))

    # -- faults and commands -------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.scheduler.now

    @property
    def n(self) -> int:
        return len(self.addresses)

    def run(self, seconds: float) -> None:
        """Advance virtual time by `seconds`."""
        self.scheduler.run_until(self.now + seconds)

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until `predicate()` holds, checked after every event, so the clock stops at the
        event that made it true; False (the clock at the deadline) after `timeout` seconds."""
        return self.scheduler.run_while(lambda: not predicate(), self.now + timeout)

    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Servers in different groups cannot talk; unlisted servers reach everyone."""
        self.network.partition([[_address(self.addresses[i]) for i in g] for g in groups])
        self._trace("-", "partition", " | ".join(",".join(map(str, g)) for g in groups))

    def heal(self) -> None:
        self.network.heal()
        self._trace("-", "heal")

    def kill(self, i: int) -> None:
        """Crash server `i` (no-op when it is down already)."""
        if self.processes[i].running:
            self.processes[i].crash()
            self._trace(self.addresses[i], "kill")

    def restart(self, i: int) -> None:
        """Bring server `i` back with its saved state (crashing it first if it runs)."""
        self.kill(i)
        self._applied[i] = 0
        self.processes[i] = self._start(i)
        self._trace(self.addresses[i], "restart", f"term={self.processes[i].core.term}")

    def propose(self, data: bytes, *, server: int | None = None) -> int | None:
        """Propose a COMMAND on `server`, or on the live leader with the highest term."""
        if server is None:
            leaders = self.leaders()
            if not leaders:
                return None
            server = max(leaders, key=lambda i: self.processes[i].core.term)
        process = self.processes[server]
        if not process.running:
            return None
        index = process.core.propose(self.now, EntryType.COMMAND, data)
        process.flush()
        self._trace(self.addresses[server], "propose", f"{data!r} -> {index}")
        return index

    # -- reads ---------------------------------------------------------------------------

    def live(self, i: int) -> bool:
        return self.processes[i].running

    def live_servers(self) -> list[int]:
        return [i for i in range(self.n) if self.processes[i].running]

    def core(self, i: int) -> RaftStub:
        """Server i's core (the last incarnation's, if it is down)."""
        return self.processes[i].core

    def leaders(self) -> list[int]:
        """Live servers that consider themselves leader right now."""
        return [i for i in self.live_servers() if self.processes[i].core.is_leader]

    def agreed_leader(self, among: Sequence[int] | None = None) -> int | None:
        """The server every live one of `among` (default: all) follows, if they all agree and
        it leads; else None."""
        group = [i for i in (among if among is not None else range(self.n)) if self.live(i)]
        if not group:
            return None
        seen = {self.processes[i].core.leader() for i in group}
        address = seen.pop() if len(seen) == 1 else None
        if address is None:
            return None
        leader = self.addresses.index(address)
        return leader if self.live(leader) and self.core(leader).is_leader else None

    def describe_failure(self) -> str:
        """Seed, per-server state, violations and the trace tail, for assertion messages."""
        lines = [f"seed={self.seed} now={self.now:.4f}"]
        for i, process in enumerate(self.processes):
            c = process.core
            lines.append(
                f"  [{i}] {self.addresses[i]} {'up' if process.running else 'DOWN'} "
                f"{c.state.value} term={c.term} leader={c.leader()} "
                f"commit={c.commit_index} last={c.last_log_index}"
            )
        lines += [f"  violation: {v}" for v in self.violations[:10]]
        lines += [str(entry) for entry in self.trace.tail(30)]
        return "\n".join(lines)

    # -- internals -----------------------------------------------------------------------

    def _start(self, i: int) -> RaftProcess:
        addr = self.addresses[i]
        config = RaftConfig(server_id=addr, address=addr, bootstrap_expect=self.n, **self.timing)
        restored = self.disks[i].load()
        rng = random.Random(self._master.getrandbits(64))
        core = RaftStub(config, rng=rng, now=self.now, restored=restored)
        if restored is None and self.n > 1:
            core.bootstrap(self.now, self.servers)
        return RaftProcess(i, core, self.scheduler, self.network, self.disks[i], self._on_event)

    def _on_event(self, process: RaftProcess, event: RaftEvent) -> None:
        if isinstance(event, LeaderChanged):
            self._trace(self.addresses[process.index], "leader", f"{event.leader} t{event.term}")
            if event.leader is not None:
                self._observe_leader(process, event.term, event.leader)
        elif isinstance(event, EntryCommitted):
            self._observe_commit(process, event.entry)

    def _observe_leader(self, process: RaftProcess, term: int, leader: str) -> None:
        self.history.append((self.now, term, leader))
        known = self._leaders.setdefault(term, leader)
        if known != leader:
            self._violate(f"election safety: term {term} has leaders {known} and {leader}")
        if leader != process.core.config.address:
            return
        log = process.core.log
        for index, term_committed in self._commit_terms.items():
            if term_committed < term and (
                index > log.last_index or log.entry(index) != self.committed[index]
            ):
                self._violate(f"leader completeness: {leader} (t{term}) lacks entry {index}")

    def _observe_commit(self, process: RaftProcess, entry: LogEntry) -> None:
        i = process.index
        if entry.index != self._applied[i] + 1:
            self._violate(f"{self.addresses[i]} applied {entry.index} after {self._applied[i]}")
        self._applied[i] = entry.index
        known = self.committed.setdefault(entry.index, entry)
        if known != entry:
            self._violate(f"state machine safety: index {entry.index}: {known} vs {entry}")
        self._commit_terms.setdefault(entry.index, process.core.term)

    def _violate(self, what: str) -> None:
        self.violations.append(f"t={self.now:.4f} {what}")
        self._trace("-", "VIOLATION", what)

    def _trace(self, node: str, kind: str, detail: str = "") -> None:
        self.trace.add(self.now, node, kind, detail)


def _address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return Address(host, int(port))
