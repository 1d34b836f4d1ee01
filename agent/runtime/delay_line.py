"""DelayLine: run callbacks in the order they were pushed, each no earlier than its due time.

An injected delay must slow a connection down, not reorder it: TCP delivers in order, and
raft's frames on the RPC port rely on that. A `loop.call_at` per frame would not do (timers
due at the same moment run in no fixed order), so each connection that holds frames back
gets one line: a queue plus one timer for its head, with due times kept non-decreasing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable


class DelayLine:
    """See the module docstring. Callbacks run on the loop; one that raises is not retried."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._last_due = 0.0

    def __bool__(self) -> bool:
        """Whether callbacks are still held (anything pushed now must queue behind them)."""
        return bool(self._queue)

    def push(self, due: float, callback: Callable[[], None]) -> None:
        """Run `callback` at `due` (loop time) or, if something pushed earlier is due later,
        right after that."""
        due = max(due, self._last_due)
        self._last_due = due
        self._queue.append((due, callback))
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._release)

    def _release(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._queue and self._queue[0][0] <= now:
            _, callback = self._queue.popleft()
            callback()
        if self._queue:
            self._timer = self._loop.call_at(self._queue[0][0], self._release)

    def cancel(self) -> None:
        """Forget everything held (the connection or the runtime is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
