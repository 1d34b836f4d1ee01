"""SimCluster: a whole serf cluster in one Python process, on virtual time.

Why this exists: test writers and teachers need to say "three nodes join, one crashes, the
network splits" and get the answer in milliseconds, the same answer every time. So every node
runs the real sans-IO `SerfCore`, driven by one scheduler (`agent.sim.scheduler`) over one
simulated network (`agent.sim.network`); nothing sleeps and no socket is opened.

Reproducibility (TigerBeetle's VOPR): `seed` feeds a master `random.Random`, which first draws
the network's seed and the restart stream's seed, then one sub-seed per node in creation order.
Changing the network therefore never shifts a node's random choices, and a restarted node gets
a fresh seed from the restart stream without disturbing anyone else. The same seed and the same
calls give identical `events` and an identical `trace_digest()`; a failing test should print
`describe_failure()`, which starts with the seed.

Commands (`join`, `leave`, `force_leave`) block: they issue the command on the node's core and
run virtual time until the core reports the matching completion event. Everything else either
only reads state or changes the world at the current instant (kill, partition, pause ...).
"""

from __future__ import annotations

import contextlib
import gc
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from agent.sim.network import NetworkConditions, SimNetwork
from agent.sim.node import (
    ClusterCore,
    CoreFactory,
    Seed,
    SimEvent,
    SimNode,
    describe_conditions,
    node_address,
    parse_address,
    resolve_seed,
    seed_converged,
    serf_core_factory,
)
from agent.sim.process import SimProcess
from agent.sim.scheduler import Scheduler
from agent.sim.trace import DEFAULT_TRACE_LIMIT, Trace, TraceEntry
from gossip import (
    Address,
    ForceLeaveCompleted,
    GossipEvent,
    JoinCompleted,
    LeaveCompleted,
    Member,
    MemberEvent,
    SerfConfig,
)

COMMAND_SLACK = 30.0
"""Virtual seconds a command may run past its protocol timeouts before we call it stuck."""


class SimulationError(RuntimeError):
    """The simulation could not do what was asked (a command never completed)."""


