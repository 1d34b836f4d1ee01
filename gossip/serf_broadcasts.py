"""serf's three broadcast queues and the order they share a packet in (serf delegate.go:
GetBroadcasts, serf.go: checkQueueDepth).

Intents (join, leave) come first, then queries, then user events, each in whatever space the
ones before left. serf's broadcasts are never invalidated, and their retransmit limit grows
with serf's member count (every status), not memberlist's. A queue that grows past its
depth limit is pruned, oldest-most-sent first.
"""

from __future__ import annotations

from gossip.broadcasts import TransmitLimitedQueue
from gossip.config import SerfConfig
from gossip.timing import retransmit_limit


class SerfBroadcasts:
    """The intent, query and event queues of one serf."""

    def __init__(self, config: SerfConfig) -> None:
        self.config = config
        self.intents = TransmitLimitedQueue()
        self.queries = TransmitLimitedQueue()
        self.events = TransmitLimitedQueue()

    def __bool__(self) -> bool:
        return bool(self.intents or self.queries or self.events)

    def get(self, overhead: int, limit: int, num_members: int) -> list[bytes]:
        """serf's queues in serf's order: intents, then queries, then user events."""
        transmit_limit = retransmit_limit(self.config.memberlist.retransmit_mult, num_members)
        msgs = self.intents.get_broadcasts(overhead, limit, transmit_limit)
        used = sum(len(m) + overhead for m in msgs)
        for queue in (self.queries, self.events):
            if limit - used <= overhead:
                break
            more = queue.get_broadcasts(overhead, limit - used, transmit_limit)
            used += sum(len(m) + overhead for m in more)
            msgs.extend(more)
        return msgs

    def take_finished(self) -> list[object]:
        """Notify tokens of intents that went out in full (queries and events carry none)."""
        self.queries.take_finished()
        self.events.take_finished()
        return self.intents.take_finished()

    def check_depth(self, num_members: int) -> None:
        """serf checkQueueDepth: prune a queue that grew past its limit."""
        limit = self.config.max_queue_depth
        if self.config.min_queue_depth > 0:
            limit = max(self.config.min_queue_depth, 2 * num_members)
        for queue in (self.intents, self.queries, self.events):
            if len(queue) > limit:
                queue.prune(limit)
