"""The scheduler: ordering, FIFO ties, time that only moves forward, one live timer."""

from __future__ import annotations

import math

import pytest

from agent.sim import EmptySchedule, Scheduler, Timer


def test_entries_run_in_time_order_and_the_clock_jumps_to_each() -> None:
    sched = Scheduler()
    seen: list[tuple[str, float]] = []
    for at, label in [(3.0, "c"), (1.0, "a"), (2.0, "b")]:
        sched.schedule(at, lambda label=label: seen.append((label, sched.now)))
    sched.run_until(10.0)
    assert seen == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert sched.now == 10.0


def test_equal_times_run_in_scheduling_order() -> None:
    sched = Scheduler()
    seen: list[int] = []
    for i in range(50):
        sched.schedule(1.0, lambda i=i: seen.append(i))
    sched.run_until(1.0)
    assert seen == list(range(50))


def test_an_entry_scheduled_for_now_during_a_run_runs_after_its_peers() -> None:
    sched = Scheduler()
    seen: list[str] = []
    sched.schedule(1.0, lambda: (seen.append("a"), sched.schedule(1.0, lambda: seen.append("c"))))
    sched.schedule(1.0, lambda: seen.append("b"))
    sched.run_until(1.0)
    assert seen == ["a", "b", "c"]


def test_time_cannot_go_backwards() -> None:
    sched = Scheduler()
    sched.run_until(5.0)
    with pytest.raises(ValueError, match="backwards"):
        sched.schedule(4.999, lambda: None)
    with pytest.raises(ValueError, match="backwards"):
        sched.run_until(4.0)
    with pytest.raises(ValueError, match="backwards"):
        sched.run_while(lambda: True, 1.0)
    assert sched.now == 5.0
    sched.schedule(5.0, lambda: None)  # "now" itself is fine
    assert len(sched) == 1


def test_peek_and_step() -> None:
    sched = Scheduler()
    assert sched.peek() == math.inf
    with pytest.raises(EmptySchedule):
        sched.step()
    hits: list[float] = []
    sched.schedule(2.5, lambda: hits.append(sched.now))
    assert sched.peek() == 2.5
    sched.step()
    assert hits == [2.5] and sched.now == 2.5 and sched.peek() == math.inf


def test_run_until_leaves_later_entries_alone() -> None:
    sched = Scheduler()
    hits: list[float] = []
    sched.schedule(1.0, lambda: hits.append(1.0))
    sched.schedule(2.0, lambda: hits.append(2.0))
    sched.run_until(1.5)
    assert hits == [1.0] and sched.now == 1.5 and sched.peek() == 2.0


def test_run_while_stops_at_the_entry_that_made_the_predicate_false() -> None:
    sched = Scheduler()
    hits: list[float] = []
    for at in (1.0, 2.0, 3.0):
        sched.schedule(at, lambda at=at: hits.append(at))
    assert sched.run_while(lambda: len(hits) < 2, until=10.0) is True
    assert sched.now == 2.0 and hits == [1.0, 2.0]


def test_run_while_times_out_at_until() -> None:
    sched = Scheduler()
    sched.schedule(1.0, lambda: None)
    sched.schedule(9.0, lambda: None)
    assert sched.run_while(lambda: True, until=5.0) is False
    assert sched.now == 5.0 and sched.peek() == 9.0


def test_timer_rearming_leaves_exactly_one_live_entry() -> None:
    sched = Scheduler()
    fired: list[float] = []
    timer = Timer(sched, lambda: fired.append(sched.now))
    timer.set(5.0)
    timer.set(2.0)  # earlier: the 5.0 entry goes stale
    timer.set(3.0)  # later: the 2.0 entry goes stale
    sched.run_until(10.0)
    assert fired == [3.0]
    assert timer.at is None


def test_timer_same_deadline_does_not_push_again() -> None:
    sched = Scheduler()
    timer = Timer(sched, lambda: None)
    timer.set(1.0)
    timer.set(1.0)
    assert len(sched) == 1


def test_timer_cancel_and_past_deadline() -> None:
    sched = Scheduler()
    fired: list[float] = []
    timer = Timer(sched, lambda: fired.append(sched.now))
    timer.set(1.0)
    timer.cancel()
    sched.run_until(2.0)
    assert fired == []
    timer.set(0.5)  # already due: fires at the current time, not in the past
    sched.run_until(2.0)
    assert fired == [2.0]


def test_timer_can_rearm_from_its_own_action() -> None:
    sched = Scheduler()
    fired: list[float] = []

    def tick() -> None:
        fired.append(sched.now)
        if len(fired) < 3:
            timer.set(sched.now + 1.0)

    timer = Timer(sched, tick)
    timer.set(1.0)
    sched.run_until(10.0)
    assert fired == [1.0, 2.0, 3.0]
