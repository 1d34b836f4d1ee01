"""SerfCore: serf 0.9.4's membership layer over SwimNode, sans-IO.

Theory of operation. memberlist only knows alive/suspect/dead/left. serf adds *intent*:
a node that means to go says so first (a leave intent), so peers can tell a graceful
`left` from a crash (`failed`). Intents are ordered by a Lamport clock, not by incarnation:
each member carries the LTime of the last intent applied to it (`status_ltime`), and an
intent no newer than that changes nothing and is not re-gossiped. Intents about names we do
not know yet are buffered for `recent_intent_timeout`, because gossip may deliver them before
the node itself. serf's own broadcasts (intents, user events, queries) ride in the space
memberlist leaves in each packet.

Status changes follow serf.go's handlers exactly (handleNodeJoin, handleNodeLeave,
handleNodeUpdate, handleNodeJoinIntent, handleNodeLeaveIntent); they live in `serf_members.py`.
Failed and left members are kept (and reported) until reaped after `reconnect_timeout` /
`tombstone_timeout`; meanwhile each failed member is retried with a memberlist join about once
per `reconnect_interval` across the cluster.

The other concepts live in their own modules, wired together here: the intents we send and
the leave / force-leave steps (`intents.py`), serf's broadcast queues (`serf_broadcasts.py`),
the dedup rings (`user_events.py`), queries with their filters, acks and answers
(`queries.py`, `query_filters.py`), name conflict resolution by the `_serf_conflict` query
(`conflict.py`), the push-pull user state (`serf_push_pull.py`) and Stats()
(`serf_stats.py`).

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
from collections.abc import Mapping, Sequence
from enum import Enum

from gossip.codec import decode_serf_gossip, encode_tags
from gossip.config import SerfConfig
from gossip.conflict import ConflictResolver
from gossip.deadlines import DeadlineQueue
from gossip.errors import DecodeError, UsageError
from gossip.events import (
    GossipEvent,
    JoinCompleted,
    KeyQueryCompleted,
    KeyringChanged,
    LeaveCompleted,
)
from gossip.intents import Intents
from gossip.key_queries import KeyOp, KeyQueries, KeyResponse
from gossip.keyring import Keyring
from gossip.lamport import U64, LamportClock
from gossip.membership import NodeEntry
from gossip.messages import (
    Alive,
    JoinIntent,
    LeaveIntent,
    Query,
    QueryResponse,
    SerfMessageType,
    UserEvent,
)
from gossip.outputs import Datagram, StreamRequest
from gossip.queries import Queries, default_query_timeout
from gossip.serf_broadcasts import SerfBroadcasts
from gossip.serf_members import MemberTable
from gossip.serf_push_pull import PushPullState
from gossip.serf_stats import serf_stats
from gossip.swim import META_MAX_SIZE, SwimNode
from gossip.timers import (
    BroadcastWait,
    LeavePropagated,
    PruneMember,
    QueryTimeout,
    SerfTimer,
    TimerKind,
)
from gossip.types import Address, Member
from gossip.user_events import EventRing

_UNSUPPORTED = frozenset(
    {
        SerfMessageType.PUSH_PULL,  # only ever inside memberlist's push-pull
        SerfMessageType.CONFLICT_RESPONSE,  # only ever inside a query response
        SerfMessageType.KEY_REQUEST,  # only ever inside a query
        SerfMessageType.KEY_RESPONSE,  # only ever inside a query response
        SerfMessageType.RELAY,  # response relaying is not modelled (queries.py)
    }
)
"""serf message types that may reach notify_msg and that we do not act on."""


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
        keyring: Keyring | None = None,
    ) -> None:
        """Create the instance; nothing is sent before `join`.

        With a `keyring` gossip is encrypted (memberlist's Config.Keyring, see
        `gossip/security.py`), and the `_serf_*-key` queries change it pool-wide.

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
        self.clocks = (LamportClock(), LamportClock(), LamportClock())
        """The member, event and query clocks, in that order (as push-pull and stats use them)."""
        self.clock, self.event_clock, self.query_clock = self.clocks
        for clock in self.clocks:
            clock.increment()  # as serf Create: the first usable time is 1
        self.deadlines: DeadlineQueue[SerfTimer] = DeadlineQueue()
        self.queues = SerfBroadcasts(config, self.deadlines)
        self.event_ring = EventRing(self.event_clock, config.event_buffer)
        self._events: deque[GossipEvent] = deque()
        self.queries = Queries(
            config,
            name=name,
            addr=addr,
            clock=self.query_clock,
            rng=rng,
            deadlines=self.deadlines,
            events=self._events,
            queue=self.queues.queries,
            send=lambda dst, raw: self.swim.send_user(dst, raw),
            tags=lambda: self.tags,
        )
        if restored_clocks is not None:
            self._restore_clocks(*restored_clocks)
        self.join_ignore_old = False
        self._decode_errors = 0
        self.unsupported = 0
        """serf messages we receive and deliberately do not act on (relays, key and conflict
        answers arriving as gossip, push-pull as a user message): dropped and counted."""
        self.keyring_changes = 0
        """Key installs, uses and removals applied to our keyring (each also a KeyringChanged)."""
        self.table = MemberTable(
            config, name=name, clock=self.clock, deadlines=self.deadlines, events=self._events
        )
        self.push_pull = PushPullState(self.clocks, self.table, self.event_ring)
        self.conflicts = ConflictResolver(
            config,
            name=name,
            addr=addr,
            members=self.table.states,
            queries=self.queries,
            events=self._events,
            num_members=lambda: self.swim.membership.num_live_nodes(),
            shutdown=self.shutdown,
        )
        self.state = SerfState.ALIVE
        self._tokens = itertools.count(1)
        self.swim = SwimNode(
            config.memberlist,
            name=name,
            addr=addr,
            versions=config.versions,
            rng=rng,
            now=now,
            delegate=self,
            incarnation=restored_incarnation,
            keyring=keyring,
        )
        self.keys = KeyQueries(
            self.queries, keyring=lambda: self.swim.keyring, on_change=self._keyring_changed
        )
        self.intents = Intents(
            config,
            name=name,
            clock=self.clock,
            table=self.table,
            queues=self.queues,
            deadlines=self.deadlines,
            events=self._events,
            swim=self.swim,
        )
        self.deadlines.schedule(TimerKind.REAP, now + config.reap_interval)
        self.deadlines.schedule(TimerKind.RECONNECT, now + config.reconnect_interval)
        self.deadlines.schedule(TimerKind.QUEUE_CHECK, now + config.queue_check_interval)

    def _restore_clocks(self, member: int, event: int, query: int) -> None:
        """As serf.Create with a snapshot: witness the old times after the first increment.

        A clock then reads max(1, old + 1); events and queries at or below the old times
        count as already seen (Go's uint64 `old + 1` wraps, so does ours).
        """
        self.clock.witness(member)
        self.event_clock.witness(event)
        self.query_clock.witness(query)
        self.event_ring.min_time = (event + 1) & U64
        self.queries.min_time = (query + 1) & U64

    @property
    def state(self) -> SerfState:
        return self._state

    @state.setter
    def state(self, state: SerfState) -> None:
        """Only an alive serf refutes leave intents about itself (serf handleNodeLeaveIntent)."""
        self._state = state
        self.table.refute = self._refute_leave if state is SerfState.ALIVE else None

    def _refute_leave(self, now: float) -> None:
        self.intents.broadcast_join(now, self.clock.time())

    @property
    def decode_errors(self) -> int:
        """Malformed serf payloads, tags, query filters and conflict answers dropped so far."""
        return (
            self._decode_errors
            + self.table.decode_errors
            + self.queries.decode_errors
            + self.conflicts.decode_errors
        )

    @property
    def name_conflicts(self) -> int:
        """Name conflicts memberlist reported so far (about anyone)."""
        return self.conflicts.conflicts

    # ---- driver interface -----------------------------------------------------------------

    # memberlist's inputs end with memberlist waking its gossip after everything serf did in
    # its callbacks; serf then only settles its broadcast waits.

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        self.swim.handle_datagram(now, src, data)
        self.queues.settle(now)

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        reply = self.swim.handle_stream(now, src, data)
        self.queues.settle(now)
        return reply

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        self.swim.handle_stream_result(now, token, reply, error)
        self.queues.settle(now)

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
        return self.swim.outbox.take_datagrams()

    def streams_to_open(self) -> list[StreamRequest]:
        return self.swim.outbox.take_streams()

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
        return serf_stats(
            self.table,
            self.clocks,
            self.queues,
            self.swim.awareness.score,
            encrypted=self.swim.encrypted,
        )

    @property
    def encrypted(self) -> bool:
        """serf EncryptionEnabled."""
        return self.swim.encrypted

    def _keyring_changed(self) -> None:
        self.keyring_changes += 1
        keyring = self.swim.keyring
        if keyring is not None:
            self._events.append(KeyringChanged(keyring.keys))

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
                self.intents.broadcast_join(at, self.clock.time())
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
        self.intents.leave(now, token)
        self._after_input(now)
        return token

    def force_leave(self, now: float, node: str, prune: bool = False) -> int:
        """serf RemoveFailedNode(Prune): a leave intent about another node, on its behalf."""
        self.swim.advance(now)
        token = next(self._tokens)
        self.intents.force_leave(now, token, node, prune)
        self._after_input(now)
        return token

    def key_operation(self, now: float, op: KeyOp, key: bytes | None = None) -> int:
        """serf KeyManager's InstallKey / UseKey / RemoveKey / ListKeys across the pool.

        The outcome is a KeyQueryCompleted event with the returned token, once every member
        memberlist counts has answered or at serf's default query timeout.
        """
        self.swim.advance(now)
        token = next(self._tokens)
        num_nodes = self.swim.membership.num_live_nodes()
        timeout = default_query_timeout(self.config.memberlist.gossip_interval, num_nodes)

        def done(at: float, response: KeyResponse) -> None:
            self._events.append(KeyQueryCompleted(token, response))

        failure: str | None = None
        if self.state is not SerfState.ALIVE:
            failure = "Serf can't query after Leave or Shutdown"
        elif not self.keys.ask(now, op, key, num_nodes=num_nodes, timeout=timeout, on_done=done):
            failure = "the key query was not sent (serf protocol below 4, or over the size limit)"
        if failure is not None:
            self._events.append(KeyQueryCompleted(token, KeyResponse(failure=failure)))
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

    # ---- internals --------------------------------------------------------------------------

    def _after_input(self, now: float) -> None:
        self.swim.wake_gossip(now)
        self.queues.settle(now)

    def _on_deadline(self, now: float, key: SerfTimer) -> None:
        match key:
            case TimerKind.REAP:
                self.deadlines.schedule(key, now + self.config.reap_interval)
                self.table.reap(now)
            case TimerKind.RECONNECT:
                self.deadlines.schedule(key, now + self.config.reconnect_interval)
                self._reconnect(now)
            case TimerKind.QUEUE_CHECK:
                self.deadlines.schedule(key, now + self.config.queue_check_interval)
                self.queues.check_depth(len(self.table.states))
            case BroadcastWait(wait_id):
                self.queues.wait_expired(now, wait_id)
            case LeavePropagated(token):
                self.state = SerfState.LEFT
                self._events.append(LeaveCompleted(token, None))
            case PruneMember(name, member):
                if self.table.states.get(name) is member:
                    self.table.prune_now(member)
            case QueryTimeout(ltime):
                self.queries.expire(now, ltime)

    def notify_join(self, now: float, node: NodeEntry) -> None:
        self.table.notify_join(now, node)

    def notify_leave(self, now: float, node: NodeEntry) -> None:
        self.table.notify_leave(now, node)

    def notify_update(self, now: float, node: NodeEntry) -> None:
        self.table.notify_update(now, node)

    def notify_conflict(self, now: float, existing: NodeEntry, other: Alive) -> None:
        """Another address claims a live name: report it; resolve it if the name is ours."""
        self.conflicts.on_conflict(now, existing, other)

    # ---- memberlist delegate ----------------------------------------------------------------

    def node_meta(self, limit: int) -> bytes:
        return encode_tags(self.tags)

    def has_broadcasts(self) -> bool:
        return bool(self.queues)

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        return self.queues.get(overhead, limit, len(self.table.states))

    def local_state(self, join: bool) -> bytes:
        return self.push_pull.local()

    def merge_remote_state(self, now: float, buf: bytes, join: bool) -> None:
        try:
            self.push_pull.merge(now, buf, ignore_old=join and self.join_ignore_old)
        except DecodeError:
            self._decode_errors += 1

    def notify_msg(self, now: float, payload: bytes) -> None:
        """A serf message from gossip: apply it, and re-gossip it unchanged if it was news."""
        if payload and payload[0] in _UNSUPPORTED:
            self.unsupported += 1
            return
        try:
            msg = decode_serf_gossip(payload)
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
            self.queries.on_gossip(now, msg, payload)
        elif isinstance(msg, QueryResponse):
            self.queries.on_response(now, msg)

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
