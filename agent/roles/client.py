"""The client half of an agent, as the HTTP API sees it.

A Nomad client is not in the gossip pool; it talks RPC to servers. The protocol work
(register, heartbeat on the granted TTL, fail over, learn servers) is the sans-IO
`agent.rpc.client_rpc.ClientRpc`; this adds the API's semantics on top: server list
replacement with Nomad 0.7's rules (resolve each entry, drop the ones that fail, 400 if none
is left), health, stats, and `/v1/agent/members` forwarded to a server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from agent.agent_api import HealthCheck, MemberInfo, MembersView
from agent.errors import AgentError, BadRequestError
from agent.rpc.client_rpc import ClientRpc, MembersAnswered
from agent.runtime.resolver import ResolveError, Resolver
from agent.runtime.rpc_driver import RpcRuntime
from gocompat import (
    AddressError,
    ip_literal,
    join_host_port,
    split_host_port,
)
from gossip import format_multierror

DEFAULT_RPC_PORT = 4647
"""The port of a `servers` entry that names none (Nomad's client `resolveServer`)."""
RESOLVE_TIMEOUT = 4.0


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
    """The client half: a `ClientRpc` core plus the API's server-list semantics."""

    def __init__(self, rpc: ClientRpc, runtime: RpcRuntime) -> None:
        self.rpc = rpc
        self.runtime = runtime
        self._waiting: dict[int, asyncio.Future[MembersAnswered]] = {}

    @property
    def node_id(self) -> str:
        return self.rpc.node_id

    def servers(self) -> list[str]:
        """Known servers, sorted as strings (Nomad 0.7+)."""
        return self.rpc.servers()

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
        self.rpc.replace_servers(self.runtime.now(), resolved)
        self.runtime.flush()

    def health(self) -> HealthCheck:
        """Some server is known: all Nomad's `HealthRequest` checks of a client (not heartbeats)."""
        if not self.rpc.servers():
            return HealthCheck(False, "no known servers")
        return HealthCheck(True, "ok")

    def stats(self) -> dict[str, str]:
        return self.rpc.stats(self.runtime.now())

    async def members(self) -> MembersView:
        """Status.Members forwarded to a server (nomad#1382).

        Like Nomad's Client.RPC, a server that does not answer is moved to the back of the
        order and the next one is tried within the same call, so one dead server costs the
        caller one RPC timeout, not an error.

        Raises:
            AgentError: no server is known (`no servers`), or none of them answered.
        """
        error = "no servers"
        for _ in range(max(1, len(self.rpc.servers()))):
            answer = await self._ask_members()
            if answer is None:
                break
            reply = answer.reply
            if reply is not None and not reply.error:
                try:
                    members = [MemberInfo.from_row(row) for row in reply.members]
                except (TypeError, ValueError) as exc:
                    raise AgentError(f"rpc error: bad members reply: {exc}") from None
                return MembersView(reply.server_name, reply.region, reply.datacenter, members)
            error = answer.error or (reply.error if reply else "rpc error")
        raise AgentError(error)

    async def _ask_members(self) -> MembersAnswered | None:
        """One Status.Members call to the current server; None when no server is known."""
        token = self.rpc.request_members(self.runtime.now())
        if token is None:
            return None
        future: asyncio.Future[MembersAnswered] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        self.runtime.flush()
        await self.runtime.wait([future], self.rpc.request_timeout + 1.0)
        self._waiting.pop(token, None)
        if not future.done():
            return MembersAnswered(token, None, "rpc error: timed out waiting for a server")
        return future.result()

    def on_event(self, event: MembersAnswered) -> None:
        future = self._waiting.pop(event.token, None)
        if future is not None and not future.done():
            future.set_result(event)
