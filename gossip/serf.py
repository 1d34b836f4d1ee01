"""SerfCore: serf 0.9.4's membership layer over SwimNode, sans-IO.

Theory of operation. memberlist only knows alive/suspect/dead/left. serf adds *intent*:
a node that means to go says so first (a leave intent), so peers can tell a graceful
`left` from a crash (`failed`). Intents are ordered by a Lamport clock, not by incarnation:
each member carries the LTime of the last intent applied to it (`status_ltime`), and an
intent no newer than that changes nothing and is not re-gossiped. Intents about names we do
not know yet are buffered for `recent_intent_timeout`, because gossip may deliver them before
the node itself. serf's own broadcasts (intents, user events, queries) ride in the space
memberlist leaves in each packet.

Status changes follow reference table 2.2 exactly; they live in `serf_members.py`. Failed
and left members are kept (and reported) until reaped after `reconnect_timeout` /
`tombstone_timeout`; meanwhile each failed member is retried with a memberlist join about
once per `reconnect_interval` across the cluster.

All inputs take `now`; outputs are pulled (datagrams, streams, events), like SwimNode.

Restarting. serf's snapshot (kept by the agent, not here) restores three things at creation,
as serf.Create does: the Lamport clocks witness the saved times (so a restarted node never
reuses a time its old self sent, and its join intent beats its old leave intent), user
events and queries at or below the saved event/query times are dropped as already seen
(serf's eventMinTime/queryMinTime), and memberlist's incarnation starts above the saved one
(memberlist does not persist it; we do, so our first alive message beats our old dead record).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from enum import Enum

from gossip.codec import decode_serf, encode_serf, encode_tags
from gossip.config import SerfConfig
from gossip.deadlines import DeadlineQueue
from gossip.errors import DecodeError, UsageError
from gossip.events import (
    ForceLeaveCompleted,
    GossipEvent,
    JoinCompleted,
    LeaveCompleted,
)
from gossip.lamport import U64, LamportClock
from gossip.membership import NodeEntry
from gossip.messages import (
    Alive,
    JoinIntent,
    LeaveIntent,
    Query,
    QueryResponse,
    SerfPushPull,
    UserEvent,
)
from gossip.outputs import Datagram, StreamRequest
from gossip.serf_broadcasts import SerfBroadcasts
from gossip.serf_members import MemberTable
from gossip.swim import META_MAX_SIZE, SwimNode
from gossip.types import Address, Member, MemberStatus, bytes_to_ip
from gossip.user_events import EventRing, QueryRing

QUERY_FLAG_ACK = 1
QUERY_FLAG_NO_BROADCAST = 2


class SerfState(Enum):
    ALIVE = "alive"
    LEAVING = "leaving"
    LEFT = "left"
    SHUTDOWN = "shutdown"


class SerfCore:
    """One serf instance (one gossip pool member); see the module docstring."""

    def __init__(
        self,
        config: SerfConfig,
        *,
        name: str,
        addr: Address,
        tags: Mapping[str, str],
        rng: random.Random,
        now: float,
        restored_clocks: tuple[int, int, int] | None = None,
        restored_incarnation: int = 0,
    ) -> None:
        """Create the instance; nothing is sent before `join`.

        `restored_clocks` (member, event, query) and `restored_incarnation` come from a
        snapshot of a previous run of this node (see the module docstring); leave them out
        for a new node.

        Raises:
            UsageError: tags too large, a restored clock not a uint64, or a restored
                incarnation not a uint32.
        """
        if restored_clocks is not None and not all(0 <= t <= U64 for t in restored_clocks):
            raise UsageError(f"restored Lamport times must be uint64, got {restored_clocks}")
        self.config = config
        self.name = name
        self.rng = rng
        self.tags = dict(tags)
        if len(encode_tags(self.tags)) > META_MAX_SIZE:
            raise UsageError(f"encoded tags exceed the {META_MAX_SIZE} byte limit")
        self.clock, self.event_clock, self.query_clock = (
            LamportClock(),
            LamportClock(),
            LamportClock(),
        )
        for clock in (self.clock, self.event_clock, self.query_clock):
            clock.increment()  # as serf Create: the first usable time is 1
        self.queues = SerfBroadcasts(config)
        self.event_ring = EventRing(self.event_clock, config.event_buffer)
        self.query_ring = QueryRing(self.query_clock, config.query_buffer)
        self.query_min_time = 0
        """serf queryMinTime: queries below it were seen before a restart and are dropped."""
        if restored_clocks is not None:
            self._restore_clocks(*restored_clocks)
        self.join_ignore_old = False
        self._decode_errors = 0
        self.name_conflicts = 0
        self.deadlines: DeadlineQueue[tuple[object, ...]] = DeadlineQueue()
        self._events: deque[GossipEvent] = deque()
        self.table = MemberTable(
            config, name=name, clock=self.clock, deadlines=self.deadlines, events=self._events
        )
        self.state = SerfState.ALIVE
        self._tokens = itertools.count(1)
        self._waits: dict[int, tuple[object, Callable[[float, str | None], None], str]] = {}
        self.swim = SwimNode(
            config.memberlist,
            name=name,
            addr=addr,
            versions=config.versions,
            rng=rng,
            now=now,
            delegate=self,
            incarnation=restored_incarnation,
        )
        self.deadlines.schedule(("reap",), now + config.reap_interval)
        self.deadlines.schedule(("reconnect",), now + config.reconnect_interval)
        self.deadlines.schedule(("queue_check",), now + config.queue_check_interval)

    def _restore_clocks(self, member: int, event: int, query: int) -> None:
        """As serf.Create with a snapshot: witness the old times after the first increment.

        A clock then reads max(1, old + 1); events and queries at or below the old times
        count as already seen (Go's uint64 `old + 1` wraps, so does ours).
        """
        self.clock.witness(member)
        self.event_clock.witness(event)
        self.query_clock.witness(query)
        self.event_ring.min_time = (event + 1) & U64
        self.query_min_time = (query + 1) & U64

    @property
    def state(self) -> SerfState:
        return self._state

    @state.setter
    def state(self, state: SerfState) -> None:
        """Only an alive serf refutes leave intents about itself (serf handleNodeLeaveIntent)."""
        self._state = state
        self.table.refute = self._refute_leave if state is SerfState.ALIVE else None

    def _refute_leave(self, now: float) -> None:
        self._broadcast_join(now, self.clock.time())

    @property
    def decode_errors(self) -> int:
        """Malformed serf payloads and tags dropped so far."""
        return self._decode_errors + self.table.decode_errors

    # ---- driver interface -----------------------------------------------------------------

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        self.swim.handle_datagram(now, src, data)
        self._after_input(now)

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        reply = self.swim.handle_stream(now, src, data)
        self._after_input(now)
        return reply

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        self.swim.handle_stream_result(now, token, reply, error)
        self._after_input(now)

    def handle_timer(self, now: float) -> None:
        self.swim.handle_timer(now)
        self.deadlines.fire_due(now, lambda key: self._on_deadline(now, key), self._running)
        self._after_input(now)

    def _running(self) -> bool:
        return self.state is not SerfState.SHUTDOWN

    def next_deadline(self) -> float | None:
        if self.state is SerfState.SHUTDOWN:
            return None
        ours, theirs = self.deadlines.peek(), self.swim.next_deadline()
        if ours is None or theirs is None:
            return theirs if ours is None else ours
        return min(ours, theirs)

    def datagrams_to_send(self) -> list[Datagram]:
        return self.swim.datagrams_to_send()

    def streams_to_open(self) -> list[StreamRequest]:
        return self.swim.streams_to_open()

    def next_event(self) -> GossipEvent | None:
        return self._events.popleft() if self._events else None

    def shutdown(self, now: float) -> None:
        """Stop at once: no more messages (peers will see a failure unless we left first)."""
        self.swim.advance(now)
        self.state = SerfState.SHUTDOWN
        self.swim.shutdown()

    # ---- reads ------------------------------------------------------------------------------

    def members(self) -> list[Member]:
        return [m.snapshot() for m in self.table.states.values()]

    @property
    def members_version(self) -> int:
        """Changes whenever `members()` would answer differently (for caching renderings)."""
        return self.table.version

    def local_member(self) -> Member:
        return self.table.states[self.name].snapshot()

    @property
    def clock_times(self) -> tuple[int, int, int]:
        """Current (member, event, query) Lamport times, for a snapshot of this node."""
        return (self.clock.time(), self.event_clock.time(), self.query_clock.time())

    @property
    def incarnation(self) -> int:
        """The highest memberlist incarnation we have used for ourselves."""
        return self.swim.incarnation

    def stats(self) -> dict[str, str]:
        """serf Stats(): every value a decimal string, as `serf info` and Nomad print them."""
        return {
            "members": str(len(self.table.states)),
            "failed": str(len(self.table.failed)),
            "left": str(len(self.table.left)),
            "health_score": str(self.swim.awareness.score),
            "member_time": str(self.clock.time()),
            "event_time": str(self.event_clock.time()),
            "query_time": str(self.query_clock.time()),
            "intent_queue": str(len(self.queues.intents)),
            "event_queue": str(len(self.queues.events)),
            "query_queue": str(len(self.queues.queries)),
            "encrypted": "false",
            # We keep no Vivaldi coordinates, so the client never resets: always 0.
            "coordinate_resets": "0",
        }

    # ---- commands ---------------------------------------------------------------------------

    def join(self, now: float, seeds: Sequence[Address], *, ignore_old: bool = True) -> int:
        """serf Join: push-pull with each seed, then announce ourselves with a join intent.

        The outcome is a JoinCompleted event with the returned token.
        """
        token = next(self._tokens)
        if self.state is not SerfState.ALIVE:
            self.swim.advance(now)
            error = "Serf can't Join after Leave or Shutdown"
            self._events.append(JoinCompleted(token, 0, (error,), multierror=False))
            return token

        def done(at: float, joined: int, errors: list[str]) -> None:
            self.join_ignore_old = False
            if joined > 0:
                self._broadcast_join(at, self.clock.time())
            self._events.append(JoinCompleted(token, joined, tuple(errors)))

        self.swim.join(now, seeds, done)  # raises UsageError before anything changes
        self.join_ignore_old = ignore_old  # only for this join's duration, as serf
        self._after_input(now)
        return token

    def leave(self, now: float) -> int:
        """serf Leave: intent, memberlist leave, then linger `leave_propagate_delay`."""
        self.swim.advance(now)
        token = next(self._tokens)
        if self.state is not SerfState.ALIVE:
            error = {
                SerfState.LEFT: None,
                SerfState.LEAVING: "Leave already in progress",
                SerfState.SHUTDOWN: "Leave called after Shutdown",
            }[self.state]
            self._events.append(LeaveCompleted(token, error))
            return token
        self.state = SerfState.LEAVING
        intent = LeaveIntent(self.clock.time(), self.name)
        self.clock.increment()
        self.table.on_leave_intent(now, intent)

        def after_intent(at: float, error: str | None) -> None:
            if error is not None:
                self._events.append(LeaveCompleted(token, error))
            else:
                self.swim.leave(at, self.config.broadcast_timeout, after_memberlist)

        def after_memberlist(at: float, error: str | None) -> None:
            if error is not None:
                self._events.append(LeaveCompleted(token, error))
            else:
                self.deadlines.schedule(("left", token), at + self.config.leave_propagate_delay)

        if self.table.has_alive_members():
            self._broadcast_and_wait(
                now, intent, after_intent, "timeout while waiting for graceful leave"
            )
        else:
            after_intent(now, None)
        self._after_input(now)
        return token

    def force_leave(self, now: float, node: str, prune: bool = False) -> int:
        """serf RemoveFailedNode(Prune): a leave intent about another node, on its behalf."""
        self.swim.advance(now)
        token = next(self._tokens)
        intent = LeaveIntent(self.clock.time(), node, prune)
        self.clock.increment()
        self.table.on_leave_intent(now, intent)

        def done(at: float, error: str | None) -> None:
            self._events.append(ForceLeaveCompleted(token, error))

        if self.table.has_alive_members():
            self._broadcast_and_wait(now, intent, done, "timed out broadcasting node removal")
        else:
            done(now, None)
        self._after_input(now)
        return token

    def set_tags(self, now: float, tags: Mapping[str, str]) -> None:
        """serf SetTags: new meta, announced with the next incarnation (peers: member-update)."""
        if len(encode_tags(tags)) > META_MAX_SIZE:
            raise UsageError(f"encoded tags exceed the {META_MAX_SIZE} byte limit")
        self.swim.advance(now)  # a time going backwards raises before anything changes
        self.tags = dict(tags)
        self.swim.update_meta(now)
        self._after_input(now)

    # ---- broadcasting and waiting -----------------------------------------------------------

    def _broadcast_and_wait(
        self,
        now: float,
        msg: LeaveIntent,
        on_done: Callable[[float, str | None], None],
        timeout_error: str,
    ) -> None:
        wait_id = next(self._tokens)
        notify = object()
        self._waits[wait_id] = (notify, on_done, timeout_error)
        self.queues.intents.queue(encode_serf(msg), notify=notify)
        self.deadlines.schedule(("wait", wait_id), now + self.config.broadcast_timeout)

    def _broadcast_join(self, now: float, ltime: int) -> None:
        msg = JoinIntent(ltime, self.name)
        self.clock.witness(ltime)
        self.table.on_join_intent(now, msg)
        self.queues.intents.queue(encode_serf(msg))

    def _after_input(self, now: float) -> None:
        self.swim.wake_gossip(now)
        finished = self.queues.take_finished()
        if not finished or not self._waits:
            return
        for wait_id, (notify, on_done, _) in list(self._waits.items()):
            if any(t is notify for t in finished):
                del self._waits[wait_id]
                self.deadlines.cancel(("wait", wait_id))
                on_done(now, None)

    def _on_deadline(self, now: float, key: tuple[object, ...]) -> None:
        kind = key[0]
        if kind == "reap":
            self.deadlines.schedule(key, now + self.config.reap_interval)
            self.table.reap(now)
        elif kind == "reconnect":
            self.deadlines.schedule(key, now + self.config.reconnect_interval)
            self._reconnect(now)
        elif kind == "queue_check":
            self.deadlines.schedule(key, now + self.config.queue_check_interval)
            self.queues.check_depth(len(self.table.states))
        elif kind == "wait":
            held = self._waits.pop(key[1], None)  # type: ignore[arg-type]
            if held is not None:
                held[1](now, held[2])
        elif kind == "left":
            self.state = SerfState.LEFT
            self._events.append(LeaveCompleted(key[1], None))  # type: ignore[arg-type]
        elif kind == "prune":
            member = self.table.states.get(key[1])  # type: ignore[arg-type]
            if member is not None and member is key[2]:
                self.table.prune_now(member)

    def notify_join(self, now: float, node: NodeEntry) -> None:
        self.table.notify_join(now, node)

    def notify_leave(self, now: float, node: NodeEntry) -> None:
        self.table.notify_leave(now, node)

    def notify_update(self, now: float, node: NodeEntry) -> None:
        self.table.notify_update(now, node)

    def notify_conflict(self, now: float, existing: NodeEntry, other: Alive) -> None:
        """Another address claims a live name. serf only warns (resolution is not modelled)."""
        self.name_conflicts += 1

    # ---- memberlist delegate ----------------------------------------------------------------

    def node_meta(self, limit: int) -> bytes:
        return encode_tags(self.tags)

    def has_broadcasts(self) -> bool:
        return bool(self.queues)

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        return self.queues.get(overhead, limit, len(self.table.states))

    def local_state(self, join: bool) -> bytes:
        status_ltimes = {name: m.status_ltime for name, m in self.table.states.items()}
        left = tuple(name for name, m in self.table.states.items() if m.status is MemberStatus.LEFT)
        state = SerfPushPull(
            ltime=self.clock.time(),
            status_ltimes=status_ltimes,
            left_members=left,
            event_ltime=self.event_clock.time(),
            events=tuple(self.event_ring.slots),
            query_ltime=self.query_clock.time(),
        )
        return encode_serf(state)

    def merge_remote_state(self, now: float, buf: bytes, join: bool) -> None:
        try:
            pp = decode_serf(buf)
        except DecodeError:
            self._decode_errors += 1
            return
        if not isinstance(pp, SerfPushPull):
            return
        for clock, remote in (
            (self.clock, pp.ltime),
            (self.event_clock, pp.event_ltime),
            (self.query_clock, pp.query_ltime),
        ):
            if remote > 0:
                clock.witness(remote - 1)
        left = set(pp.left_members)
        for name in pp.left_members:
            self.table.on_leave_intent(now, LeaveIntent(pp.status_ltimes.get(name, 0) + 1, name))
        for name, ltime in pp.status_ltimes.items():
            if name not in left:
                self.table.on_join_intent(now, JoinIntent(ltime, name))
        if join and self.join_ignore_old:
            self.event_ring.min_time = max(self.event_ring.min_time, pp.event_ltime)
        for slot in pp.events:
            if slot is not None:
                for record in slot.events:
                    self.event_ring.accept(slot.ltime, record.name, record.payload)

    def notify_msg(self, now: float, payload: bytes) -> None:
        """A serf message from gossip: apply it, and re-gossip it unchanged if it was news."""
        try:
            msg = decode_serf(payload)
        except DecodeError:
            self._decode_errors += 1
            return
        if isinstance(msg, LeaveIntent):
            if self.table.on_leave_intent(now, msg):
                self.queues.intents.queue(payload)
        elif isinstance(msg, JoinIntent):
            if self.table.on_join_intent(now, msg):
                self.queues.intents.queue(payload)
        elif isinstance(msg, UserEvent):
            if self.event_ring.accept(msg.ltime, msg.name, msg.payload):
                self.queues.events.queue(payload)
        elif isinstance(msg, Query):
            self._on_query(now, msg, payload)

    def _on_query(self, now: float, query: Query, payload: bytes) -> None:
        """Dedup and re-gossip queries; ack when asked. We run no query handlers (yet)."""
        if query.ltime < self.query_min_time:  # as serf handleQuery: witness, then drop
            self.query_clock.witness(query.ltime)
            return
        if not self.query_ring.accept(query.ltime, query.id):
            return
        if not query.flags & QUERY_FLAG_NO_BROADCAST:
            self.queues.queries.queue(payload)
        if query.flags & QUERY_FLAG_ACK and len(query.addr) in (4, 16):
            ack = QueryResponse(query.ltime, query.id, self.name, QUERY_FLAG_ACK, b"")
            dst = Address(bytes_to_ip(query.addr), query.port)
            self.swim.send_user(dst, encode_serf(ack))

    # ---- reconnecting -----------------------------------------------------------------------

    def _reconnect(self, now: float) -> None:
        """serf reconnect: retry one random failed member with probability failed/alive."""
        if not self.table.failed:
            return
        alive = max(1, len(self.table.states) - len(self.table.failed) - len(self.table.left))
        if self.rng.random() > len(self.table.failed) / alive:
            return
        member = self.table.failed[self.rng.randrange(len(self.table.failed))]
        self.swim.join(now, [member.address], lambda *_: None)
