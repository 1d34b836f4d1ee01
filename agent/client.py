"""The client half of an agent: its server list, node identity and heartbeat bookkeeping.

A Nomad client is not in the gossip pool; it talks RPC to servers. This round has no RPC
transport, so the client keeps what the agent endpoints show: the server list (replace
semantics, Nomad 0.7 rules: resolve each entry, drop the ones that fail, 400 if none is left),
a node ID, and the heartbeat figures of `stats.client`.

Heartbeats are modelled only where they are real without RPC: a dev agent's client registers
with its own in-process server at start, which grants a TTL the way Nomad's server does
(10 s plus a random stagger up to 10 s for a small cluster), and heartbeats once per TTL.
A client without a local server has never heartbeated: TTL `0s` and Go's saturated duration.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from agent.addresses import (
    DEFAULT_RPC_PORT,
    AddressError,
    ip_literal,
    join_host_port,
    split_host_port,
)
from agent.errors import BadRequestError
from agent.protocol import HealthCheck
from agent.runtime.driver import ResolveError, Resolver
from gossip.events import format_multierror
from raft_stub.stats import MAX_DURATION_NS, format_go_duration, seconds_to_go_duration

RESOLVE_TIMEOUT = 4.0
MIN_HEARTBEAT_TTL = 10.0
"""Nomad's server grants max(10 s, nodes / 50 per s) plus a stagger up to the same amount."""


def _prefer_ipv4(ips: Sequence[str]) -> str:
    """Go's ResolveTCPAddr picks the first IPv4 address when there is one."""
    return next((ip for ip in ips if ":" not in ip), ips[0])


async def resolve_servers(
    addresses: Sequence[str], resolver: Resolver, timeout: float = RESOLVE_TIMEOUT
) -> tuple[list[str], list[str]]:
    """Nomad 0.7's resolveServer over a list: (resolved `ip:port`s, error lines)."""
    good: list[str] = []
    errors: list[str] = []
    for text in addresses:
        try:
            host, port = split_host_port(text, DEFAULT_RPC_PORT)
            if not host:  # Go resolves ":4647" to a nil IP, printed as ":4647"
                resolved = f":{port}"
            else:
                ip = ip_literal(host) or _prefer_ipv4(await resolver.resolve(host, timeout))
                resolved = join_host_port(ip, port)
        except (AddressError, ResolveError) as exc:
            errors.append(str(exc))
            continue
        if resolved not in good:
            good.append(resolved)
    return good, errors


class ClientRole:
    """The client's state; the Agent owns it."""

    def __init__(
        self,
        *,
        rng: random.Random,
        now: float,
        servers: Sequence[str] = (),
        local_server: str | None = None,
    ) -> None:
        self.node_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self._servers = sorted(set(servers))
        self._registered_at: float | None = None
        self._ttl = 0.0
        if local_server is not None:
            self._servers = [local_server]
            self._registered_at = now
            self._ttl = MIN_HEARTBEAT_TTL + rng.random() * MIN_HEARTBEAT_TTL

    def servers(self) -> list[str]:
        """Known servers, sorted as strings (Nomad 0.7+)."""
        return list(self._servers)

    async def set_servers(self, addresses: Sequence[str], resolver: Resolver) -> None:
        """Replace the server list with the addresses that resolve.

        Raises:
            BadRequestError: none resolved (the multi-error of the failures, or `no servers`).
        """
        good, errors = await resolve_servers(addresses, resolver)
        if not good:
            raise BadRequestError(format_multierror(errors) if errors else "no servers")
        self.replace_servers(good)

    def replace_servers(self, resolved: Sequence[str]) -> None:
        """Take an already resolved (`ip:port`) list as the new server list."""
        self._servers = sorted(set(resolved))

    def health(self) -> HealthCheck:
        if not self._servers:
            return HealthCheck(False, "no known servers")
        return HealthCheck(True, "ok")

    def stats(self, now: float) -> dict[str, str]:
        if self._registered_at is None:
            ttl = "0s"
            since = format_go_duration(MAX_DURATION_NS)
        else:
            ttl = seconds_to_go_duration(self._ttl)
            since = seconds_to_go_duration((now - self._registered_at) % self._ttl)
        return {
            "node_id": self.node_id,
            "known_servers": ",".join(self._servers),
            "num_allocations": "0",
            "last_heartbeat": since,
            "heartbeat_ttl": ttl,
        }
