"""The intents this node sends (serf.go: broadcastJoin, Leave, RemoveFailedNode, forceLeave).

Theory of operation. An intent is applied to our own member table first, stamped with the
member clock's current time (a leave intent then moves the clock on, a join intent is
witnessed), and then gossiped on serf's intent queue. A join intent announces us after a join
and refutes a leave intent about us. Leave and force-leave wait for their intent to go out, up
to BroadcastTimeout, but only if some other member is alive: with nobody to tell, serf goes on
at once (and so never tells the target of a force-leave that was the only other live member:
serf.go `Leave` and `forceLeave` test `hasAliveMembers`). A graceful leave then runs
memberlist's leave and lingers LeavePropagateDelay, still answering probes, before the core
counts as left: the deadline `LeavePropagated(token)`, which the core handles.

Receiving intents is `serf_members.py`'s business; the core's lifecycle checks (can we leave
at all?) stay in `SerfCore`.
"""

from __future__ import annotations

from collections import deque

from gossip.codec import encode_serf
from gossip.config import SerfConfig
from gossip.deadlines import DeadlineScheduler
from gossip.events import ForceLeaveCompleted, GossipEvent, LeaveCompleted
from gossip.lamport import LamportClock
from gossip.messages import JoinIntent, LeaveIntent
from gossip.serf_broadcasts import SerfBroadcasts
from gossip.serf_members import MemberTable
from gossip.swim import SwimNode
from gossip.timers import LeavePropagated

LEAVE_TIMEOUT_ERROR = "timeout while waiting for graceful leave"
FORCE_LEAVE_TIMEOUT_ERROR = "timed out broadcasting node removal"


class Intents:
    """Sends this node's join and leave intents and runs the leave / force-leave steps."""

    def __init__(
        self,
        config: SerfConfig,
        *,
        name: str,
        clock: LamportClock,
        table: MemberTable,
        queues: SerfBroadcasts,
        deadlines: DeadlineScheduler[LeavePropagated],
        events: deque[GossipEvent],
        swim: SwimNode,
    ) -> None:
        self.config = config
        self.name = name
        self.clock = clock
        self.table = table
        self.queues = queues
        self.deadlines = deadlines
        self.events = events
        self.swim = swim

    def broadcast_join(self, now: float, ltime: int) -> None:
        """serf broadcastJoin: witness `ltime`, apply our join intent, gossip it."""
        msg = JoinIntent(ltime, self.name)
        self.clock.witness(ltime)
        self.table.on_join_intent(now, msg)
        self.queues.intents.queue(encode_serf(msg))

    def leave(self, now: float, token: int) -> None:
        """serf Leave once the state allows it: intent, memberlist leave, then the linger."""
        intent = LeaveIntent(self.clock.time(), self.name)
        self.clock.increment()
        self.table.on_leave_intent(now, intent)

        def after_intent(at: float, error: str | None) -> None:
            if error is not None:
                self.events.append(LeaveCompleted(token, error))
            else:
                self.swim.leave(at, self.config.broadcast_timeout, after_memberlist)

        def after_memberlist(at: float, error: str | None) -> None:
            if error is not None:
                self.events.append(LeaveCompleted(token, error))
            else:
                delay = self.config.leave_propagate_delay
                self.deadlines.schedule(LeavePropagated(token), at + delay)

        if self.table.has_alive_members():
            self.queues.queue_and_wait(now, encode_serf(intent), after_intent, LEAVE_TIMEOUT_ERROR)
        else:
            after_intent(now, None)

    def force_leave(self, now: float, token: int, node: str, prune: bool) -> None:
        """serf RemoveFailedNode(Prune): a leave intent about another node, on its behalf."""
        intent = LeaveIntent(self.clock.time(), node, prune)
        self.clock.increment()
        self.table.on_leave_intent(now, intent)

        def done(at: float, error: str | None) -> None:
            self.events.append(ForceLeaveCompleted(token, error))

        if self.table.has_alive_members():
            self.queues.queue_and_wait(now, encode_serf(intent), done, FORCE_LEAVE_TIMEOUT_ERROR)
        else:
            done(now, None)
