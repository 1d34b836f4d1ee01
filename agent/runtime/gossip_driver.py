"""What the Agent needs from whatever drives its gossip core: the `Runtime` protocol.

`flush_outputs` (base.py) fixes how a core's outputs are drained; this protocol fixes what
the Agent may ask of a driver, so one `Agent` class runs on real sockets (`aio.AioRuntime`) and
on the simulator (`simulated.SimRuntime`):

- a clock for core inputs (`now`), which never goes backwards;
- `attach` a core and an event callback; `flush` after every command issued on the core;
- `wait` for futures the event callback resolves: under asyncio this awaits, under the
  simulator it runs virtual time until they are done or the (virtual) timeout passes;

Name lookups are I/O too, but a client-only agent has no gossip core and still resolves its
server list, so they are a separate `agent.runtime.resolver.Resolver`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agent.runtime.faults import FaultTable
from gossip import Address, Endpoint, GossipEvent

EventCallback = Callable[[GossipEvent], None]


class Runtime(Protocol):
    @property
    def addr(self) -> Address:
        """Where the core's UDP and TCP listeners are (the real port if 0 was asked for)."""
        ...

    def now(self) -> float:
        """The core's clock, in seconds; never goes backwards."""
        ...

    def attach(self, core: Endpoint, on_event: EventCallback) -> None:
        """Start feeding `core` and delivering its events; flushes once."""
        ...

    def flush(self) -> None:
        """Drain the core after a command (join, leave, ...) was issued on it."""
        ...

    async def wait(self, futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
        """Return when every future is done or `timeout` seconds (runtime time) passed."""
        ...

    def set_faults(self, faults: FaultTable | None) -> None:
        """Apply these injected faults to the core's traffic from now on (None: none)."""
        ...

    async def close(self) -> None:
        """Stop listening and drop the core; idempotent."""
        ...
