"""serf 0.9.4's payloads (serf messages.go) and its tag encoding in memberlist Meta (serf.go:
`encodeTags`, `decodeTags`).

A serf message is one type byte then a msgpack struct; it rides inside a memberlist user
message (0x08), and the push-pull variant is the delegate's user state of a memberlist
push-pull. Same flavour and field readers as `codec.py` (see `wire.py`). Only the types
gossip-agent models are decoded; conflict, key and relay messages (6..9) raise DecodeError,
which callers count and drop, as serf drops message types it does not know.

Two payloads travel *inside* a query rather than as messages of their own: query filters
(`filterType` byte + msgpack, in `Query.filters`) and the conflict response (type byte 6 +
msgpack Member or nil, in the `QueryResponse.payload` answering `_serf_conflict`). Their
value types live here with their codecs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from gossip.errors import DecodeError
from gossip.messages import (
    JoinIntent,
    LeaveIntent,
    Query,
    QueryResponse,
    SerfMessage,
    SerfMessageType,
    SerfPushPull,
    UserEvent,
    UserEventRecord,
    UserEvents,
    type_byte,
)
from gossip.types import Member, MemberStatus, ip_to_bytes
from gossip.wire import (
    U8_MAX,
    U16_MAX,
    U32_MAX,
    U64_MAX,
    array,
    as_map,
    boolean,
    int64,
    name,
    pack,
    raw,
    text,
    uint,
    unpack_first,
)

TAG_MAGIC = 0xFF
"""serf tagMagicByte: the first byte of a Meta that holds msgpack tags (serf protocol >= 3)."""
TAG_MAGIC_BYTE = bytes((TAG_MAGIC,))
"""`TAG_MAGIC` as the prefix `encode_tags` writes."""

_LEAVE = type_byte(SerfMessageType.LEAVE)
_JOIN = type_byte(SerfMessageType.JOIN)
_PUSH_PULL = type_byte(SerfMessageType.PUSH_PULL)
_USER_EVENT = type_byte(SerfMessageType.USER_EVENT)
_QUERY = type_byte(SerfMessageType.QUERY)
_QUERY_RESPONSE = type_byte(SerfMessageType.QUERY_RESPONSE)
_CONFLICT_RESPONSE = type_byte(SerfMessageType.CONFLICT_RESPONSE)


# ---- encoding --------------------------------------------------------------------------------
# Keys in Go's sorted field order; tag maps sorted too, for repeatable bytes (Go's own map
# order is random, and code-point order equals UTF-8 byte order). StatusLTimes, one entry per
# member in every push-pull, keeps the member table's order: sorting it each time costs more
# than the rest of its encoding.


def _enc_leave(m: LeaveIntent) -> bytes:
    return _LEAVE + pack({"LTime": m.ltime, "Node": m.node, "Prune": m.prune})


def _enc_join(m: JoinIntent) -> bytes:
    return _JOIN + pack({"LTime": m.ltime, "Node": m.node})


def _enc_user_events(e: UserEvents | None) -> dict[str, object] | None:
    if e is None:
        return None
    records = [{"Name": r.name, "Payload": r.payload} for r in e.events]
    return {"Events": records, "LTime": e.ltime}


def _enc_push_pull(m: SerfPushPull) -> bytes:
    body = {
        "EventLTime": m.event_ltime,
        # serf sends its whole 512-slot ring; an empty tuple here means "no ring" (nil)
        "Events": [_enc_user_events(e) for e in m.events] if m.events else None,
        "LTime": m.ltime,
        "LeftMembers": list(m.left_members),
        "QueryLTime": m.query_ltime,
        "StatusLTimes": m.status_ltimes,  # Go's map order is random; ours is the table's
    }
    return _PUSH_PULL + pack(body)


def _enc_user_event(m: UserEvent) -> bytes:
    body = {"CC": m.cc, "LTime": m.ltime, "Name": m.name, "Payload": m.payload}
    return _USER_EVENT + pack(body)


def _enc_query(m: Query) -> bytes:
    body = {
        "Addr": m.addr,
        "Filters": None if m.filters is None else list(m.filters),
        "Flags": m.flags,
        "ID": m.id,
        "LTime": m.ltime,
        "Name": m.name,
        "Payload": m.payload,
        "Port": m.port,
        "RelayFactor": m.relay_factor,
        "SourceNode": m.source_node,
        "Timeout": m.timeout_ns,
    }
    return _QUERY + pack(body)


def _enc_query_response(m: QueryResponse) -> bytes:
    body = {
        "Flags": m.flags,
        "From": m.from_node,
        "ID": m.id,
        "LTime": m.ltime,
        "Payload": m.payload,
    }
    return _QUERY_RESPONSE + pack(body)


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    LeaveIntent: _enc_leave,
    JoinIntent: _enc_join,
    SerfPushPull: _enc_push_pull,
    UserEvent: _enc_user_event,
    Query: _enc_query,
    QueryResponse: _enc_query_response,
}


def encode_serf(msg: SerfMessage) -> bytes:
    """serf type byte + msgpack body: the payload of a memberlist user message.

    Raises:
        TypeError: `msg` is not a serf message.
    """
    encoder = _ENCODERS.get(type(msg))
    if encoder is None:
        raise TypeError(f"{type(msg).__name__} is not a serf message")
    return encoder(msg)


def encode_tags(tags: Mapping[str, str]) -> bytes:
    """memberlist Meta for serf protocol >= 3: 0xFF + msgpack map, keys sorted."""
    return TAG_MAGIC_BYTE + pack({k: tags[k] for k in sorted(tags)})


# ---- decoding --------------------------------------------------------------------------------
# Keys with a dataclass default are optional (fields older serf versions did not send).


def _dec_leave(m: dict[str, Any]) -> LeaveIntent:
    return LeaveIntent(
        ltime=uint(m["LTime"], U64_MAX), node=name(m["Node"]), prune=boolean(m.get("Prune"))
    )


def _dec_join(m: dict[str, Any]) -> JoinIntent:
    return JoinIntent(ltime=uint(m["LTime"], U64_MAX), node=name(m["Node"]))


def _dec_user_events(obj: object) -> UserEvents | None:
    if obj is None:
        return None
    m = as_map(obj)
    records = tuple(_dec_record(as_map(r)) for r in array(m["Events"]))
    return UserEvents(ltime=uint(m["LTime"], U64_MAX), events=records)


def _dec_record(m: dict[str, Any]) -> UserEventRecord:
    return UserEventRecord(name=text(m["Name"]), payload=raw(m["Payload"]))


def _dec_status_ltimes(status: object) -> dict[str, int]:
    """StatusLTimes: one entry per member, so checked in bulk when all is well (the usual
    case), entry by entry only to name what is wrong."""
    if status is None:
        return {}
    if type(status) is not dict:
        raise DecodeError("StatusLTimes is not a map")
    keys, values = status.keys(), status.values()
    if (
        set(map(type, keys)) <= {str}
        and "".join(keys).isascii()
        and set(map(type, values)) <= {int}  # `type is int`: bools are refused, as in Go
        and min(values, default=0) >= 0
        and max(values, default=0) <= U64_MAX
    ):
        return dict(zip(map(sys.intern, keys), values, strict=True))
    return {name(k): uint(v, U64_MAX) for k, v in status.items()}


def _dec_push_pull(m: dict[str, Any]) -> SerfPushPull:
    return SerfPushPull(
        ltime=uint(m["LTime"], U64_MAX),
        status_ltimes=_dec_status_ltimes(m.get("StatusLTimes")),
        left_members=tuple(name(n) for n in array(m.get("LeftMembers"))),
        event_ltime=uint(m.get("EventLTime"), U64_MAX),
        events=tuple(_dec_user_events(e) for e in array(m.get("Events"))),
        query_ltime=uint(m.get("QueryLTime"), U64_MAX),
    )


def _dec_user_event(m: dict[str, Any]) -> UserEvent:
    return UserEvent(
        ltime=uint(m["LTime"], U64_MAX),
        name=text(m["Name"]),
        payload=raw(m["Payload"]),
        cc=boolean(m.get("CC")),
    )


def _dec_query(m: dict[str, Any]) -> Query:
    filters = m["Filters"]
    return Query(
        ltime=uint(m["LTime"], U64_MAX),
        id=uint(m["ID"], U32_MAX),
        addr=raw(m["Addr"]),
        port=uint(m["Port"], U16_MAX),
        source_node=name(m["SourceNode"]),
        filters=None if filters is None else tuple(raw(f) for f in array(filters)),
        flags=uint(m["Flags"], U32_MAX),
        relay_factor=uint(m["RelayFactor"], U8_MAX),
        timeout_ns=int64(m["Timeout"]),
        name=text(m["Name"]),
        payload=raw(m["Payload"]),
    )


def _dec_query_response(m: dict[str, Any]) -> QueryResponse:
    return QueryResponse(
        ltime=uint(m["LTime"], U64_MAX),
        id=uint(m["ID"], U32_MAX),
        from_node=name(m["From"]),
        flags=uint(m["Flags"], U32_MAX),
        payload=raw(m["Payload"]),
    )


_DECODERS: dict[int, Callable[[dict[str, Any]], SerfMessage]] = {
    SerfMessageType.LEAVE: _dec_leave,
    SerfMessageType.JOIN: _dec_join,
    SerfMessageType.PUSH_PULL: _dec_push_pull,
    SerfMessageType.USER_EVENT: _dec_user_event,
    SerfMessageType.QUERY: _dec_query,
    SerfMessageType.QUERY_RESPONSE: _dec_query_response,
}


def decode_serf(data: bytes) -> SerfMessage:
    """One serf message (type byte + msgpack; bytes after the body are ignored, as in Go).

    Raises:
        DecodeError: malformed, or a type gossip-agent does not model (conflict, key, relay).
    """
    if not data:
        raise DecodeError("empty serf message")
    decoder = _DECODERS.get(data[0])
    if decoder is None:
        raise DecodeError(f"serf message type {data[0]} is not supported")
    try:
        return decoder(as_map(unpack_first(data[1:])))
    except KeyError as missing:
        raise DecodeError(f"serf message lacks field {missing}") from None


def decode_tags(meta: bytes) -> dict[str, str]:
    """serf's decodeTags: 0xFF + msgpack map, or else the whole Meta is the `role` tag.

    Raises:
        DecodeError: 0xFF followed by anything but a msgpack map of strings.
    """
    if not meta or meta[0] != TAG_MAGIC:
        return {"role": meta.decode("utf-8", "replace")}
    obj = unpack_first(meta[1:])
    if obj is None:  # a nil map
        return {}
    return {text(k): text(v) for k, v in as_map(obj).items()}


# ---- payloads inside queries: filters and conflict responses ---------------------------------


class FilterType(IntEnum):
    """serf's filterType, the first byte of each query filter. ONLY APPEND: on the wire."""

    NODE = 0
    TAG = 1


