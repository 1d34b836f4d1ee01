"""Bodies of the RPC frames clients and servers exchange (raft's own are in raft_stub).

Each body is a msgpack array of the dataclass's fields in order; `from_body` checks the
shape and types, so a malformed frame is refused whole instead of half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from agent.rpc.wire import RpcDecodeError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class _Body:
    """Positional msgpack arrays with a per-class type check."""

    TYPES: ClassVar[tuple[type | tuple[type, ...], ...]]

    def to_body(self) -> list[Any]:
        return [getattr(self, f.name) for f in fields(cast("DataclassInstance", self))]

    @classmethod
    def from_body(cls, body: Any) -> Self:
        if not isinstance(body, list) or len(body) != len(cls.TYPES):
            raise RpcDecodeError(f"{cls.__name__}: expected {len(cls.TYPES)} fields")
        shape = fields(cast("type[DataclassInstance]", cls))
        for value, kind, field in zip(body, cls.TYPES, shape, strict=True):
            allowed = (list, tuple) if kind is list else kind
            if not isinstance(value, allowed) or isinstance(value, bool):
                raise RpcDecodeError(f"{cls.__name__}: bad {field.name}")
        return cls(*(_freeze(v) for v in body))


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True, slots=True)
class NodeHeartbeat(_Body):
    """Node.Register (first time, or after the server forgot us) or Node.UpdateStatus."""

    TYPES = (int, str, str, str, str)
    req_id: int
    node_id: str
    node_name: str
    reply_to: str
    """The client's RPC address: a follower forwards the call and the leader answers it."""
    datacenter: str = ""
    """The client's datacenter, kept in the replicated node table (`/v1/nodes`)."""


@dataclass(frozen=True, slots=True)
class HeartbeatReply(_Body):
    """Nomad's NodeUpdateResponse: the granted TTL and the region's servers, or an error."""

    TYPES = (int, (int, float), list, str, str)
    req_id: int
    ttl: float
    servers: tuple[str, ...]
    leader: str
    error: str


@dataclass(frozen=True, slots=True)
class MembersRequest(_Body):
    """Status.Members, forwarded by a client's `/v1/agent/members`."""

    TYPES = (int, str)
    req_id: int
    reply_to: str


@dataclass(frozen=True, slots=True)
class MembersReply(_Body):
    """The serving server's name, region, dc and members (rows of `MemberInfo` fields)."""

    TYPES = (int, str, str, str, list, str)
    req_id: int
    server_name: str
    region: str
    datacenter: str
    members: tuple[list[Any], ...]
    error: str


@dataclass(frozen=True, slots=True)
class PeersRequest(_Body):
    """Status.Peers before bootstrapping: has anyone a raft configuration already?"""

    TYPES = (int,)
    req_id: int


@dataclass(frozen=True, slots=True)
class PeersReply(_Body):
    TYPES = (int, list)
    req_id: int
    peers: tuple[str, ...]
