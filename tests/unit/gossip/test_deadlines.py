"""gossip.deadlines: the keyed DeadlineQueue, checked against a naive dict model."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gossip.deadlines import DeadlineQueue


def test_empty() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    assert len(queue) == 0
    assert queue.peek() is None
    assert queue.pop_due(1e9) == []
    assert queue.get("x") is None
    assert "x" not in queue


def test_schedule_replaces_previous_deadline() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("probe", 5.0)
    queue.schedule("probe", 9.0)
    assert len(queue) == 1
    assert queue.get("probe") == 9.0
    assert queue.peek() == 9.0
    assert queue.pop_due(8.0) == []
    assert queue.pop_due(9.0) == ["probe"]
    assert len(queue) == 0


def test_earlier_reschedule_wins_and_stale_later_entry_never_fires() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("a", 9.0)
    queue.schedule("a", 2.0)
    assert queue.pop_due(2.0) == ["a"]
    assert queue.pop_due(100.0) == []


def test_cancel() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("a", 1.0)
    queue.schedule("b", 2.0)
    queue.cancel("a")
    queue.cancel("missing")  # no-op
    assert "a" not in queue
    assert "b" in queue
    assert queue.peek() == 2.0
    assert queue.pop_due(10.0) == ["b"]


def test_pop_due_order_is_deadline_then_scheduling_sequence() -> None:
    queue: DeadlineQueue[tuple[str, str]] = DeadlineQueue()
    queue.schedule(("suspect", "n2"), 3.0)
    queue.schedule(("probe", "n1"), 1.0)
    queue.schedule(("gossip", ""), 3.0)
    queue.schedule(("suspect", "n2"), 3.0)  # re-armed: now after ("gossip", "")
    queue.schedule(("reap", "n9"), 4.0)
    assert queue.pop_due(3.5) == [("probe", "n1"), ("gossip", ""), ("suspect", "n2")]
    assert queue.pop_due(3.5) == []
    assert queue.peek() == 4.0


def test_unorderable_keys_are_fine() -> None:
    queue: DeadlineQueue[object] = DeadlineQueue()
    a, b = object(), object()
    queue.schedule(a, 1.0)
    queue.schedule(b, 1.0)
    assert queue.pop_due(1.0) == [a, b]


def test_nan_rejected_and_state_unchanged() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("a", 1.0)
    with pytest.raises(ValueError):
        queue.schedule("a", math.nan)
    assert queue.get("a") == 1.0


def test_heap_compacts_when_one_key_is_rearmed_many_times() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("other", 1e9)
    for i in range(10_000):
        queue.schedule("probe", float(i))
    assert len(queue) == 2
    # Private, on purpose: the point is that stale entries do not pile up.
    assert len(queue._heap) < 200
    assert queue.peek() == 9999.0
    assert queue.pop_due(1e9) == ["probe", "other"]


def test_heap_compacts_after_mass_cancel() -> None:
    queue: DeadlineQueue[int] = DeadlineQueue()
    for i in range(5_000):
        queue.schedule(i, float(i))
    for i in range(4_990):
        queue.cancel(i)
    assert len(queue) == 10
    assert len(queue._heap) < 200
    assert queue.pop_due(1e9) == list(range(4_990, 5_000))


class DeadlineQueueMachine(RuleBasedStateMachine):
    """Every operation mirrored on a dict key -> (at, seq) model."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: DeadlineQueue[str] = DeadlineQueue()
        self.model: dict[str, tuple[float, int]] = {}
        self.seq = itertools.count()

    keys = st.sampled_from([f"k{i}" for i in range(8)])
    times = st.integers(min_value=0, max_value=40).map(lambda t: t / 4)

    @rule(key=keys, at=times)
    def schedule(self, key: str, at: float) -> None:
        self.queue.schedule(key, at)
        self.model[key] = (at, next(self.seq))

    @rule(key=keys, at=times)
    def churn(self, key: str, at: float) -> None:
        """Re-arm one key 100 times: enough stale entries to force a heap rebuild."""
        for step in range(100, -1, -1):
            self.queue.schedule(key, at + step)
            self.model[key] = (at + step, next(self.seq))

    @rule(key=keys)
    def cancel(self, key: str) -> None:
        self.queue.cancel(key)
        self.model.pop(key, None)

    @rule(now=times)
    def pop_due(self, now: float) -> None:
        expected = sorted(
            (entry for entry in self.model.items() if entry[1][0] <= now),
            key=lambda entry: entry[1],
        )
        assert self.queue.pop_due(now) == [key for key, _ in expected]
        for key, _ in expected:
            del self.model[key]

    @rule(key=keys)
    def get(self, key: str) -> None:
        entry = self.model.get(key)
        assert self.queue.get(key) == (None if entry is None else entry[0])
        assert (key in self.queue) == (key in self.model)

    @invariant()
    def peek_and_len_match(self) -> None:
        expected = min((at for at, _ in self.model.values()), default=None)
        assert self.queue.peek() == expected
        assert len(self.queue) == len(self.model)


TestDeadlineQueueMachine = DeadlineQueueMachine.TestCase
TestDeadlineQueueMachine.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