_NODE_FILTER = bytes((FilterType.NODE,))
_TAG_FILTER = bytes((FilterType.TAG,))


@dataclass(frozen=True, slots=True)
class NodeFilter:
    """filterNodeType: only the nodes named here process the query."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagFilter:
    """filterTagType: only nodes whose tag `tag` matches the regexp `expr` process the query."""

    tag: str
    expr: str


QueryFilter = NodeFilter | TagFilter


def encode_filter(f: QueryFilter) -> bytes:
    """serf encodeFilter: type byte + msgpack (a name list, or filterTag{Expr, Tag})."""
    if isinstance(f, NodeFilter):
        return _NODE_FILTER + pack(list(f.names))
    return _TAG_FILTER + pack({"Expr": f.expr, "Tag": f.tag})


def decode_filter(data: bytes) -> QueryFilter:
    """One query filter, read as serf shouldProcessQuery does (trailing bytes ignored).

    Raises:
        DecodeError: empty, an unknown filter type, or a body of the wrong shape.
    """
    if not data:  # serf would index filter[0] and panic; we refuse it
        raise DecodeError("empty query filter")
    body = unpack_first(data[1:])
    if data[0] == FilterType.NODE:
        return NodeFilter(tuple(text(n) for n in array(body)))
    if data[0] == FilterType.TAG:
        m = {} if body is None else as_map(body)  # a nil struct decodes to zero values
        return TagFilter(tag=text(m.get("Tag")), expr=text(m.get("Expr")))
    raise DecodeError(f"query filter type {data[0]} is not supported")


_STATUS_CODES = {
    MemberStatus.NONE: 0,
    MemberStatus.ALIVE: 1,
    MemberStatus.LEAVING: 2,
    MemberStatus.LEFT: 3,
    MemberStatus.FAILED: 4,
}
"""serf's MemberStatus integers (an int on the wire, a string for users)."""


