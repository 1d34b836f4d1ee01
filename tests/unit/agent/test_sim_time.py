"""Virtual time for simulated agents: stepped waits run the clock, paced ones follow the wall."""

from __future__ import annotations

import asyncio

import pytest

from agent.runtime.sim_time import MAX_LAG_SECONDS, PacedTime, SteppedTime
from agent.sim.scheduler import Scheduler


class FakeWall:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_stepped_wait_runs_the_scheduler_until_done() -> None:
    scheduler = Scheduler()
    fired: list[float] = []
    for at in (1.0, 2.0, 3.0):
        scheduler.schedule(at, lambda at=at: fired.append(at))
    time = SteppedTime(scheduler)
    asyncio.run(time.wait(lambda: len(fired) == 2, until=10.0))
    assert (fired, scheduler.now) == ([1.0, 2.0], 2.0)
    asyncio.run(time.wait(lambda: False, until=5.0))
    assert (fired, scheduler.now) == ([1.0, 2.0, 3.0], 5.0)


def test_paced_time_follows_the_wall_clock_times_speed() -> None:
    wall = FakeWall()
    scheduler = Scheduler()
    paced = PacedTime(scheduler, speed=4.0, monotonic=wall)
    wall.now += 0.5
    paced.advance()
    assert scheduler.now == pytest.approx(2.0)
    paced.speed = 0.5  # rebases: what already passed stays passed
    wall.now += 2.0
    paced.advance()
    assert scheduler.now == pytest.approx(3.0)


def test_a_paused_clock_stands_still_and_steps_by_hand() -> None:
    wall = FakeWall()
    scheduler = Scheduler()
    paced = PacedTime(scheduler, monotonic=wall)
    paced.pause()
    wall.now += 10.0
    paced.advance()
    assert scheduler.now == 0.0
    paced.step(1.5)
    assert scheduler.now == 1.5
    paced.resume()
    wall.now += 1.0
    paced.advance()
    assert scheduler.now == pytest.approx(2.5)
    with pytest.raises(ValueError, match="negative"):
        paced.step(-1.0)
    with pytest.raises(ValueError, match="positive"):
        paced.speed = 0.0


def test_a_clock_that_falls_far_behind_forgets_the_debt() -> None:
    """Each advance works for at most one tick of wall time; the wall moves on meanwhile."""
    wall = FakeWall()
    scheduler = Scheduler()

    def slow() -> None:
        wall.now += 1.0  # one event costs a whole wall second
        scheduler.schedule(scheduler.now + 0.001, slow)

    scheduler.schedule(0.001, slow)
    paced = PacedTime(scheduler, speed=1.0, tick=0.02, monotonic=wall)
    wall.now += 5.0
    paced.advance()
    assert scheduler.now == pytest.approx(0.001)  # the budget stopped it after one event
    assert paced.lag > MAX_LAG_SECONDS
    assert paced.target() == pytest.approx(scheduler.now)  # rebased: no debt carried over


def test_paced_waiters_wake_when_done_or_at_their_deadline() -> None:
    async def scenario() -> list[str]:
        wall = FakeWall()
        scheduler = Scheduler()
        paced = PacedTime(scheduler, monotonic=wall)
        flag: list[bool] = []
        scheduler.schedule(1.0, lambda: flag.append(True))
        woke: list[str] = []

        async def waiter(name: str, done: bool, until: float) -> None:
            await paced.wait(lambda: bool(flag) and done, until)
            woke.append(f"{name}@{scheduler.now:g}")

        tasks = [
            asyncio.create_task(waiter("on-event", True, 10.0)),
            asyncio.create_task(waiter("deadline", False, 2.0)),
        ]
        await asyncio.sleep(0)
        assert woke == []  # nothing moves the clock but the pacer
        for _ in range(3):
            wall.now += 1.0
            paced.advance()
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return woke

    assert asyncio.run(scenario()) == ["on-event@1", "deadline@2"]
