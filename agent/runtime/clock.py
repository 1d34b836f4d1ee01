"""The agent's clocks: the only module that reads wall time.

Protocol cores get `now` from their driver (asyncio's `loop.time()` or the simulator's virtual
clock); the agent itself needs a monotonic reading for its own durations (client heartbeats)
and, for display only, the wall clock. Both come through `Clock`, so a simulated agent runs on
virtual time end to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (the cores' timeline)."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch (for display only)."""
        ...


class SystemClock:
    """The real clocks. `time.monotonic` is also what asyncio's default `loop.time()` reads."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class VirtualClock:
    """A clock driven by someone else's notion of now (the simulator's scheduler).

    `wall()` is `epoch` plus the virtual time, so a simulated run prints stable timestamps.
    """

    def __init__(self, now: Callable[[], float], epoch: float = 1_500_000_000.0) -> None:
        self._now = now
        self._epoch = epoch

    def monotonic(self) -> float:
        return self._now()

    def wall(self) -> float:
        return self._epoch + self._now()