@dataclass(frozen=True, slots=True)
class ConflictAnswer:
    """What one peer's conflict response says about the contested name; serf compares only
    Addr and Port (a nil Member decodes to zeros: a vote against whoever asked)."""

    name: str
    addr: bytes
    port: int


def encode_conflict_response(member: Member | None) -> bytes:
    """serf handleConflict's answer: type 6 + msgpack Member, or msgpack nil when unknown."""
    body: dict[str, object] | None = None
    if member is not None:
        v = member.versions
        body = {
            "Addr": ip_to_bytes(member.addr),
            "DelegateCur": v.delegate_cur,
            "DelegateMax": v.delegate_max,
            "DelegateMin": v.delegate_min,
            "Name": member.name,
            "Port": member.port,
            "ProtocolCur": v.protocol_cur,
            "ProtocolMax": v.protocol_max,
            "ProtocolMin": v.protocol_min,
            "Status": _STATUS_CODES[member.status],
            "Tags": {k: member.tags[k] for k in sorted(member.tags)},
        }
    return _CONFLICT_RESPONSE + pack(body)


def decode_conflict_response(payload: bytes) -> ConflictAnswer:
    """The Member in a `_serf_conflict` response, as resolveNodeConflict reads it.

    Raises:
        DecodeError: not type 6, or a body that is neither nil nor a Member map.
    """
    if not payload or payload[0] != SerfMessageType.CONFLICT_RESPONSE:
        raise DecodeError("not a conflict response")
    body = unpack_first(payload[1:])
    m = {} if body is None else as_map(body)
    return ConflictAnswer(
        name=text(m.get("Name")), addr=raw(m.get("Addr")), port=uint(m.get("Port"), U16_MAX)
    )
