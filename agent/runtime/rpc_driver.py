"""What the Agent needs from whatever drives its RPC core: the `RpcRuntime` protocol.

The twin of `agent.runtime.gossip_driver.Runtime` for the RPC port. `flush_messages` fixes the drain
order once for both drivers: first `before_send` (the server saves raft's term, vote and log
there, since raft must not answer before its state is durable), then frames, then events,
then the one timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agent.rpc.endpoint import BeforeSend, MessageCore, RpcEvent
from agent.runtime.faults import FaultTable

RpcEventCallback = Callable[[RpcEvent], None]


class RpcRuntime(Protocol):
    @property
    def addr(self) -> str:
        """`ip:port` of the RPC listener (the real port if 0 was asked for)."""
        ...

    def now(self) -> float: ...

    def attach(
        self, core: MessageCore, on_event: RpcEventCallback, before_send: BeforeSend | None = None
    ) -> None:
        """Start feeding `core`; flushes once."""
        ...

    def flush(self) -> None:
        """Drain the core after a command was issued on it."""
        ...

    async def wait(self, futures: Sequence[asyncio.Future[Any]], timeout: float) -> None: ...

    def set_faults(self, faults: FaultTable | None) -> None:
        """Apply these injected faults to the RPC frames from now on (None: none)."""
        ...

    async def close(self) -> None: ...
