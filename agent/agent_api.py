"""`AgentAPI`: everything the HTTP layer may ask of an agent, and the values it gets back.

The API depends on this protocol only, never on a concrete runtime, so tests can
hand `create_app` an Agent running on the simulator or on real sockets. Values are plain
frozen dataclasses in Nomad's terms; `agent.api.models` maps them to JSON field names.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from agent.runtime.faults import Direction, Fault, FaultError, FaultKind, Peer

__all__ = [
    "ZERO_MEMBER",
    "AclAPI",
    "AclPolicyInfo",
    "AclTokenInfo",
    "AgentAPI",
    "Capability",
    "Direction",
    "Fault",
    "FaultAPI",
    "FaultError",
    "FaultKind",
    "HealthCheck",
    "HealthReport",
    "JoinResult",
    "LogLevel",
    "LogSubscription",
    "MemberInfo",
    "MembersView",
    "MetricValue",
    "MetricsSnapshot",
    "NodeInfo",
    "NodesResult",
    "Peer",
    "QueryMeta",
    "RaftConfigurationInfo",
    "RaftServerInfo",
    "SelfInfo",
]


class Capability(StrEnum):
    """ACL capabilities the endpoints check (Nomad's acl/acl.go: agent, node, operator policy)."""

    AGENT_READ = "agent:read"
    AGENT_WRITE = "agent:write"
    NODE_READ = "node:read"
    OPERATOR_READ = "operator:read"
    OPERATOR_WRITE = "operator:write"


class LogLevel(StrEnum):
    """Nomad's log levels, most verbose first (`-log-level`, `/v1/agent/monitor?log_level=`)."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERR = "ERR"


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

    def to_row(self) -> list[Any]:
        """The fields in order, for `Status.Members` replies on the RPC port."""
        return [getattr(self, name) for name in self.__slots__]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MemberInfo:
        """Inverse of `to_row`.

        Raises:
            ValueError: the row does not have the shape of a member.
        """
        if len(row) != len(cls.__slots__):
            raise ValueError("a member row has 11 fields")
        return cls(*row)


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


@dataclass(frozen=True, slots=True)
class AclPolicyInfo:
    name: str
    description: str
    rules: str
    """As submitted (HCL or JSON), returned unchanged."""
    create_index: int
    modify_index: int

    def to_json(self, *, stub: bool = False) -> dict[str, Any]:
        """Nomad's ACLPolicy JSON (also the persisted form); the list stub has no `Rules`."""
        out: dict[str, Any] = {"Name": self.name, "Description": self.description}
        if not stub:
            out["Rules"] = self.rules
        out |= {"CreateIndex": self.create_index, "ModifyIndex": self.modify_index}
        return out


@dataclass(frozen=True, slots=True)
class AclTokenInfo:
    accessor_id: str
    secret_id: str
    name: str
    type: str
    """"client" or "management"."""
    policies: tuple[str, ...] | None
    global_: bool
    create_time: str
    """Go's RFC 3339 with nanoseconds, UTC."""
    create_index: int
    modify_index: int

    def to_json(self, *, secret: bool = True) -> dict[str, Any]:
        """Nomad's ACLToken JSON (also the persisted form); the list stub has no SecretID."""
        out: dict[str, Any] = {"AccessorID": self.accessor_id}
        if secret:
            out["SecretID"] = self.secret_id
        out |= {
            "Name": self.name,
            "Type": self.type,
            "Policies": None if self.policies is None else list(self.policies),
            "Global": self.global_,
            "CreateTime": self.create_time,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        return out


@dataclass(frozen=True, slots=True)
class RaftServerInfo:
    """One server of the raft configuration (Nomad's structs.RaftServer)."""

    id: str
    node: str
    """The server's serf name, `(unknown)` when serf does not know the address."""
    address: str
    leader: bool
    voter: bool


@dataclass(frozen=True, slots=True)
class RaftConfigurationInfo:
    """`/v1/operator/raft/configuration`: the latest configuration and its log index."""

    servers: tuple[RaftServerInfo, ...]
    index: int


@dataclass(frozen=True, slots=True)
class QueryMeta:
    """What a Nomad read reports beside its answer (`X-Nomad-Index`, `-KnownLeader`,
    `-LastContact`)."""

    index: int
    known_leader: bool
    last_contact_ms: int


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A registered client node, as far as the stub's replicated node table knows it."""

    id: str
    name: str
    datacenter: str
    node_class: str
    status: str
    """`ready` or `down`."""
    status_description: str
    create_index: int
    modify_index: int


@dataclass(frozen=True, slots=True)
class NodesResult:
    """The nodes a (possibly blocking) read returned, and the table's index."""

    nodes: tuple[NodeInfo, ...]
    meta: QueryMeta


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One gauge, or one counter's total, with its labels."""

    name: str
    """Nomad's dotted name, e.g. `nomad.memberlist.udp.sent`."""
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Everything `/v1/metrics` reports, read at one moment."""

    timestamp: float
    """Unix seconds (wall clock) of the reading."""
    gauges: tuple[MetricValue, ...]
    counters: tuple[MetricValue, ...]


class LogSubscription(Protocol):
    """The log lines of one `/v1/agent/monitor` caller, from subscription until `close()`."""

    async def next_line(self) -> str:
        """The next line at or above the subscribed level (waits for one)."""
        ...

    def close(self) -> None:
        """Stop receiving lines; idempotent."""
        ...


class AclAPI(Protocol):
    """`/v1/acl/*`. Every `secret` is the caller's token (None: anonymous); each operation
    raises PermissionDeniedError when that caller may not run it (management only, in 0.7),
    NotFoundError (404) for an unknown name, BadRequestError (400) for an invalid value."""

    @property
    def index(self) -> int:
        """The index of the latest ACL change (for `X-Nomad-Index`)."""
        ...

    async def bootstrap(self) -> AclTokenInfo: ...

    def list_policies(self, secret: str | None) -> list[AclPolicyInfo]: ...

    def get_policy(self, secret: str | None, name: str) -> AclPolicyInfo: ...

    async def upsert_policy(
        self, secret: str | None, *, name: str, description: str, rules: str
    ) -> int: ...

    async def delete_policy(self, secret: str | None, name: str) -> int: ...

    def list_tokens(self, secret: str | None) -> list[AclTokenInfo]: ...

    def self_token(self, secret: str | None) -> AclTokenInfo: ...

    def get_token(self, secret: str | None, accessor: str) -> AclTokenInfo: ...

    async def upsert_token(
        self,
        secret: str | None,
        *,
        accessor: str = "",
        name: str = "",
        type: str = "",
        policies: list[str] | None = None,
        global_: bool = False,
    ) -> AclTokenInfo: ...

    async def delete_token(self, secret: str | None, accessor: str) -> int: ...


class FaultAPI(Protocol):
    """`/v1/agent/fault*`: the network faults injected into this agent's serf and RPC traffic
    (`agent.runtime.faults`). Values arrive validated: a `Fault` cannot hold a bad one."""

    def list(self) -> list[Fault]:
        """The active faults, oldest first."""
        ...

    def add(self, fault: Fault) -> None:
        """Apply `fault` from now on, replacing one of the same kind, peer and direction."""
        ...

    def clear(self, peer: Peer | None = None) -> int:
        """Lift every fault, or only `peer`'s; returns how many were lifted."""
        ...


class KeyringOperation(StrEnum):
    """Nomad's `/v1/agent/keyring/<op>` (command/agent/keyring_endpoint.go)."""

    LIST = "list"
    INSTALL = "install"
    USE = "use"
    REMOVE = "remove"


@dataclass(frozen=True)
class KeyringResult:
    """Nomad's structs.KeyringResponse, from serf's KeyResponse."""

    messages: Mapping[str, str]
    """Member name -> the error it answered with."""
    keys: Mapping[str, int]
    """Base64 key -> how many members hold it (filled by `list`)."""
    num_nodes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "Messages": dict(self.messages),
            "Keys": dict(self.keys),
            "NumNodes": self.num_nodes,
        }


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

    @property
    def acl(self) -> AclAPI | None:
        """The ACL tokens and policies; None when ACLs are disabled."""
        ...

    @property
    def faults(self) -> FaultAPI | None:
        """The injected network faults; None unless `-enable-fault-injection` is set."""
        ...

    async def authorize(self, token: str | None, capability: Capability) -> None:
        """Raises PermissionDeniedError unless `token` grants `capability`."""
        ...

    async def members(self) -> MembersView: ...

    def members_version(self) -> Hashable | None:
        """Equal values mean `members()` answers the same (the API caches the rendered body on
        it); None when there is nothing to cache (a client-only agent)."""
        ...

    def servers(self) -> list[str]: ...

    def self_info(self) -> SelfInfo: ...

    async def health(self, checks: Sequence[str] | None, region: str | None) -> HealthReport: ...

    async def join(self, addresses: Sequence[str]) -> JoinResult: ...

    async def force_leave(self, node: str, *, prune: bool = False) -> None: ...

    async def set_servers(self, addresses: Sequence[str]) -> None: ...

    # ---- status, operator, nodes, metrics, monitor (issue 12) ---------------------------

    def leader(self) -> str:
        """The raft leader's RPC address, "" when there is none (`/v1/status/leader`)."""
        ...

    def peers(self) -> list[str]:
        """The RPC addresses of the raft configuration's servers (`/v1/status/peers`)."""
        ...

    def regions(self) -> list[str]:
        """The regions of the known servers, sorted (`/v1/regions`)."""
        ...

    def raft_configuration(self) -> RaftConfigurationInfo: ...

    async def remove_raft_peer(self, address: str) -> None:
        """Remove the server at `address` from raft (Nomad's `RaftRemovePeerByAddress`).

        Raises:
            AgentError: the address is not in the configuration, or the change failed.
        """
        ...

    async def nodes(self, min_index: int, wait: float) -> NodesResult:
        """The registered nodes; with `min_index` > 0, first wait up to `wait` seconds for
        the node table's index to pass it (a blocking query)."""
        ...

    def record_http(self, route: str, code: int) -> None:
        """Count one HTTP answer (for `/v1/metrics`)."""
        ...

    def metrics(self) -> MetricsSnapshot: ...

    def monitor(self, level: LogLevel) -> LogSubscription:
        """Subscribe to this agent's log lines at `level` and above."""
        ...

    async def keyring(self, op: KeyringOperation, key: str | None) -> KeyringResult:
        """serf's KeyManager across the pool (servers only).

        Raises:
            BadRequestError: a key that is not base64 of 16, 24 or 32 bytes, or removing our
                primary key.
            AgentError: some member failed or did not answer (serf's "N/M nodes ...").
        """
        ...
