"""serf's member table and its status rules (serf.go: handleNodeJoin, handleNodeLeave,
handleNodeUpdate, handleNodeJoinIntent, handleNodeLeaveIntent, handlePrune, handleReap).

Theory of operation. memberlist reports joins, deaths and meta updates; gossip brings
intents (join, leave) ordered by a Lamport clock. Each member carries the LTime of the last
intent applied to it (`status_ltime`): an intent no newer changes nothing and is not
re-gossiped, which is what makes redelivery harmless. Intents about names we do not know yet
are buffered (the newest per name) so a node whose intent outruns its alive message still
starts in the right status. memberlist's NotifyLeave becomes `left` for a member that said it
was leaving and `failed` for one that did not; failed and left members stay listed until
reaped. Events are queued for the owner in the order the changes happened.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from gossip.config import SerfConfig
from gossip.deadlines import DeadlineScheduler
from gossip.events import GossipEvent, MemberEvent, MemberEventType
from gossip.flyweights import safe_tags_of
from gossip.lamport import LamportClock
from gossip.member_state import MemberState
from gossip.membership import NodeEntry
from gossip.messages import JoinIntent, LeaveIntent, SerfMessageType
from gossip.timers import PruneMember
from gossip.types import MemberStatus


class MemberTable:
    """serf's members map, failed and left lists, and buffered intents."""

    def __init__(
        self,
        config: SerfConfig,
        *,
        name: str,
        clock: LamportClock,
        deadlines: DeadlineScheduler[PruneMember],
        events: deque[GossipEvent],
    ) -> None:
        self.config = config
        self.name = name
        self.clock = clock
        self.deadlines = deadlines
        self.events = events
        self.states: dict[str, MemberState] = {}
        self.failed: list[MemberState] = []
        self.left: list[MemberState] = []
        self.recent_intents: dict[str, tuple[SerfMessageType, int, float]] = {}
        self.decode_errors = 0
        self.version = 0
        """Bumped on every change `members()` would show: lets readers cache renderings."""
        self.refute: Callable[[float], None] | None = None
        """Set while our serf is alive: answers a leave intent about ourselves."""

    def has_alive_members(self) -> bool:
        """Is any other member alive (serf hasAliveMembers)?"""
        return any(
            m.status is MemberStatus.ALIVE and name != self.name for name, m in self.states.items()
        )

    # ---- intents ----------------------------------------------------------------------------

    def upsert_intent(self, name: str, kind: SerfMessageType, ltime: int, now: float) -> bool:
        existing = self.recent_intents.get(name)
        if existing is None or ltime > existing[1]:
            self.recent_intents[name] = (kind, ltime, now)
            return True
        return False

    def on_join_intent(self, now: float, msg: JoinIntent) -> bool:
        """serf handleNodeJoinIntent: True when the intent was news (re-gossip it)."""
        self.clock.witness(msg.ltime)
        member = self.states.get(msg.node)
        if member is None:
            return self.upsert_intent(msg.node, SerfMessageType.JOIN, msg.ltime, now)
        if msg.ltime <= member.status_ltime:
            return False
        member.status_ltime = msg.ltime
        if member.status is MemberStatus.LEAVING:
            member.status = MemberStatus.ALIVE
            self.version += 1  # a status change serf reports with no event
        return True

    def on_leave_intent(self, now: float, msg: LeaveIntent) -> bool:
        """serf handleNodeLeaveIntent: True when the intent was news (re-gossip it)."""
        self.clock.witness(msg.ltime)
        member = self.states.get(msg.node)
        if member is None:
            return self.upsert_intent(msg.node, SerfMessageType.LEAVE, msg.ltime, now)
        if msg.ltime <= member.status_ltime:
            return False
        if msg.node == self.name and self.refute is not None:
            self.refute(now)  # we are alive and not leaving: a newer join intent
            return False
        if member.status is MemberStatus.ALIVE:
            member.status = MemberStatus.LEAVING
            member.status_ltime = msg.ltime
            self.version += 1  # a status change serf reports with no event
        elif member.status is MemberStatus.FAILED:
            # As serf: leaveTime is left alone, so the tombstone counts from the failure.
            member.status = MemberStatus.LEFT
            member.status_ltime = msg.ltime
            if member in self.failed:
                self.failed.remove(member)
            self.left.append(member)
            self.emit(MemberEventType.LEAVE, member)
        elif member.status is not MemberStatus.LEAVING and member.status is not MemberStatus.LEFT:
            return False
        # Leaving or left: as serf, status_ltime stays (a newer join intent still revives a
        # leaving member); the intent is only pruned and re-gossiped.
        if msg.prune:
            self.prune(now, member)
        return True

    def prune(self, now: float, member: MemberState) -> None:
        """serf handlePrune: a leaving member lingers BroadcastTimeout + LeavePropagateDelay."""
        if member.status is MemberStatus.LEAVING:
            delay = self.config.broadcast_timeout + self.config.leave_propagate_delay
            self.deadlines.schedule(PruneMember(member.name, member), now + delay)
        else:
            self.prune_now(member)

    def prune_now(self, member: MemberState) -> None:
        if member in self.left:
            self.left.remove(member)
        if member in self.failed:
            self.failed.remove(member)
        self.erase(member)

    def erase(self, member: MemberState) -> None:
        self.states.pop(member.name, None)
        self.emit(MemberEventType.REAP, member)

    def emit(self, kind: MemberEventType, member: MemberState) -> None:
        self.version += 1
        self.events.append(MemberEvent(kind, member.snapshot()))

    # ---- memberlist events ------------------------------------------------------------------

    def notify_join(self, now: float, node: NodeEntry) -> None:
        """serf handleNodeJoin: a new member, or a failed/left one back with a new incarnation."""
        member = self.states.get(node.name)
        self.check_tags(node.meta)
        if member is None:
            old = MemberStatus.NONE
            member = MemberState(node.info)
            intent = self.recent_intents.get(node.name)
            if intent is not None:
                member.status_ltime = intent[1]
                if intent[0] is SerfMessageType.LEAVE:
                    member.status = MemberStatus.LEAVING
            self.states[node.name] = member
        else:
            old = member.status
            member.status = MemberStatus.ALIVE
            member.leave_time = 0.0
            member.info = node.info
        member.set_versions(node.vsn)
        if old is MemberStatus.FAILED and member in self.failed:
            self.failed.remove(member)
        if old is MemberStatus.LEFT and member in self.left:
            self.left.remove(member)
        self.emit(MemberEventType.JOIN, member)

    def seed_alive(self, nodes: Iterable[tuple[NodeEntry, int]]) -> None:
        """Add alive members, each with its join intent (at the paired LTime) applied.

        What `notify_join` plus that intent leave, minus the events: for a simulator that
        starts from a converged cluster. A member already listed (ourselves) only takes the
        newer LTime. The caller witnesses the LTimes on the clock.
        """
        states = self.states
        for node, ltime in nodes:
            member = states.get(node.name)
            if member is None:
                self.check_tags(node.meta)
                member = states[node.name] = MemberState(node.info)
                member.set_versions(node.vsn)
            member.status_ltime = max(member.status_ltime, ltime)
        self.version += 1

    def notify_leave(self, now: float, node: NodeEntry) -> None:
        """serf handleNodeLeave: leaving -> left (graceful), alive -> failed (crash)."""
        member = self.states.get(node.name)
        if member is None:
            return
        if member.status is MemberStatus.LEAVING:
            member.status = MemberStatus.LEFT
            self.left.append(member)
            kind = MemberEventType.LEAVE
        elif member.status is MemberStatus.ALIVE:
            member.status = MemberStatus.FAILED
            self.failed.append(member)
            kind = MemberEventType.FAILED
        else:
            return
        member.leave_time = now
        self.emit(kind, member)

    def notify_update(self, now: float, node: NodeEntry) -> None:
        member = self.states.get(node.name)
        if member is None:
            return
        self.check_tags(node.meta)
        member.info = node.info
        member.set_versions(node.vsn)
        self.emit(MemberEventType.UPDATE, member)

    def check_tags(self, meta: bytes) -> None:
        """Count meta that is not serf tags (the member then shows no tags)."""
        if safe_tags_of(meta) is None:
            self.decode_errors += 1

    # ---- reaping ----------------------------------------------------------------------------

    def reap(self, now: float) -> None:
        """serf handleReap: erase long-failed and long-left members, expire buffered intents."""
        for members, timeout in (
            (self.failed, self.config.reconnect_timeout),
            (self.left, self.config.tombstone_timeout),
        ):
            for member in [m for m in members if now - m.leave_time > timeout]:
                members.remove(member)
                self.erase(member)
        horizon = self.config.recent_intent_timeout
        for name in [n for n, i in self.recent_intents.items() if now - i[2] > horizon]:
            del self.recent_intents[name]
