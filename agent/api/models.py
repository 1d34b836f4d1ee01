"""Response models with Nomad's JSON field names (Go struct names, or the json tags Nomad set).

They document the API in `/openapi.json` and render the bodies; `from_*` constructors map the
agent's values (agent.agent_api) to them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.agent_api import (
    Fault,
    HealthReport,
    JoinResult,
    MemberInfo,
    MembersView,
    SelfInfo,
)


class _Model(BaseModel):
    """Built with the JSON (alias) names, serialized with them too."""

    model_config = ConfigDict(frozen=True, serialize_by_alias=True)


class MemberModel(_Model):
    """A serf member (`serf.Member` as Nomad encodes it)."""

    name: str = Field(alias="Name", description="`<node>.<region>` for Nomad servers")
    addr: str | None = Field(alias="Addr", description="gossip IP; null in a client's own record")
    port: int = Field(alias="Port", description="Serf port")
    tags: dict[str, str] | None = Field(alias="Tags")
    status: str = Field(alias="Status", description="alive, leaving, left, failed or none")
    protocol_min: int = Field(alias="ProtocolMin")
    protocol_max: int = Field(alias="ProtocolMax")
    protocol_cur: int = Field(alias="ProtocolCur")
    delegate_min: int = Field(alias="DelegateMin")
    delegate_max: int = Field(alias="DelegateMax")
    delegate_cur: int = Field(alias="DelegateCur")

    @classmethod
    def from_info(cls, m: MemberInfo) -> MemberModel:
        return cls(
            Name=m.name,
            Addr=m.addr,
            Port=m.port,
            Tags=None if m.tags is None else dict(m.tags),
            Status=m.status,
            ProtocolMin=m.protocol_min,
            ProtocolMax=m.protocol_max,
            ProtocolCur=m.protocol_cur,
            DelegateMin=m.delegate_min,
            DelegateMax=m.delegate_max,
            DelegateCur=m.delegate_cur,
        )


class MembersResponse(_Model):
    server_name: str = Field(alias="ServerName", description="node name, without the region")
    server_region: str = Field(alias="ServerRegion")
    server_dc: str = Field(alias="ServerDC")
    members: list[MemberModel] = Field(alias="Members")

    @classmethod
    def from_view(cls, view: MembersView) -> MembersResponse:
        return cls(
            ServerName=view.server_name,
            ServerRegion=view.server_region,
            ServerDC=view.server_dc,
            Members=[MemberModel.from_info(m) for m in view.members],
        )


class SelfResponse(_Model):
    config: dict[str, Any] = Field(description="the agent's configuration, Go field names")
    member: MemberModel
    stats: dict[str, dict[str, str]] = Field(description="every value is a string")

    @classmethod
    def from_info(cls, info: SelfInfo) -> SelfResponse:
        return cls(config=info.config, member=MemberModel.from_info(info.member), stats=info.stats)


class JoinResponse(_Model):
    num_joined: int
    error: str = Field(description='"" unless no address could be joined')

    @classmethod
    def from_result(cls, result: JoinResult) -> JoinResponse:
        return cls(num_joined=result.num_joined, error=result.error)


class HealthAgentModel(_Model):
    ok: bool
    message: str


class HealthResponse(_Model):
    """Unchecked halves are omitted."""

    client: HealthAgentModel | None = None
    server: HealthAgentModel | None = None

    @classmethod
    def from_report(cls, report: HealthReport) -> HealthResponse:
        halves = {
            name: HealthAgentModel(ok=check.ok, message=check.message)
            for name, check in report.checks.items()
        }
        return cls(**halves)


class FaultResponse(_Model):
    """One injected fault, as `/v1/agent/fault` lists it (ours: Nomad has no such endpoint)."""

    kind: str = Field(alias="Kind", description="drop or delay")
    peer: str = Field(alias="Peer", description="`ip` (every port) or `ip:port`")
    direction: str = Field(alias="Direction", description="in, out or both, seen from this agent")
    rate: float = Field(alias="Rate", description="fraction of matching traffic affected, 0-1")
    delay_ms: float = Field(alias="DelayMs", description="how long a delay holds traffic back")

    @classmethod
    def from_fault(cls, fault: Fault) -> FaultResponse:
        return cls(
            Kind=fault.kind.value,
            Peer=str(fault.peer),
            Direction=fault.direction.value,
            Rate=fault.rate,
            DelayMs=fault.delay_ms,
        )
