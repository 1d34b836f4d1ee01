"""`LogMonitor`: one `/v1/agent/monitor` caller's share of the agent's log.

Each subscription attaches its own handler to the agent's logger (`gossip_agent`) and
removes it on `close()`, so nothing outlives the request and concurrent monitors filter at
their own levels. A monitor may ask for more detail than the agent logs (Nomad's monitor
sees every line the agent produces, before `-log-level` filters stderr): while it is
attached, the logger's level is lowered to the lowest level any monitor asks for, and
restored when the last one leaves; stderr keeps filtering at `-log-level` on its own
handler. Lines wait in a bounded queue: a client that reads too slowly loses lines
(counted, and reported in the stream as Nomad's monitor does) instead of growing the
agent's memory or slowing its logging.
"""

from __future__ import annotations

import asyncio
import logging

from agent.agent_api import LogLevel
from agent.telemetry.log_format import LogFormat, formatter_for, python_level

AGENT_LOGGER = "gossip_agent"
QUEUE_LINES = 512
"""Lines a monitor may fall behind before lines are dropped (Nomad's buffer is 512 too)."""


class _QueueHandler(logging.Handler):
    """Formats each record and hands the line to the subscriber's loop, from any thread."""

    def __init__(self, monitor: LogMonitor, level: int, fmt: LogFormat) -> None:
        super().__init__(level)
        self.monitor = monitor
        self.original = logging.NOTSET
        """The logger's level before the first attached monitor lowered it."""
        self.setFormatter(formatter_for(fmt))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a bad format argument must not break the agent's logging
            self.handleError(record)
            return
        self.monitor.offer(line)


class LogMonitor:
    """A `LogSubscription`: lines at `level` and above from subscription until `close()`."""

    def __init__(self, level: LogLevel, fmt: LogFormat, logger: str = AGENT_LOGGER) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LINES)
        self.dropped = 0
        self._logger = logging.getLogger(logger)
        attached = self._monitor_handlers()
        original = attached[0].original if attached else self._logger.level
        self._handler: _QueueHandler | None = _QueueHandler(self, python_level(level), fmt)
        self._handler.original = original
        self._logger.addHandler(self._handler)
        self._relevel(original)

    def offer(self, line: str) -> None:
        """Queue `line` on the subscriber's loop (thread-safe)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._put(line)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._put, line)

    def _put(self, line: str) -> None:
        if self._handler is None:
            return
        try:
            self._queue.put_nowait(line)
        except asyncio.QueueFull:
            self.dropped += 1

    async def next_line(self) -> str:
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            return f"[WARN] agent: Dropped {dropped} logs during monitor request"
        return await self._queue.get()

    def close(self) -> None:
        if self._handler is None:
            return
        self._logger.removeHandler(self._handler)
        original = self._handler.original
        self._handler = None
        self._relevel(original)

    def _monitor_handlers(self) -> list[_QueueHandler]:
        return [h for h in self._logger.handlers if isinstance(h, _QueueHandler)]

    def _relevel(self, original: int) -> None:
        """The logger's own level, lowered to what the attached monitors ask for, if lower."""
        self._logger.setLevel(original)
        wanted = [h.level for h in self._monitor_handlers()]
        if wanted and self._logger.getEffectiveLevel() > min(wanted):
            self._logger.setLevel(min(wanted))

    @property
    def attached(self) -> bool:
        return self._handler is not None
