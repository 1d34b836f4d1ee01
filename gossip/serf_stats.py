"""serf Stats() (serf.go: Stats): what `serf info` and Nomad's
`/v1/agent/self` print under "serf", every value a decimal string.
"""

from __future__ import annotations

from gossip.lamport import LamportClock
from gossip.serf_broadcasts import SerfBroadcasts
from gossip.serf_members import MemberTable


def serf_stats(
    table: MemberTable,
    clocks: tuple[LamportClock, LamportClock, LamportClock],
    queues: SerfBroadcasts,
    health_score: int,
    encrypted: bool = False,
) -> dict[str, str]:
    """The stats of one serf; `clocks` are the member, event and query clocks."""
    clock, event_clock, query_clock = clocks
    return {
        "members": str(len(table.states)),  # every status, ourselves included, until reaped
        "failed": str(len(table.failed)),
        "left": str(len(table.left)),  # leaving members are not counted
        "health_score": str(health_score),
        "member_time": str(clock.time()),
        "event_time": str(event_clock.time()),
        "query_time": str(query_clock.time()),
        "intent_queue": str(len(queues.intents)),
        "event_queue": str(len(queues.events)),
        "query_queue": str(len(queues.queries)),
        "encrypted": "true" if encrypted else "false",
        # We keep no Vivaldi coordinates, so the client never resets: always 0.
        "coordinate_resets": "0",
    }
