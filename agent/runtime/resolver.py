"""Name lookups: turning the host names in `-join`, `-servers` and `retry_join` into IPs.

A lookup is I/O, so it sits behind the `Resolver` protocol like the sockets behind the
drivers: `AioResolver` asks the system resolver, `StaticResolver` answers from a table (the
simulator and tests). Errors read like Go's (`lookup nope: no such host`), because they end up
in API bodies.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from typing import Protocol


class ResolveError(Exception):
    """A name did not resolve; the message reads like Go's (`lookup nope: no such host`)."""


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


class AioResolver:
    """The system resolver (`getaddrinfo` in a worker thread), bounded by a timeout."""

    async def resolve(self, host: str, timeout: float) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), max(0.0, timeout)
            )
        except TimeoutError:
            raise ResolveError(f"lookup {host}: i/o timeout") from None
        except (OSError, UnicodeError):
            raise ResolveError(f"lookup {host}: no such host") from None
        ips: list[str] = []
        for info in infos:
            ip = str(info[4][0])
            if ip not in ips:
                ips.append(ip)
        return ips
