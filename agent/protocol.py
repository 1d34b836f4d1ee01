"""`AgentAPI`: everything the HTTP layer may ask of an agent, and the values it gets back.

The API depends on this protocol only, never on a concrete runtime (STYLE B7), so tests can
hand `create_app` an Agent running on the simulator or on real sockets. Values are plain
frozen dataclasses in Nomad's terms; `agent.api.models` maps them to JSON field names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Capability(StrEnum):
    """ACL capabilities the agent endpoints check (reference 1.7)."""

    AGENT_READ = "agent:read"
    AGENT_WRITE = "agent:write"
    NODE_READ = "node:read"


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One gossip member as `/v1/agent/members` and `/v1/agent/self` show it.

    `addr` and `tags` are None only in the zero record a client-only agent reports.
    """

    name: str
    addr: str | None
    port: int
    tags: Mapping[str, str] | None
    status: str
    protocol_min: int
    protocol_max: int
    protocol_cur: int
    delegate_min: int
    delegate_max: int
    delegate_cur: int


ZERO_MEMBER = MemberInfo("", None, 0, None, "none", 0, 0, 0, 0, 0, 0)
"""What a client-only agent reports as its own member (hashicorp/nomad#11661)."""


@dataclass(frozen=True, slots=True)
class MembersView:
    server_name: str
    server_region: str
    server_dc: str
    members: list[MemberInfo]


@dataclass(frozen=True, slots=True)
class SelfInfo:
    config: dict[str, Any]
    member: MemberInfo
    stats: dict[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class JoinResult:
    num_joined: int
    error: str = ""


@dataclass(frozen=True, slots=True)
class HealthCheck:
    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Checked halves by name ("client", "server"); unchecked halves are absent."""

    checks: dict[str, HealthCheck] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks.values())


class AgentAPI(Protocol):
    """The agent as the HTTP API sees it. Commands are async; reads never block."""

    @property
    def is_server(self) -> bool: ...

    @property
    def is_client(self) -> bool: ...

    @property
    def response_headers(self) -> Mapping[str, str]:
        """Operator-configured headers for every HTTP response (`http_api_response_headers`)."""
        ...

    async def authorize(self, token: str | None, capability: Capability) -> None:
        """Raises PermissionDeniedError unless `token` grants `capability`."""
        ...

    async def members(self) -> MembersView: ...

    def servers(self) -> list[str]: ...

    def self_info(self) -> SelfInfo: ...

    async def health(self, checks: Sequence[str] | None, region: str | None) -> HealthReport: ...

    async def join(self, addresses: Sequence[str]) -> JoinResult: ...

    async def force_leave(self, node: str, *, prune: bool = False) -> None: ...

    async def set_servers(self, addresses: Sequence[str]) -> None: ...
