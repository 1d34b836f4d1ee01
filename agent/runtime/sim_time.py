"""How virtual time moves for simulated agents: stepped by a test, or paced to the wall clock.

The simulated drivers (`gossip_sim.SimRuntime`, `rpc_sim.SimRpcRuntime`) answer the Agent's
`wait(futures, timeout)` through one of these, which decides who moves the clock:

- `SteppedTime`: nothing moves virtual time but its owner (a test's `run`, `run_until`) and
  the waits themselves, which run the scheduler until the futures are done or the timeout
  passes. An HTTP answer shows the state at exactly that virtual moment, and the same calls
  give the same run (trio's `MockClock` with autojump, applied to one command at a time).
- `PacedTime`: a task advances virtual time in small steps so that it follows the wall clock
  times `speed` (the teaching demo); waits do not run the scheduler, they await the pacer.
  Pausing stops the clock; `step` moves a paused clock by hand. When the machine cannot keep
  up, the pacer runs as fast as it can and reports its lag instead of piling up debt.

Both are the same `SimTime` to the drivers, so one `Agent` class runs under either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agent.sim.scheduler import Scheduler

PACE_TICK_SECONDS = 0.02
"""Wall seconds between two advances of a paced clock: 50 steps a second look continuous."""
MAX_LAG_SECONDS = 1.0
"""Virtual seconds a paced clock may fall behind before it forgets the debt and rebases."""


class SimTime(Protocol):
    """What a simulated driver needs from whoever moves virtual time."""

    @property
    def scheduler(self) -> Scheduler: ...

    async def wait(self, done: Callable[[], bool], until: float) -> None:
        """Return once `done()` holds or virtual time reaches `until`."""
        ...


class SteppedTime:
    """Virtual time moves only when run; a wait runs it (see the module docstring)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    async def wait(self, done: Callable[[], bool], until: float) -> None:
        self._scheduler.run_while(lambda: not done(), until)


@dataclass(slots=True)
class _Waiter:
    done: Callable[[], bool]
    until: float
    future: asyncio.Future[None]


class PacedTime:
    """Virtual time that follows the wall clock times `speed` (see the module docstring).

    `run()` is the pacing task; start it on the loop the agents live on and cancel it to stop.
    `monotonic` is injectable so the pacing arithmetic can be tested without waiting.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        speed: float = 1.0,
        tick: float = PACE_TICK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self._scheduler = scheduler
        self._speed = speed
        self._tick = tick
        self._monotonic = monotonic
        self._paused = False
        self._wall_base = monotonic()
        self._virtual_base = scheduler.now
        self._waiters: list[_Waiter] = []
        self._listeners: list[Callable[[], None]] = []
        self.lag = 0.0
        """Virtual seconds the clock was behind the wall at its last advance (0 when keeping up)."""

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"speed must be positive, not {value}")
        self._rebase()
        self._speed = value

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._rebase()

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every advance of the clock (the demo publishes from it)."""
        self._listeners.append(listener)

    def target(self) -> float:
        """The virtual time the wall clock asks for now."""
        if self._paused:
            return self._scheduler.now
        return self._virtual_base + (self._monotonic() - self._wall_base) * self._speed

    def advance(self) -> None:
        """Run the scheduler toward `target()` for at most one tick of wall time, then wake
        waiters and listeners. The budget keeps the loop (and so the HTTP API) responsive
        when a large cluster costs more than real time to simulate."""
        target = max(self.target(), self._scheduler.now)
        budget_ends = self._monotonic() + self._tick
        monotonic = self._monotonic
        self._scheduler.run_while(lambda: monotonic() < budget_ends, target)
        self.lag = max(0.0, target - self._scheduler.now)
        if self.lag > MAX_LAG_SECONDS:
            self._rebase()
        self._settle()

    def step(self, seconds: float) -> None:
        """Move the clock by `seconds` at once (a paused demo's step button)."""
        if not seconds >= 0:
            raise ValueError(f"a step cannot be negative: {seconds}")
        self._scheduler.run_until(self._scheduler.now + seconds)
        self._rebase()
        self._settle()

    async def run(self) -> None:
        """The pacing task: advance every `tick` wall seconds until cancelled."""
        self._rebase()
        while True:
            self.advance()
            await asyncio.sleep(self._tick)

    async def wait(self, done: Callable[[], bool], until: float) -> None:
        if done() or self._scheduler.now >= until:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(done, until, future))
        try:
            await future
        finally:
            self._waiters = [w for w in self._waiters if w.future is not future]

    def _rebase(self) -> None:
        self._wall_base = self._monotonic()
        self._virtual_base = self._scheduler.now

    def _settle(self) -> None:
        now = self._scheduler.now
        for waiter in self._waiters:
            if not waiter.future.done() and (waiter.done() or now >= waiter.until):
                waiter.future.set_result(None)
        for listener in self._listeners:
            listener()
