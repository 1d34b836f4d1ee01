"""gossip.timers: every timer is its own deadline key, however equal the fields."""

from __future__ import annotations

from gossip.deadlines import DeadlineQueue
from gossip.timers import (
    BroadcastWait,
    LeavePropagated,
    ProbeEnd,
    ProbeFallback,
    ProbeTimeout,
    QueryTimeout,
    RelayTimeout,
    SerfTimer,
    SuspicionTimeout,
    SwimTimer,
    TimerKind,
)


def test_keyed_timers_with_equal_fields_are_distinct_keys() -> None:
    swim: DeadlineQueue[SwimTimer] = DeadlineQueue()
    keys: list[SwimTimer] = [ProbeTimeout(7), ProbeEnd(7), ProbeFallback(7), RelayTimeout(7)]
    for at, key in enumerate(keys):
        swim.schedule(key, float(at))
    assert len(swim) == len(keys)
    assert swim.pop_due(10.0) == keys


def test_serf_keyed_timers_with_equal_fields_are_distinct_keys() -> None:
    serf: DeadlineQueue[SerfTimer] = DeadlineQueue()
    keys: list[SerfTimer] = [BroadcastWait(1), LeavePropagated(1), QueryTimeout(1)]
    for key in keys:
        serf.schedule(key, 1.0)
    assert len(serf) == len(keys)


def test_rearming_an_equal_key_replaces_its_deadline() -> None:
    q: DeadlineQueue[SwimTimer] = DeadlineQueue()
    q.schedule(SuspicionTimeout("n1"), 5.0)
    q.schedule(SuspicionTimeout("n1"), 3.0)
    q.schedule(TimerKind.PROBE, 4.0)
    q.schedule(TimerKind.PROBE, 6.0)
    assert q.pop_due(10.0) == [SuspicionTimeout("n1"), TimerKind.PROBE]


def test_a_keyed_timer_carries_its_kind() -> None:
    assert ProbeTimeout(0).kind is TimerKind.PROBE_TIMEOUT
