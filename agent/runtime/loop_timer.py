"""LoopTimer: the one asyncio timer a driver keeps for its core's next deadline.

Both asyncio drivers (the serf port's and the RPC port's) re-arm after every flush; most
flushes leave the deadline where it was, so arming is skipped when nothing changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class LoopTimer:
    """`set(at)` arms `loop.call_at` for `at` (None disarms); `fire(at)` gets the deadline."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fire: Callable[[float | None], None]
    ) -> None:
        self._loop = loop
        self._fire = fire
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None

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
        self._fire(at)
