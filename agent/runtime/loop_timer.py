"""LoopTimer: the clock and the one timer an asyncio driver keeps for its core.

Both asyncio drivers (the serf port's and the RPC port's) stamp every core input with a time
that never goes backwards, and re-arm one `loop.call_at` after every flush; most flushes
leave the deadline where it was, so arming is skipped when nothing changed. `call_at` may
fire a clock tick before its deadline, so a timer input is stamped with at least the deadline
(the core would otherwise find nothing due and re-arm the same deadline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any


class LoopTimer:
    """`now()` for inputs; `set(at)` arms the timer (None disarms); `fire(now)` runs it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[float], None]) -> None:
        self._loop = loop
        self._fire = fire
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None
        self._last_now = loop.time()

    def now(self) -> float:
        """The loop's time, clamped so that it never goes backwards."""
        self._last_now = max(self._loop.time(), self._last_now)
        return self._last_now

    def set(self, at: float | None) -> None:
        if at == self._at and (at is None or self._handle is not None):
            return
        self.cancel()
        self._at = at
        if at is not None:
            self._handle = self._loop.call_at(max(at, self._loop.time()), self._on_fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._at = None

    def _on_fire(self) -> None:
        self._handle = None
        at, self._at = self._at, None
        now = self.now()
        if at is not None and at > now:
            now = self._last_now = at
        self._fire(now)


async def wait_until_done(futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
    """`Runtime.wait` on a real event loop: the asyncio drivers of both ports share it."""
    pending = [f for f in futures if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=max(0.0, timeout))
