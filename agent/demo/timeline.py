"""The timeline: what happened, in virtual time, as sentences a newcomer can read."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

TIMELINE_KEPT = 2000
"""Events kept for late subscribers and `GET /v1/sim/state`; older ones are dropped."""


class EventKind(StrEnum):
    """What an entry is about; the page styles entries by it."""

    ACTION = "action"
    SCENARIO = "scenario"
    JOIN = "join"
    SUSPECT = "suspect"
    REFUTE = "refute"
    ALIVE = "alive"
    FAILED = "failed"
    LEAVING = "leaving"
    LEFT = "left"
    REAPED = "reaped"
    LEADER = "leader"
    TRUTH = "truth"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One sentence at one virtual time; `seq` orders entries and lets a reader resume."""

    seq: int
    at: float
    kind: EventKind
    text: str

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "at": round(self.at, 3),
            "kind": self.kind.value,
            "text": self.text,
        }


class Timeline:
    """An append-only, bounded log of TimelineEvents."""

    def __init__(self, kept: int = TIMELINE_KEPT) -> None:
        self._events: deque[TimelineEvent] = deque(maxlen=kept)
        self._seq = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    def add(self, at: float, kind: EventKind, text: str) -> TimelineEvent:
        self._seq += 1
        event = TimelineEvent(self._seq, at, kind, text)
        self._events.append(event)
        return event

    def since(self, seq: int, limit: int = 200) -> list[TimelineEvent]:
        """Events after `seq`, oldest first, at most the newest `limit` of them."""
        fresh = [e for e in self._events if e.seq > seq] if seq < self._seq else []
        return fresh[-limit:]

    def last(self, count: int) -> list[TimelineEvent]:
        return list(self._events)[-count:]
