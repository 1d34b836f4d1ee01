"""serf's part of a memberlist push-pull: the user state it sends and how it merges a peer's
(serf delegate.go: LocalState, MergeRemoteState; messages.go: `messagePushPull`).

Theory of operation. Gossip may lose an intent or an event; push-pull repairs that. Our state
lists the three Lamport times, every member's status LTime, the names of left members and the
whole user-event ring. Merging a peer's replays it through the ordinary rules: the clocks
witness the peer's times minus one, each left member gets a leave intent one past its status
LTime, every other member a join intent at its LTime, and each event goes through the event
ring's dedup. A join that ignores old events first raises the ring's minimum time to the
peer's event time, so history from before we joined is not delivered.
"""

from __future__ import annotations

from gossip.lamport import U64, LamportClock
from gossip.messages import JoinIntent, LeaveIntent, SerfPushPull
from gossip.serf_codec import decode_serf, encode_serf
from gossip.serf_members import MemberTable
from gossip.user_events import EventRing


class PushPullState:
    """Encodes and merges serf's push-pull user state for one serf."""

    def __init__(
        self,
        clocks: tuple[LamportClock, LamportClock, LamportClock],
        table: MemberTable,
        event_ring: EventRing,
    ) -> None:
        self.clocks = clocks
        """The member, event and query clocks, in that order."""
        self.table = table
        self.event_ring = event_ring

    def local(self) -> bytes:
        """serf LocalState: our push-pull user state."""
        clock, event_clock, query_clock = self.clocks
        states = self.table.states
        state = SerfPushPull(
            ltime=clock.time(),
            status_ltimes={name: m.status_ltime for name, m in states.items()},
            left_members=tuple(m.name for m in self.table.left),  # serf's leftMembers order
            event_ltime=event_clock.time(),
            events=tuple(self.event_ring.slots),
            query_ltime=query_clock.time(),
        )
        return encode_serf(state)

    def merge(self, now: float, buf: bytes, *, ignore_old: bool) -> None:
        """serf MergeRemoteState; `ignore_old` for a join that does not replay old events.

        Raises:
            DecodeError: `buf` is not a serf message (nothing is changed).
        """
        pp = decode_serf(buf)
        if not isinstance(pp, SerfPushPull):
            return
        for clock, remote in zip(
            self.clocks, (pp.ltime, pp.event_ltime, pp.query_ltime), strict=True
        ):
            if remote > 0:
                clock.witness(remote - 1)
        table = self.table
        left = set(pp.left_members)
        for name in pp.left_members:
            table.on_leave_intent(now, LeaveIntent(pp.status_ltimes.get(name, 0) + 1, name))
        ltimes = pp.status_ltimes
        # Witnessing each join intent's time in turn is witnessing the largest, except where
        # the clock wraps: then every intent goes through in full.
        top = max(ltimes.values(), default=U64)  # an empty table: nothing to witness
        shortcut = top < U64
        if shortcut:
            table.clock.witness(top)
        states = table.states
        for name, ltime in ltimes.items():
            member = states.get(name)
            if shortcut and member is not None and ltime <= member.status_ltime:
                continue  # old news, as most of a settled table is: nothing to do
            if name not in left:
                table.on_join_intent(now, JoinIntent(ltime, name))
        if ignore_old:
            self.event_ring.min_time = max(self.event_ring.min_time, pp.event_ltime)
        for slot in pp.events:
            if slot is not None:
                for record in slot.events:
                    self.event_ring.accept(slot.ltime, record.name, record.payload)
