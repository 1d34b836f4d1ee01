"""An asyncio event loop on a thread of its own, for callers that block.

Simulated agents live on an event loop, and everything that touches them must run there. A
pytest test, python-nomad or `requests` blocks instead; with the agents' loop on this
thread, the caller's thread may block on an HTTP answer while the loop serves it, and
`call` carries the caller's own operations (run virtual time, kill a node) over to the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

CALL_TIMEOUT = 120.0
"""Wall seconds a call may take before the caller gives up (a generous bound, not a pace)."""


class LoopThread:
    """Owns one event loop running on a daemon thread until `close()`."""

    def __init__(self, name: str = "gossip-agent-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def call(self, work: Callable[[], Awaitable[T]], timeout: float = CALL_TIMEOUT) -> T:
        """Run `work()` on the loop and return its result (or raise its exception) here."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.call from the loop's own thread would deadlock")

        async def run() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def call_soon(self, work: Callable[[], T], timeout: float = CALL_TIMEOUT) -> T:
        """Run the plain function `work()` on the loop and return its result here."""

        async def run() -> T:
            return work()

        return self.call(run, timeout)

    def close(self) -> None:
        """Stop the loop and wait for its thread; idempotent."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
