"""A discrete-event scheduler: virtual time and one heap of pending actions.

Theory of operation (SimPy's `Environment`, FoundationDB's simulated clock): the clock starts
at 0 and only jumps, to the time of the next entry on a heap of `(at, seq, action)`. `seq`
comes from `itertools.count()`, so entries due at the same instant run in the order they were
scheduled and the heap never compares actions. Nothing sleeps and nothing reads a wall clock;
a run is a pure function of the calls made, which is what makes a simulation replayable.

`Timer` gives one endpoint at most one live deadline. Re-arming it does not search the heap:
it bumps a generation counter, and the stale entry does nothing when it comes due.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

Action = Callable[[], None]


class EmptySchedule(Exception):
    """`step()` was called with nothing scheduled."""


class Scheduler:
    """Virtual clock plus the heap of pending actions."""

    __slots__ = ("_heap", "_now", "_seq")

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, Action]] = []
        self._seq = itertools.count()

    @property
    def now(self) -> float:
        """Virtual seconds; only ever moves forward."""
        return self._now

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at: float, action: Action) -> None:
        """Run `action` at virtual time `at`, after anything already scheduled for `at`.

        Raises:
            ValueError: `at` is in the past (time can't go backwards).
        """
        if at < self._now:
            raise ValueError(f"time can't go backwards: scheduling at {at} when now is {self._now}")
        heapq.heappush(self._heap, (at, next(self._seq), action))

    def peek(self) -> float:
        """Time of the next entry, or infinity when nothing is scheduled."""
        return self._heap[0][0] if self._heap else math.inf

    def step(self) -> None:
        """Jump to the next entry and run it.

        Raises:
            EmptySchedule: nothing is scheduled.
        """
        if not self._heap:
            raise EmptySchedule("nothing scheduled")
        at, _, action = heapq.heappop(self._heap)
        self._now = at
        action()

    def run_until(self, until: float) -> None:
        """Run every entry due at or before `until`, then set the clock to `until`.

        Raises:
            ValueError: `until` is in the past.
        """
        if until < self._now:
            raise ValueError(f"time can't go backwards: run_until({until}) when now is {self._now}")
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] <= until:
            at, _, action = pop(heap)
            self._now = at
            action()
        self._now = until

    def run_while(self, predicate: Callable[[], bool], until: float) -> bool:
        """Step while `predicate()` holds and the next entry is due by `until`.

        Returns True if the predicate stopped holding (the clock stays at that entry's time);
        False if time ran out (the clock is then at `until`). The predicate is checked before
        the first step and after every step, so keep it cheap.

        Raises:
            ValueError: `until` is in the past.
        """
        if until < self._now:
            raise ValueError(f"time can't go backwards: run_while(..., {until}) at {self._now}")
        heap = self._heap
        pop = heapq.heappop
        while predicate():
            if not heap or heap[0][0] > until:
                self._now = until
                return False
            at, _, action = pop(heap)
            self._now = at
            action()
        return True


class Timer:
    """One re-armable deadline on a scheduler: at most one live entry at a time."""

    __slots__ = ("_action", "_at", "_generation", "_scheduler")

    def __init__(self, scheduler: Scheduler, action: Action) -> None:
        self._scheduler = scheduler
        self._action = action
        self._at: float | None = None
        self._generation = 0

    @property
    def at(self) -> float | None:
        """When the live entry fires, or None when disarmed."""
        return self._at

    def set(self, at: float | None) -> None:
        """Arm for `at` (a past deadline fires now), replacing any earlier arming; None disarms."""
        if at == self._at:
            return
        self._generation += 1
        self._at = at
        if at is None:
            return
        generation = self._generation
        now = self._scheduler.now
        self._scheduler.schedule(at if at > now else now, lambda: self._fire(generation))

    def cancel(self) -> None:
        """Disarm; any entry still on the heap becomes stale."""
        self.set(None)

    def _fire(self, generation: int) -> None:
        if generation != self._generation:
            return  # stale: re-armed or cancelled since this entry was scheduled
        self._at = None
        self._action()
