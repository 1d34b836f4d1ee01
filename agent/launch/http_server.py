"""uvicorn embedded in an event loop the agent shares, for the CLI and for simulated agents."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

TICK_SECONDS = 1.0
"""uvicorn's housekeeping tick; it only refreshes the Date header, which changes once a second."""


class _Connections(set[Any]):
    """uvicorn's set of open connections, telling its server when one opens."""

    def __init__(self, on_open: Callable[[], None]) -> None:
        super().__init__()
        self._on_open = on_open

    def add(self, connection: Any) -> None:
        super().add(connection)
        self._on_open()


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling (its owner decides when to stop), ticking once
    a second instead of ten times, and only while a connection is open.

    Its tick refreshes the Date header, which changes once a second and is read only when a
    response starts; an idle agent's wake-ups are what its idle CPU is made of
    (bench/cluster.py, bench/idle_profile.py), so with no connection open the tick sleeps
    until one opens, and refreshes the header then, before the connection's first request is
    read (the accepted socket is watched for reading only from the next loop turn on)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.server_state.connections = _Connections(self._wake_tick)
        self._wake: asyncio.Future[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True
        self._wake_tick()

    def _wake_tick(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def main_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not await self.on_tick(0):  # counter 0: refresh the Date header every tick
            wake = self._wake = loop.create_future()
            timer = None
            if self.server_state.connections:
                timer = loop.call_later(TICK_SECONDS, self._wake_tick)
            await wake
            if timer is not None:
                timer.cancel()
