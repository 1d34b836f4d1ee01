"""serf's dedup rings for user events and queries.

serf only needs to tolerate these here (Nomad's gossip carries none of its own), but a peer
that re-gossips them must do so exactly once per (LTime, payload): each ring keeps the last
`size` Lamport times, slot = LTime % size, and anything older than `clock - size`, below the
minimum time set by a join that ignores old events, or already in its slot, is dropped and
not rebroadcast.
"""

from __future__ import annotations

from gossip.lamport import LamportClock
from gossip.messages import UserEventRecord, UserEvents


class EventRing:
    """serf's eventBuffer (handleUserEvent)."""

    def __init__(self, clock: LamportClock, size: int) -> None:
        self.clock = clock
        self.size = size
        self.min_time = 0
        self.slots: list[UserEvents | None] = [None] * size

    def accept(self, ltime: int, name: str, payload: bytes) -> bool:
        """Record an event; True when it is new (the caller rebroadcasts it)."""
        self.clock.witness(ltime)
        if ltime < self.min_time:
            return False
        now = self.clock.time()
        if now > self.size and ltime < now - self.size:
            return False
        idx = ltime % self.size
        record = UserEventRecord(name, payload)
        seen = self.slots[idx]
        if seen is not None and seen.ltime == ltime:
            if record in seen.events:
                return False
            self.slots[idx] = UserEvents(ltime, (*seen.events, record))
        else:
            self.slots[idx] = UserEvents(ltime, (record,))
        return True


class QueryRing:
    """serf's queryBuffer: the query IDs seen at each recent Lamport time (handleQuery)."""

    def __init__(self, clock: LamportClock, size: int) -> None:
        self.clock = clock
        self.size = size
        self.slots: list[tuple[int, list[int]] | None] = [None] * size

    def accept(self, ltime: int, query_id: int) -> bool:
        self.clock.witness(ltime)
        now = self.clock.time()
        if now > self.size and ltime < now - self.size:
            return False
        idx = ltime % self.size
        seen = self.slots[idx]
        if seen is not None and seen[0] == ltime:
            if query_id in seen[1]:
                return False
            seen[1].append(query_id)
        else:
            self.slots[idx] = (ltime, [query_id])
        return True
