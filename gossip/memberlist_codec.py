"""Bodies of memberlist 0.2.2's messages (net.go's structs): one encoder and decoder per struct.

Each encoder writes the type byte and a dict whose keys are already in Go's sorted field order
(see `wire.py`); omitempty fields are left out when zero. Each decoder reads the unpacked map
with the typed readers of `wire.py`. A key may be missing exactly when its dataclass field has
a default (Go's omitempty fields, and fields that older memberlist versions did not send, like
`Nack`); any other missing key is a DecodeError (raised as KeyError here, converted by
`build`). Written out per type, without reflection over dataclass fields: this is the hot path
of simulations with thousands of nodes. Framing (compound, compress, CRC, streams) is in
`codec.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from gossip.errors import DecodeError
from gossip.flyweights import CACHE_SIZE
from gossip.messages import (
    USER_MSG_PREFIX,
    AckResp,
    Alive,
    Dead,
    ErrResp,
    IndirectPing,
    MessageType,
    NackResp,
    PacketMessage,
    Ping,
    PushNodeState,
    StreamMessage,
    Suspect,
    UserMsg,
    type_byte,
)
from gossip.types import NodeState
from gossip.wire import (
    U16_MAX,
    U32_MAX,
    VSN_MIN_BYTES,
    as_map,
    boolean,
    name,
    optional_raw,
    pack,
    raw,
    text,
    uint,
    unpack,
    unpack_first,
    vsn,
)

_NODE_STATES = tuple(NodeState)
_T = TypeVar("_T")

_PING = type_byte(MessageType.PING)
_INDIRECT_PING = type_byte(MessageType.INDIRECT_PING)
_ACK_RESP = type_byte(MessageType.ACK_RESP)
_SUSPECT = type_byte(MessageType.SUSPECT)
_ALIVE = type_byte(MessageType.ALIVE)
_DEAD = type_byte(MessageType.DEAD)
_NACK_RESP = type_byte(MessageType.NACK_RESP)


# ---- encoding --------------------------------------------------------------------------------


def _check_vsn(value: bytes) -> bytes:
    """Refuse to send a Vsn that would crash Go peers (see `wire.VSN_MIN_BYTES`)."""
    if 0 < len(value) < VSN_MIN_BYTES:
        raise ValueError(f"Vsn must be empty or {VSN_MIN_BYTES}+ bytes, got {len(value)}")
    return value


def _enc_ping(m: Ping) -> bytes:
    body: dict[str, object] = {"Node": m.node, "SeqNo": m.seq_no}
    if m.source_addr:  # omitempty, as the three Source* fields in Go
        body["SourceAddr"] = m.source_addr
    if m.source_node:
        body["SourceNode"] = m.source_node
    if m.source_port:
        body["SourcePort"] = m.source_port
    return _PING + pack(body)


def _enc_indirect_ping(m: IndirectPing) -> bytes:
    body: dict[str, object] = {"Nack": m.nack, "Node": m.node, "Port": m.port, "SeqNo": m.seq_no}
    if m.source_addr:
        body["SourceAddr"] = m.source_addr
    if m.source_node:
        body["SourceNode"] = m.source_node
    if m.source_port:
        body["SourcePort"] = m.source_port
    body["Target"] = m.target
    return _INDIRECT_PING + pack(body)


def _enc_ack(m: AckResp) -> bytes:
    return _ACK_RESP + pack({"Payload": m.payload, "SeqNo": m.seq_no})


def _enc_suspect(m: Suspect) -> bytes:
    return _SUSPECT + pack({"From": m.from_node, "Incarnation": m.incarnation, "Node": m.node})


def _enc_alive(m: Alive) -> bytes:
    body = {
        "Addr": m.addr,
        "Incarnation": m.incarnation,
        "Meta": m.meta,
        "Node": m.node,
        "Port": m.port,
        "Vsn": _check_vsn(m.vsn),
    }
    return _ALIVE + pack(body)


def _enc_dead(m: Dead) -> bytes:
    return _DEAD + pack({"From": m.from_node, "Incarnation": m.incarnation, "Node": m.node})


def _enc_nack(m: NackResp) -> bytes:
    return _NACK_RESP + pack({"SeqNo": m.seq_no})


def _enc_user(m: UserMsg) -> bytes:
    return USER_MSG_PREFIX + m.payload  # packets carry the delegate's bytes raw, no msgpack header


ENCODERS: dict[type, Callable[[Any], bytes]] = {
    Ping: _enc_ping,
    IndirectPing: _enc_indirect_ping,
    AckResp: _enc_ack,
    Suspect: _enc_suspect,
    Alive: _enc_alive,
    Dead: _enc_dead,
    NackResp: _enc_nack,
    UserMsg: _enc_user,
}


@lru_cache(maxsize=CACHE_SIZE)
def encode_node_state(n: PushNodeState) -> bytes:
    """One push-pull table entry (no type byte: it follows the push-pull header).

    Memoised: in a settled cluster every table repeats the same entries.
    """
    body = {
        "Addr": n.addr,
        "Incarnation": n.incarnation,
        "Meta": n.meta,
        "Name": n.name,
        "Port": n.port,
        "State": int(n.state),
        "Vsn": _check_vsn(n.vsn),
    }
    return pack(body)


# ---- decoding --------------------------------------------------------------------------------


def _dec_ping(m: dict[str, Any]) -> Ping:
    return Ping(
        seq_no=uint(m["SeqNo"], U32_MAX),
        node=name(m["Node"]),
        source_addr=raw(m.get("SourceAddr")),
        source_port=uint(m.get("SourcePort"), U16_MAX),
        source_node=name(m.get("SourceNode")),
    )


def _dec_indirect_ping(m: dict[str, Any]) -> IndirectPing:
    return IndirectPing(
        seq_no=uint(m["SeqNo"], U32_MAX),
        target=raw(m["Target"]),
        port=uint(m["Port"], U16_MAX),
        node=name(m["Node"]),
        nack=boolean(m.get("Nack")),
        source_addr=raw(m.get("SourceAddr")),
        source_port=uint(m.get("SourcePort"), U16_MAX),
        source_node=name(m.get("SourceNode")),
    )


def _dec_ack(m: dict[str, Any]) -> AckResp:
    return AckResp(seq_no=uint(m["SeqNo"], U32_MAX), payload=optional_raw(m.get("Payload")))


def _dec_suspect(m: dict[str, Any]) -> Suspect:
    return Suspect(
        incarnation=uint(m["Incarnation"], U32_MAX),
        node=name(m["Node"]),
        from_node=name(m["From"]),
    )


def _dec_alive(m: dict[str, Any]) -> Alive:
    return Alive(
        incarnation=uint(m["Incarnation"], U32_MAX),
        node=name(m["Node"]),
        addr=raw(m["Addr"]),
        port=uint(m["Port"], U16_MAX),
        meta=raw(m["Meta"]),
        vsn=vsn(m["Vsn"]),
    )


def _dec_dead(m: dict[str, Any]) -> Dead:
    return Dead(
        incarnation=uint(m["Incarnation"], U32_MAX),
        node=name(m["Node"]),
        from_node=name(m["From"]),
    )


def _dec_nack(m: dict[str, Any]) -> NackResp:
    return NackResp(seq_no=uint(m["SeqNo"], U32_MAX))


def _dec_err(m: dict[str, Any]) -> ErrResp:
    return ErrResp(error=text(m["Error"]))


@lru_cache(maxsize=CACHE_SIZE)
def node_state_from_wire(data: bytes) -> PushNodeState:
    """One push-pull table entry from exactly its bytes; memoised like `encode_node_state`.

    Raises:
        DecodeError: not one msgpack map, or a bad field (errors are not memoised).
    """
    return build(decode_node_state, unpack(data))


def decode_node_state(m: dict[str, Any]) -> PushNodeState:
    """One push-pull table entry; State must be 0..3."""
    return PushNodeState(
        name=name(m["Name"]),
        addr=raw(m["Addr"]),
        port=uint(m["Port"], U16_MAX),
        meta=raw(m["Meta"]),
        incarnation=uint(m["Incarnation"], U32_MAX),
        state=_NODE_STATES[uint(m["State"], len(_NODE_STATES) - 1)],
        vsn=vsn(m["Vsn"]),
    )


PACKET_DECODERS: dict[int, Callable[[dict[str, Any]], PacketMessage]] = {
    MessageType.PING: _dec_ping,
    MessageType.INDIRECT_PING: _dec_indirect_ping,
    MessageType.ACK_RESP: _dec_ack,
    MessageType.SUSPECT: _dec_suspect,
    MessageType.ALIVE: _dec_alive,
    MessageType.DEAD: _dec_dead,
    MessageType.NACK_RESP: _dec_nack,
}


_BROADCAST_DECODERS: dict[int, Callable[[dict[str, Any]], Alive | Suspect | Dead]] = {
    MessageType.SUSPECT: _dec_suspect,
    MessageType.ALIVE: _dec_alive,
    MessageType.DEAD: _dec_dead,
}

BROADCAST_KINDS = frozenset(_BROADCAST_DECODERS)
"""Messages that are gossiped: the same bytes reach every node, many times over."""


@lru_cache(maxsize=CACHE_SIZE)
def broadcast_from_wire(data: bytes) -> Alive | Suspect | Dead:
    """An alive, suspect or dead message, type byte first, from exactly its bytes.

    Memoised like `node_state_from_wire`: one broadcast travels to every node in a simulated
    cluster, each passing it on a few times, so a process decodes it once, not per receipt.
    The result is frozen, so every receiver can share it.

    Raises:
        DecodeError: not a broadcast kind, or a bad body (errors are not memoised).
    """
    decoder = _BROADCAST_DECODERS.get(data[0]) if data else None
    if decoder is None:
        raise DecodeError("not an alive, suspect or dead message")
    return build(decoder, unpack_first(data[1:]))


def build(decoder: Callable[[dict[str, Any]], _T], obj: object) -> _T:
    """Run a body decoder on an unpacked object.

    Raises:
        DecodeError: `obj` is not a map, lacks a required key, or has a bad field.
    """
    try:
        return decoder(as_map(obj))
    except KeyError as missing:
        raise DecodeError(f"missing field {missing}") from None


STREAM_DECODERS: dict[int, Callable[[dict[str, Any]], StreamMessage]] = {
    MessageType.PING: _dec_ping,
    MessageType.ACK_RESP: _dec_ack,
    MessageType.ERR: _dec_err,
}
