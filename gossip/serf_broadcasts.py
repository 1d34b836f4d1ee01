"""serf's three broadcast queues and the order they share a packet in (serf delegate.go:
GetBroadcasts, serf.go: checkQueueDepth).

Intents (join, leave) come first, then queries, then user events, each in whatever space the
ones before left. serf's broadcasts are never invalidated, and their retransmit limit grows
with serf's member count (every status), not memberlist's. A queue that grows past its
depth limit is pruned, oldest-most-sent first.

Leave and force-leave wait for their intent to go out before they go on (serf's broadcast
`notify` channel, bounded by BroadcastTimeout): an intent queued with `queue_and_wait`
completes its wait once it has been retired from the queue, or fails it at the timeout.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from gossip.broadcasts import TransmitLimitedQueue
from gossip.config import SerfConfig
from gossip.deadlines import DeadlineScheduler
from gossip.timers import BroadcastWait
from gossip.timing import retransmit_limit

OnSent = Callable[[float, str | None], None]
"""Told when a waited-for intent went out (None) or timed out (the error text)."""


class SerfBroadcasts:
    """The intent, query and event queues of one serf."""

    def __init__(self, config: SerfConfig, deadlines: DeadlineScheduler[BroadcastWait]) -> None:
        self.config = config
        self.deadlines = deadlines
        self.intents = TransmitLimitedQueue()
        self.queries = TransmitLimitedQueue()
        self.events = TransmitLimitedQueue()
        self._waits: dict[int, tuple[object, OnSent, str]] = {}
        self._wait_ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self.intents.count or self.queries.count or self.events.count)

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

    def queue_and_wait(
        self, now: float, intent: bytes, on_sent: OnSent, timeout_error: str
    ) -> None:
        """Queue an intent and call `on_sent` once it is out, or with `timeout_error` after
        `broadcast_timeout` (deadline key `BroadcastWait(id)`; pass the id to `wait_expired`)."""
        wait_id = next(self._wait_ids)
        notify = object()
        self._waits[wait_id] = (notify, on_sent, timeout_error)
        self.intents.queue(intent, notify=notify)
        self.deadlines.schedule(BroadcastWait(wait_id), now + self.config.broadcast_timeout)

    def settle(self, now: float) -> None:
        """After every input: complete the waits whose intent went out in full."""
        finished = self.intents.take_finished()  # queries and events carry no notify tokens
        if not finished or not self._waits:
            return
        for wait_id, (notify, on_sent, _) in list(self._waits.items()):
            if any(t is notify for t in finished):
                del self._waits[wait_id]
                self.deadlines.cancel(BroadcastWait(wait_id))
                on_sent(now, None)

    def wait_expired(self, now: float, wait_id: int) -> None:
        held = self._waits.pop(wait_id, None)
        if held is not None:
            held[1](now, held[2])

    def check_depth(self, num_members: int) -> None:
        """serf checkQueueDepth: prune a queue that grew past its limit."""
        limit = self.config.max_queue_depth
        if self.config.min_queue_depth > 0:
            limit = max(self.config.min_queue_depth, 2 * num_members)
        for queue in (self.intents, self.queries, self.events):
            if len(queue) > limit:
                queue.prune(limit)
