"""The member table of memberlist and its incarnation rules (alive / suspect / dead).

Theory of operation. Every node keeps one `NodeEntry` per name it has heard of, in a list that
is also the probe order, plus a name index. Three kinds of news change an entry, and each is
judged here exactly as memberlist 0.2.2 judges it (state.go: aliveNode, suspectNode, deadNode):

- news carries an incarnation; older news about a node is ignored, news about ourselves that
  accuses us (suspect, dead) is refuted by announcing a higher incarnation;
- only news that changed something is re-broadcast, so gossip dies out by itself;
- a suspicion is a timer (Lifeguard: it shortens with independent confirmations); when it
  expires the node is declared dead by us.

Membership owns no clock and no sockets: every method takes `now`, broadcasts go to the
transmit-limited queue it was given, and changes are reported to a `MembershipListener`
(the serf layer). Unknown names are inserted at a random probe position so a newcomer is
not always probed last.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import NamedTuple, Protocol

from gossip.awareness import Awareness
from gossip.broadcasts import TransmitLimitedQueue
from gossip.codec import encode
from gossip.config import GossipConfig
from gossip.deadlines import DeadlineScheduler
from gossip.flyweights import CACHE_SIZE, address_of, canonical_bytes
from gossip.messages import Alive, Dead, PushNodeState, Suspect
from gossip.suspicion import Suspicion
from gossip.timers import SuspicionTimeout
from gossip.timing import suspicion_k, suspicion_timeout
from gossip.types import Address, NodeState

EMPTY_VSN = b""
U32 = 0xFFFFFFFF
"""Incarnations are uint32 on the wire; memberlist's counters wrap."""


class NodeInfo(NamedTuple):
    """What a view knows about a node besides its state: shared by every view that agrees.

    Immutable; `node_info` hands back one object per distinct value, so the thousand views of
    a node at one incarnation in a simulated cluster hold a single NodeInfo between them.
    """

    name: str
    addr: bytes
    port: int
    meta: bytes
    vsn: bytes
    incarnation: int
    address: Address
    """`addr` and `port` as an Address (itself shared)."""
    rows: tuple[PushNodeState, ...]
    """The node as a push-pull table entry, indexed by NodeState: every view that sends it
    sends the same entry object (whose encoding the codec memoises)."""


@lru_cache(maxsize=CACHE_SIZE)
def node_info(
    name: str, addr: bytes, port: int, meta: bytes, vsn: bytes, incarnation: int
) -> NodeInfo:
    """The shared NodeInfo for these values; raises ValueError for a bad IP length."""
    address = address_of(addr, port)
    addr, meta, vsn = canonical_bytes(addr), canonical_bytes(meta), canonical_bytes(vsn)
    rows = tuple(PushNodeState(name, addr, port, meta, incarnation, s, vsn) for s in NodeState)
    return NodeInfo(name, addr, port, meta, vsn, incarnation, address, rows)


class NodeEntry:
    """One row of a node's member table, owned by one Membership.

    Per view it holds only its state and when that state began; everything else (name,
    address, meta, versions, incarnation) is in the shared `info`, replaced as a whole when it
    changes. A row costs 56 bytes plus its share of the table's dict and list.
    """

    __slots__ = ("info", "state", "state_change_at")

    def __init__(self, info: NodeInfo, now: float, state: NodeState = NodeState.DEAD) -> None:
        self.info = info
        self.state = state
        self.state_change_at = now

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def addr(self) -> bytes:
        return self.info.addr

    @property
    def port(self) -> int:
        return self.info.port

    @property
    def address(self) -> Address:
        return self.info.address

    @property
    def meta(self) -> bytes:
        return self.info.meta

    @property
    def vsn(self) -> bytes:
        return self.info.vsn

    @property
    def incarnation(self) -> int:
        return self.info.incarnation

    @incarnation.setter
    def incarnation(self, incarnation: int) -> None:
        i = self.info
        self.info = node_info(i.name, i.addr, i.port, i.meta, i.vsn, incarnation)

    @property
    def protocol_max(self) -> int:
        vsn = self.info.vsn
        return vsn[1] if len(vsn) > 1 else 0

    def dead_or_left(self) -> bool:
        return self.state >= NodeState.DEAD

    def to_alive(self) -> Alive:
        i = self.info
        return Alive(i.incarnation, i.name, i.addr, i.port, i.meta, i.vsn)


class MembershipListener(Protocol):
    """What the layer above (serf) hears about; memberlist's EventDelegate + ConflictDelegate."""

    def notify_join(self, now: float, node: NodeEntry) -> None: ...
    def notify_leave(self, now: float, node: NodeEntry) -> None: ...
    def notify_update(self, now: float, node: NodeEntry) -> None: ...
    def notify_conflict(self, now: float, existing: NodeEntry, other: Alive) -> None: ...


def suspect_timer(name: str) -> SuspicionTimeout:
    """Deadline key of the suspicion timer of `name`."""
    return SuspicionTimeout(name)


