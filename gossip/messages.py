"""Wire message model of memberlist 0.2.2 and serf 0.9.4.

The numbers of both enums ARE the wire format: only ever append to them. Each dataclass
mirrors one Go struct (memberlist net.go, serf messages.go); the codec maps snake_case fields to
the Go names. Framing types (compound, compress, encrypt, hasCrc) have no dataclass: they
are layers the codec adds and strips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from gossip.types import NodeState


class MessageType(IntEnum):
    """memberlist's messageType. ONLY APPEND: the values are on the wire."""

    PING = 0
    INDIRECT_PING = 1
    ACK_RESP = 2
    SUSPECT = 3
    ALIVE = 4
    DEAD = 5
    PUSH_PULL = 6
    COMPOUND = 7
    USER = 8
    COMPRESS = 9
    ENCRYPT = 10
    NACK_RESP = 11
    HAS_CRC = 12
    ERR = 13


class SerfMessageType(IntEnum):
    """serf's messageType, the first byte of a memberlist user message. ONLY APPEND."""

    LEAVE = 0
    JOIN = 1
    PUSH_PULL = 2
    USER_EVENT = 3
    QUERY = 4
    QUERY_RESPONSE = 5
    CONFLICT_RESPONSE = 6
    KEY_REQUEST = 7
    KEY_RESPONSE = 8
    RELAY = 9


def type_byte(kind: MessageType | SerfMessageType) -> bytes:
    """`kind` as the single byte that starts its message on the wire.

    The codecs call it once per type at import and keep the result in a module constant, so
    encoding a message costs no more than prefixing a literal byte.
    """
    return bytes((kind,))


USER_MSG_PREFIX = type_byte(MessageType.USER)
"""memberlist's userMsg type byte, in front of every delegate (serf) message we send."""


# ---- memberlist ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ping:
    seq_no: int
    node: str
    source_addr: bytes = b""
    source_port: int = 0
    source_node: str = ""


@dataclass(frozen=True, slots=True)
class IndirectPing:
    seq_no: int
    target: bytes
    port: int
    node: str
    nack: bool = False
    source_addr: bytes = b""
    source_port: int = 0
    source_node: str = ""


@dataclass(frozen=True, slots=True)
class AckResp:
    seq_no: int
    payload: bytes | None = None


@dataclass(frozen=True, slots=True)
class NackResp:
    seq_no: int


@dataclass(frozen=True, slots=True)
class Suspect:
    incarnation: int
    node: str
    from_node: str


@dataclass(frozen=True, slots=True)
class Alive:
    incarnation: int
    node: str
    addr: bytes
    port: int
    meta: bytes
    vsn: bytes


@dataclass(frozen=True, slots=True)
class Dead:
    incarnation: int
    node: str
    from_node: str


@dataclass(frozen=True, slots=True)
class UserMsg:
    """A delegate (serf) payload, raw bytes after the 0x08 type byte."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class ErrResp:
    error: str


class PushNodeState(NamedTuple):
    """One entry of a push-pull table (note `Name`, not `Node`, on the wire).

    A NamedTuple, unlike its siblings: its hash runs in C, so the codec can memoise entries
    (a simulated cluster sends the same few thousand entries millions of times).
    """

    name: str
    addr: bytes
    port: int
    meta: bytes
    incarnation: int
    state: NodeState
    vsn: bytes


@dataclass(frozen=True, slots=True)
class PushPull:
    """A whole push-pull request or reply: header, node table and delegate user state."""

    join: bool
    nodes: tuple[PushNodeState, ...]
    user_state: bytes = b""


PacketMessage = Ping | IndirectPing | AckResp | NackResp | Suspect | Alive | Dead | UserMsg
StreamMessage = Ping | AckResp | PushPull | ErrResp | UserMsg


# ---- serf ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeaveIntent:
    ltime: int
    node: str
    prune: bool = False


@dataclass(frozen=True, slots=True)
class JoinIntent:
    ltime: int
    node: str


@dataclass(frozen=True, slots=True)
class UserEventRecord:
    name: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class UserEvents:
    """One slot of serf's event ring as push-pull carries it."""

    ltime: int
    events: tuple[UserEventRecord, ...]


@dataclass(frozen=True, slots=True)
class SerfPushPull:
    """serf's push-pull user state (`messagePushPull`)."""

    ltime: int
    status_ltimes: dict[str, int] = field(default_factory=dict)
    left_members: tuple[str, ...] = ()
    event_ltime: int = 0
    events: tuple[UserEvents | None, ...] = ()
    query_ltime: int = 0


@dataclass(frozen=True, slots=True)
class UserEvent:
    ltime: int
    name: str
    payload: bytes
    cc: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    ltime: int
    id: int
    addr: bytes
    port: int
    source_node: str
    filters: tuple[bytes, ...] | None
    flags: int
    relay_factor: int
    timeout_ns: int
    name: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QueryResponse:
    ltime: int
    id: int
    from_node: str
    flags: int
    payload: bytes


SerfMessage = LeaveIntent | JoinIntent | SerfPushPull | UserEvent | Query | QueryResponse
