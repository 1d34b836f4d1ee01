"""uvicorn embedded in an event loop the agent shares, for the CLI and for simulated agents."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn

TICK_SECONDS = 1.0
"""uvicorn's housekeeping tick; it only refreshes the Date header, which changes once a second."""


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling (its owner decides when to stop), ticking once
    a second instead of ten times: its tick only refreshes the Date header, which changes
    once a second, and an idle agent's wake-ups are what its idle CPU is made of
    (bench/cluster.py)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()

    async def main_loop(self) -> None:
        while not await self.on_tick(0):  # counter 0: refresh the Date header every tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK_SECONDS)