class SimCluster:
    """N serf nodes on one virtual clock and one simulated network.

    Args:
        seed: master seed; the whole run is a function of it and the calls made.
        profile: memberlist preset, "lan", "wan" or "local" (`SerfConfig.profile`).
        network: link conditions for every link (default: loopback-like latency, no loss).
        core_factory: builds each node's core (default: `gossip.serf.SerfCore`).
        trace_limit: trace entries kept for display (the digest always covers all of them).
        record_events: keep `events`; turn off for huge benches (the trace still runs).
        enable_compression: memberlist's LZW on datagrams and streams. Off here, unlike in
            memberlist and in real agents: it changes nothing the simulated network does (what
            fits in a datagram is decided before compressing, as in memberlist) and LZW in pure
            Python would cost most of the simulator's time. Turn it on to see the real bytes.
        **overrides: any serf or memberlist knob by name, e.g. `reconnect_timeout=120.0`.
    """

    def __init__(
        self,
        seed: int = 0,
        profile: str = "lan",
        *,
        network: NetworkConditions | None = None,
        core_factory: CoreFactory = serf_core_factory,
        trace_limit: int = DEFAULT_TRACE_LIMIT,
        record_events: bool = True,
        enable_compression: bool = False,
        **overrides: Any,
    ) -> None:
        self.seed = seed
        self.profile = profile
        self.config = SerfConfig.profile(
            profile, enable_compression=enable_compression, **overrides
        )
        self._master = random.Random(seed)
        network_rng = random.Random(self._master.getrandbits(64))
        self._restart_rng = random.Random(self._master.getrandbits(64))
        self._scheduler = Scheduler()
        self.network = SimNetwork(self._scheduler, network_rng, network)
        self._core_factory = core_factory
        self._nodes: dict[str, SimNode] = {}
        self._events: list[SimEvent] = []
        self._record_events = record_events
        self._trace = Trace(trace_limit)
        self._advancing = False

    def __repr__(self) -> str:
        live = sum(node.running for node in self._nodes.values())
        return (
            f"SimCluster(seed={self.seed}, profile={self.profile!r}, now={self.now:.4f}, "
            f"nodes={len(self._nodes)}, live={live})"
        )

    # -- nodes ---------------------------------------------------------------------------

    def add_node(self, name: str, tags: Mapping[str, str] | None = None) -> SimNode:
        """Start a node (not yet joined to anyone) at the next free 127.1.x.y:7946.

        Raises:
            ValueError: the name is taken.
        """
        if name in self._nodes:
            raise ValueError(f"node {name!r} already exists")
        node = SimNode(name, node_address(len(self._nodes)), tags or {})
        self._start(node, random.Random(self._master.getrandbits(64)))
        self._nodes[name] = node
        self._trace.add(self.now, name, "add", f"{node.addr} tags={sorted(node.tags.items())}")
        return node

    def add_converged(
        self, names: Iterable[str], tags: Mapping[str, str] | None = None
    ) -> list[SimNode]:
        """Start nodes that already form one converged cluster among themselves.

        As if each had joined the first one and all gossip had settled: every new node lists
        every other alive (memberlist state alive at its announced incarnation; serf status
        alive with its join intent applied; Lamport clocks past every join intent), with no
        broadcasts pending and no member events emitted. Existing nodes are not involved. This
        skips the O(N^2) join storm so big clusters can be measured in steady state; from here
        on everything is simulated as usual (a later `join` to any of them works).

        Raises:
            ValueError: a name is taken or repeated.
            TypeError: the core factory does not build `SerfCore`s.
        """
        names = list(names)
        if len(set(names)) != len(names):
            raise ValueError("add_converged needs distinct names")
        for name in names:
            if name in self._nodes:
                raise ValueError(f"node {name!r} already exists")
        nodes = [self.add_node(name, tags) for name in names]
        collecting = gc.isenabled()
        gc.disable()  # N^2 long-lived records: collections meanwhile would rescan them all
        try:
            seed_converged([node.core for node in nodes], self.now)
        finally:
            if collecting:
                gc.enable()
        for node in nodes:
            node.process.flush()
        self._trace.add(self.now, "*", "converged", f"{len(nodes)} nodes")
        return nodes

    def node(self, name: str) -> SimNode:
        """The handle for `name`; KeyError if there is no such node."""
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}") from None

    @property
    def nodes(self) -> list[SimNode]:
        """Every node ever added, in creation order (killed ones included)."""
        return list(self._nodes.values())

    def live_nodes(self) -> list[str]:
        """Names of nodes whose process is running (paused ones included), in creation order."""
        return [name for name, node in self._nodes.items() if node.running]

    def _start(self, node: SimNode, rng: random.Random) -> None:
        core = self._core_factory(
            self.config, name=node.name, addr=node.addr, tags=node.tags, rng=rng, now=self.now
        )
        node._completions.clear()
        node._process = SimProcess(
            core, node.addr, self._scheduler, self.network, partial(self._on_event, node)
        )

    def _on_event(
        self, node: SimNode, process: SimProcess[ClusterCore], event: GossipEvent
    ) -> None:
        if isinstance(event, MemberEvent):
            now = self._scheduler.now
            kind = event.type.value
            if self._record_events:
                self._events.append(SimEvent(now, node.name, kind, event.member.name))
            self._trace.add(now, node.name, kind, event.member.name)
        elif process is node._process:
            node._completions[event.token] = event

    def _running(self, name: str) -> SimNode:
        node = self.node(name)
        if not node.running:
            raise ValueError(f"node {name!r} is not running (killed or shut down)")
        return node

    # -- commands (they advance virtual time until the core reports the outcome) ---------

    def join(self, name: str, seeds: Iterable[Seed]) -> int:
        """Join `name` to the seeds and run until the join finishes; returns nodes contacted.

        The full outcome, with one error line per failed seed, is `node(name).last_join`.
        """
        node = self._running(name)
        addrs = [resolve_seed(self._nodes, seed) for seed in seeds]
        self._trace.add(self.now, name, "join", " ".join(map(str, addrs)))
        token = node.core.join(self.now, addrs)
        node.process.flush()
        budget = self.config.memberlist.tcp_timeout * max(1, len(addrs))
        event = self._wait(node, token, budget, "join")
        assert isinstance(event, JoinCompleted)
        node.last_join = event
        self._trace.add(self.now, name, "join-done", f"joined={event.num_joined} {event.errors}")
        return event.num_joined

    def leave(self, name: str, *, shutdown: bool = True) -> str | None:
        """Leave gracefully and run until done; returns serf's error text, or None.

        As the agent does after a leave, the node then shuts down (its core stops and its
        address stops answering); pass `shutdown=False` to keep the left node running.
        """
        node = self._running(name)
        self._trace.add(self.now, name, "leave", "")
        token = node.core.leave(self.now)
        node.process.flush()
        budget = 2 * self.config.broadcast_timeout + self.config.leave_propagate_delay
        event = self._wait(node, token, budget, "leave")
        assert isinstance(event, LeaveCompleted)
        self._trace.add(self.now, name, "leave-done", event.error or "ok")
        if shutdown:
            self.shutdown(name)
        return event.error

    def force_leave(self, observer: str, node_name: str, prune: bool = False) -> str | None:
        """Issue force-leave of `node_name` on `observer`, run until done; error text or None."""
        node = self._running(observer)
        self._trace.add(self.now, observer, "force-leave", f"{node_name} prune={prune}")
        token = node.core.force_leave(self.now, node_name, prune)
        node.process.flush()
        event = self._wait(node, token, self.config.broadcast_timeout, "force-leave")
        assert isinstance(event, ForceLeaveCompleted)
        self._trace.add(self.now, observer, "force-leave-done", event.error or "ok")
        return event.error

    def _wait(self, node: SimNode, token: int, budget: float, what: str) -> GossipEvent:
        done = node._completions
        process = node.process
        with self._advancing_time():
            self._scheduler.run_while(
                lambda: token not in done and process.running, self.now + budget + COMMAND_SLACK
            )
        event = done.pop(token, None)
        if event is None:
            reason = "was killed" if not process.running else "got no completion"
            raise SimulationError(f"{what} on {node.name} {reason}; {self.describe_failure()}")
        return event

    # -- process faults ------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """Crash `name`: no shutdown, no last words; datagrams to it drop, streams are refused."""
        self._running(name).process.crash()
        self._trace.add(self.now, name, "kill", "")

    def shutdown(self, name: str) -> None:
        """Orderly stop: `core.shutdown(now)` (sends nothing more), then the address closes."""
        node = self._running(name)
        node.core.shutdown(self.now)
        node.process.crash()
        self._trace.add(self.now, name, "shutdown", "")

    def restart(
        self, name: str, tags: Mapping[str, str] | None = None, *, addr: Seed | None = None
    ) -> SimNode:
        """Start a fresh process for `name`: new core, same name, new sub-seed.

        Like a real restart it forgets everything, its incarnation included. It does NOT join:
        call `join` next. A running node is killed first. It keeps its address unless `addr`
        (an Address or "ip[:port]") moves it, as a container that comes back with a new IP
        does; pick one outside 127.1.0.0/16, where `add_node` hands out addresses. Partitions
        and blocks set earlier name the old address.

        Raises:
            ValueError: `addr` is not an IP address, or another node has it.
        """
        node = self.node(name)
        moved_to = None
        if addr is not None:
            moved_to = addr if isinstance(addr, Address) else parse_address(addr)
            holder = next((n for n in self._nodes.values() if n.addr == moved_to), None)
            if holder is not None and holder is not node:
                raise ValueError(f"address {moved_to} belongs to node {holder.name!r}")
        if node.running:
            self.kill(name)
        if tags is not None:
            node.tags = dict(tags)
        node.restarts += 1
        detail = f"#{node.restarts}"
        if moved_to is not None and moved_to != node.addr:
            detail += f" {node.addr} -> {moved_to}"
            node.addr = moved_to
        self._start(node, random.Random(self._restart_rng.getrandbits(64)))
        self._trace.add(self.now, name, "restart", detail)
        return node

    def pause(self, name: str, duration: float) -> None:
        """Stall `name` for `duration` s; what arrives meanwhile is handled, in order, on resume."""
        if duration < 0:
            raise ValueError(f"pause duration must not be negative, got {duration}")
        self._running(name).process.pause(self.now + duration)
        self._trace.add(self.now, name, "pause", f"{duration!r}s")

    # -- network faults ------------------------------------------------------------------

    def partition(self, *groups: Iterable[str], symmetric: bool = True) -> None:
        """Split the named groups apart (replacing any earlier partition).

        Nodes in no group still reach everyone. `symmetric=False` cuts only traffic from each
        group to the groups listed after it: `partition(["a"], ["b"], symmetric=False)` blocks
        a -> b and leaves b -> a open.
        """
        named = [[self.node(name).name for name in group] for group in groups]
        self.network.partition(
            [[self._nodes[n].addr for n in g] for g in named], symmetric=symmetric
        )
        arrow = " | " if symmetric else " -> "
        self._trace.add(self.now, "*", "partition", arrow.join(",".join(g) for g in named))

    def block(self, src: str, dst: str) -> None:
        """Cut the one-way link src -> dst (both datagrams and stream dials) until `heal()`."""
        self.network.block(self.node(src).addr, self.node(dst).addr)
        self._trace.add(self.now, "*", "block", f"{src} -> {dst}")

    def heal(self) -> None:
        """Remove every partition and block (loss and link conditions stay)."""
        self.network.heal()
        self._trace.add(self.now, "*", "heal", "")

    def set_loss(self, loss: float) -> None:
        """Set the datagram loss probability on every link without an override."""
        self.set_network(replace(self.network.conditions, loss=loss))

    def set_network(self, conditions: NetworkConditions) -> None:
        """Replace the default link conditions."""
        self.network.conditions = conditions
        self._trace.add(self.now, "*", "network", describe_conditions(conditions))

    def set_link(
        self, a: str, b: str, conditions: NetworkConditions | None, *, both_ways: bool = True
    ) -> None:
        """Override the conditions of link a -> b (and b -> a); None removes the override."""
        addr_a, addr_b = self.node(a).addr, self.node(b).addr
        self.network.set_link(addr_a, addr_b, conditions)
        if both_ways:
            self.network.set_link(addr_b, addr_a, conditions)
        detail = "default" if conditions is None else describe_conditions(conditions)
        self._trace.add(self.now, "*", "link", f"{a} {'<->' if both_ways else '->'} {b} {detail}")

    # -- time ----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Virtual seconds since the cluster was created."""
        return self._scheduler.now

    def run(self, duration: float) -> None:
        """Advance virtual time by `duration` seconds."""
        if duration < 0:
            raise ValueError(f"time can't go backwards: run({duration})")
        with self._advancing_time():
            self._scheduler.run_until(self.now + duration)

    def run_until(
        self, predicate: Callable[[], bool], timeout: float, *, poll: float | None = None
    ) -> bool:
        """Run until `predicate()` holds (True) or `timeout` virtual seconds pass (False).

        With `poll=None` the predicate is checked after every scheduler step, so the clock
        stops at the exact instant it became true; pass e.g. `poll=0.1` for costly predicates
        such as `converged` on big clusters.
        """
        deadline = self.now + timeout
        with self._advancing_time():
            if poll is None:
                return self._scheduler.run_while(lambda: not predicate(), deadline)
            if poll <= 0:
                raise ValueError(f"poll must be positive, got {poll}")
            while not predicate():
                if self.now >= deadline:
                    return False
                self._scheduler.run_until(min(self.now + poll, deadline))
            return True

    def call_at(self, at: float, action: Callable[[], None]) -> None:
        """Run `action` at virtual time `at`: `c.call_at(12.0, lambda: c.kill("n3"))`.

        The action may kill, restart, pause, partition, heal or change the network; it may not
        call anything that advances time (join, leave, force_leave, run, run_until).
        """
        self._scheduler.schedule(at, action)

    @contextlib.contextmanager
    def _advancing_time(self) -> Iterator[None]:
        if self._advancing:
            raise RuntimeError("a scheduled action cannot call SimCluster methods that run time")
        self._advancing = True
        try:
            yield
        finally:
            self._advancing = False

    # -- reads ---------------------------------------------------------------------------

    def members(self, name: str) -> list[Member]:
        """`name`'s member list (for a node that is down: as it was when it went down)."""
        return self.node(name).core.members()

    def statuses(self, name: str) -> dict[str, str]:
        """{member name: "alive" | "leaving" | "left" | "failed"} as seen by `name`."""
        return {m.name: m.status.value for m in self.node(name).core.members()}

    def stats(self, name: str) -> dict[str, str]:
        """serf's stats for `name` (string values, as `serf info` prints them)."""
        return self.node(name).core.stats()

    def converged(self) -> bool:
        """True when every running node reports the same status for the same set of members."""
        views = [self.statuses(name) for name in self.live_nodes()]
        return bool(views) and all(view == views[0] for view in views[1:])

    @property
    def events(self) -> list[SimEvent]:
        """Every member event so far, as (at, observer, kind, member), in order. Do not mutate."""
        return self._events

    @property
    def trace(self) -> list[TraceEntry]:
        """The kept tail of the trace (member events, commands, faults), oldest first."""
        return list(self._trace)

    def trace_digest(self) -> str:
        """SHA-256 over every trace entry since the start plus the network's packet counters."""
        net = self.network
        counters = (
            f"{net.datagrams_sent}/{net.datagrams_delivered}/{net.datagrams_dropped}/"
            f"{net.streams_opened}@{self.now!r}"
        )
        return self._trace.digest(counters)

    def describe_failure(self, tail: int = 20) -> str:
        """Seed, time and trace tail for assertion messages, so a failure can be replayed."""
        lines = [
            f"seed={self.seed} profile={self.profile!r} t={self.now:.4f} "
            f"live={self.live_nodes()}, trace tail ({min(tail, len(self._trace))} of "
            f"{self._trace.total}):"
        ]
        lines += [f"  {entry}" for entry in self._trace.tail(tail)]
        return "\n".join(lines)
