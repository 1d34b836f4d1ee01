"""What the Agent needs from whatever drives its gossip core: the `Runtime` protocol.

`flush_outputs` (base.py) fixes how a core's outputs are drained; this protocol fixes what
the Agent may ask of a driver, so one `Agent` class runs on real sockets (`aio.AioRuntime`) and
on the simulator (`simulated.SimRuntime`), as STYLE B4 asks:

- a clock for core inputs (`now`), which never goes backwards;
- `attach` a core and an event callback; `flush` after every command issued on the core;
- `wait` for futures the event callback resolves: under asyncio this awaits, under the
  simulator it runs virtual time until they are done or the (virtual) timeout passes;

Name lookups are I/O too, but a client-only agent has no gossip core and still resolves its
server list, so they are a separate `Resolver`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from agent.runtime.base import Endpoint
from gossip.events import GossipEvent
from gossip.types import Address

EventCallback = Callable[[GossipEvent], None]


class ResolveError(Exception):
    """A name did not resolve; the message reads like Go's (`lookup nope: no such host`)."""


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

    async def close(self) -> None:
        """Stop listening and drop the core; idempotent."""
        ...


async def wait_until_done(futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
    """`Runtime.wait` on a real event loop: the asyncio drivers of both ports share it."""
    pending = [f for f in futures if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=max(0.0, timeout))


class Resolver(Protocol):
    async def resolve(self, host: str, timeout: float) -> list[str]:
        """IP addresses of `host`, in resolver order, without duplicates.

        Raises:
            ResolveError: unknown name, or no answer within `timeout`.
        """
        ...


class StaticResolver:
    """Resolves IP literals and a fixed table of names; for the simulator and tests."""

    def __init__(self, hosts: Mapping[str, Sequence[str]] | None = None) -> None:
        self._hosts = {name: list(ips) for name, ips in (hosts or {}).items()}

    async def resolve(self, host: str, timeout: float) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host in self._hosts:
            return list(self._hosts[host])
        raise ResolveError(f"lookup {host}: no such host")