class Membership:
    """The member table plus memberlist's rules for changing it."""

    def __init__(
        self,
        config: GossipConfig,
        *,
        name: str,
        rng: random.Random,
        broadcasts: TransmitLimitedQueue,
        awareness: Awareness,
        deadlines: DeadlineScheduler[SuspicionTimeout],
        listener: MembershipListener,
    ) -> None:
        self.config = config
        self.name = name
        self.rng = rng
        self.broadcasts = broadcasts
        self.awareness = awareness
        self.deadlines = deadlines
        self.listener = listener
        self.nodes: list[NodeEntry] = []
        self.node_map: dict[str, NodeEntry] = {}
        self.suspicions: dict[str, tuple[Suspicion, float]] = {}
        self.incarnation = 0
        self.left = False
        self.leave_notify: object | None = None
        self.suspicions_started = 0
        """Suspicions this node started, and accusations of itself it refuted (metrics)."""
        self.refutations = 0

    # ---- queries --------------------------------------------------------------------------

    def num_nodes(self) -> int:
        """memberlist's estNumNodes: every entry, self, dead and left included."""
        return len(self.nodes)

    def local(self) -> NodeEntry:
        return self.node_map[self.name]

    def num_live_nodes(self) -> int:
        """memberlist NumMembers: nodes neither dead nor left, ourselves included."""
        return sum(1 for n in self.nodes if not n.dead_or_left())

    def any_alive(self) -> bool:
        """Is any other node neither dead nor left (memberlist anyAlive)?"""
        return any(n.name != self.name and not n.dead_or_left() for n in self.nodes)

    def is_old_news(self, name: str, incarnation: int, addr: bytes, port: int) -> bool:
        """Would `apply_alive` ignore this alive news without a trace? True (the common case
        in a push-pull) for another node we know at this address and at least this
        incarnation; False means "apply it and see"."""
        entry = self.node_map.get(name)
        if entry is None or name == self.name:
            return False
        info = entry.info
        return incarnation <= info.incarnation and port == info.port and addr == info.addr

    # ---- broadcasting ---------------------------------------------------------------------

    def _broadcast(self, name: str, msg: Alive | Suspect | Dead, notify: object = None) -> None:
        self.broadcasts.queue(encode(msg), name=name, notify=notify)

    def next_incarnation(self) -> int:
        """memberlist nextIncarnation: a uint32 that wraps, so it always fits the wire."""
        self.incarnation = (self.incarnation + 1) & U32
        return self.incarnation

    # ---- the three rules ------------------------------------------------------------------

    def apply_alive(self, now: float, a: Alive, *, bootstrap: bool = False) -> None:
        """memberlist aliveNode: accept, ignore, refute, or report a conflict."""
        if self.is_old_news(a.node, a.incarnation, a.addr, a.port):
            return  # the usual case: ignored whatever else it says
        is_local = a.node == self.name
        if self.left and is_local:
            return  # as memberlist: after leaving we never accidentally rejoin
        vsn = a.vsn
        if len(vsn) >= 3 and (vsn[0] == 0 or vsn[1] == 0 or vsn[0] > vsn[1]):
            return
        state = self.node_map.get(a.node)
        updates_node = False
        if state is None:
            info = node_info(a.node, a.addr, a.port, a.meta, vsn if len(vsn) > 5 else b"", 0)
            state = NodeEntry(info, now)
            self._insert(state)
        elif state.addr != a.addr or state.port != a.port:
            reclaim = self.config.dead_node_reclaim_time
            can_reclaim = reclaim > 0 and now - state.state_change_at > reclaim
            if state.state == NodeState.LEFT or (state.state == NodeState.DEAD and can_reclaim):
                updates_node = True
            else:
                self.listener.notify_conflict(now, state, a)
                return
        if a.incarnation <= state.incarnation and not is_local and not updates_node:
            return
        if a.incarnation < state.incarnation and is_local:
            return
        self._drop_suspicion(a.node)
        old_state, old_meta = state.state, state.meta
        if is_local and not bootstrap:
            if a.incarnation == state.incarnation and a.meta == state.meta and vsn == state.vsn:
                return
            self.refute(state, a.incarnation)
            return
        self._broadcast(a.node, a)
        vsn = vsn or state.vsn
        state.info = node_info(state.name, a.addr, a.port, a.meta, vsn, a.incarnation)
        if state.state != NodeState.ALIVE:
            state.state = NodeState.ALIVE
            state.state_change_at = now
        if old_state >= NodeState.DEAD:
            self.listener.notify_join(now, state)
        elif old_meta != state.meta:
            self.listener.notify_update(now, state)

    def apply_suspect(self, now: float, s: Suspect) -> None:
        """memberlist suspectNode: start or confirm a suspicion, or refute one about us."""
        state = self.node_map.get(s.node)
        if state is None or s.incarnation < state.incarnation:
            return
        held = self.suspicions.get(s.node)
        if held is not None:
            suspicion = held[0]
            if suspicion.confirm(s.from_node, now):
                self._broadcast(s.node, s)
                self.deadlines.schedule(suspect_timer(s.node), suspicion.deadline_at)
            return
        if state.state != NodeState.ALIVE:
            return
        if state.name == self.name:
            self.refute(state, s.incarnation)
            return
        self._broadcast(s.node, s)
        state.incarnation = s.incarnation
        state.state = NodeState.SUSPECT
        state.state_change_at = now
        n = self.num_nodes()
        min_timeout = suspicion_timeout(self.config.suspicion_mult, n, self.config.probe_interval)
        max_timeout = self.config.suspicion_max_timeout_mult * min_timeout
        suspicion = Suspicion(
            from_node=s.from_node,
            k=suspicion_k(self.config.suspicion_mult, n),
            min_timeout=min_timeout,
            max_timeout=max_timeout,
            started_at=now,
        )
        self.suspicions[s.node] = (suspicion, now)
        self.suspicions_started += 1
        self.deadlines.schedule(suspect_timer(s.node), suspicion.deadline_at)

    def apply_dead(self, now: float, d: Dead) -> None:
        """memberlist deadNode: mark dead (or left, when the node says so itself)."""
        state = self.node_map.get(d.node)
        if state is None or d.incarnation < state.incarnation:
            return
        self._drop_suspicion(d.node)
        if state.dead_or_left():
            return
        if state.name == self.name:
            if not self.left:
                self.refute(state, d.incarnation)
                return
            self._broadcast(d.node, d, notify=self.leave_notify)
        else:
            self._broadcast(d.node, d)
        state.incarnation = d.incarnation
        state.state = NodeState.LEFT if d.node == d.from_node else NodeState.DEAD
        state.state_change_at = now
        self.listener.notify_leave(now, state)

    def suspicion_expired(self, now: float, name: str) -> None:
        """A suspicion timer fired: declare the node dead if it is still the same suspicion."""
        held = self.suspicions.pop(name, None)
        state = self.node_map.get(name)
        if held is None or state is None:
            return
        if state.state == NodeState.SUSPECT and state.state_change_at == held[1]:
            self.apply_dead(now, Dead(state.incarnation, name, self.name))

    def refute(self, me: NodeEntry, accused_incarnation: int) -> None:
        """Announce a higher incarnation than the accusation (memberlist refute)."""
        inc = self.next_incarnation()
        if accused_incarnation >= inc:  # memberlist skipIncarnation: a wrapping uint32 add
            self.incarnation = inc = (accused_incarnation + 1) & U32
        me.incarnation = inc
        self.refutations += 1
        self.awareness.apply_delta(1)
        self._broadcast(me.name, me.to_alive())

    # ---- seeding --------------------------------------------------------------------------

    def seed_alive(self, now: float, infos: Iterable[NodeInfo]) -> list[NodeEntry]:
        """Add other nodes as alive, as if a push-pull had brought the news long ago.

        For a simulator that starts from a converged cluster: each entry is what `apply_alive`
        would leave, but nothing is broadcast and the listener is not told (the caller seeds
        the layer above itself). The probe order is reshuffled once at the end, as after a
        probe round, instead of drawing a random slot per newcomer.

        Raises:
            ValueError: a name is ours or already known (the table is left unchanged).
        """
        entries = [NodeEntry(info, now, NodeState.ALIVE) for info in infos]
        names = {entry.name for entry in entries}
        if len(names) != len(entries) or self.name in names or not names.isdisjoint(self.node_map):
            raise ValueError(f"seeded names must be new to the member table of {self.name!r}")
        self.node_map.update((entry.name, entry) for entry in entries)
        self.nodes.extend(entries)
        self.rng.shuffle(self.nodes)
        return entries

    # ---- table maintenance ----------------------------------------------------------------

    def _insert(self, state: NodeEntry) -> None:
        self.node_map[state.name] = state
        n = len(self.nodes)
        offset = self.rng.randrange(n) if n > 0 else 0
        self.nodes.append(state)
        self.nodes[offset], self.nodes[n] = self.nodes[n], self.nodes[offset]

    def _drop_suspicion(self, name: str) -> None:
        if self.suspicions.pop(name, None) is not None:
            self.deadlines.cancel(suspect_timer(name))

    def reset_nodes(self, now: float) -> None:
        """memberlist resetNodes: forget long-dead entries, then reshuffle the probe order.

        Only Dead entries go (memberlist 0.2.2 keeps Left ones until restart).
        """
        horizon = self.config.gossip_to_the_dead_time
        kept: list[NodeEntry] = []
        for node in self.nodes:
            if node.state == NodeState.DEAD and now - node.state_change_at > horizon:
                del self.node_map[node.name]
                self._drop_suspicion(node.name)
            else:
                kept.append(node)
        self.nodes = kept
        self.rng.shuffle(self.nodes)

    def k_random_nodes(self, k: int, exclude: Callable[[NodeEntry], bool]) -> list[NodeEntry]:
        """memberlist kRandomNodes: up to k distinct entries, at most 3n random draws."""
        nodes = self.nodes
        n = len(nodes)
        picked: list[NodeEntry] = []
        randrange = self.rng.randrange
        for _ in range(3 * n):
            if len(picked) >= k:
                break
            node = nodes[randrange(n)]
            if exclude(node) or node in picked:
                continue
            picked.append(node)
        return picked
