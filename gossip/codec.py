"""memberlist 0.2.2's wire framing: datagrams, TCP stream messages and their layers.

Datagrams (memberlist net.go: `ingestPacket`) are one message, or layers around messages that
memberlist adds on send and peels off on receive, in this order: `hasCrc` (0x0c, only
outermost), `compress` (0x09, LZW), `compound` (0x07, up to 255 length-prefixed parts).
`decode_packet` peels them as Go's `ingestPacket`/`handleCommand` do and never raises: every
part that cannot be used is counted in `DecodedPacket.errors` and dropped while the other parts
still count, because one bad broadcast must not hide the rest of a gossip packet.

Streams (memberlist net.go: `handleConn`, `readStream`) carry one exchange per connection with
no length prefix and no half-close, so the receiver must find where a message ends:
`stream_message_length` parses just enough (a push-pull is a header, N node entries, then
UserStateLen raw bytes).

This is the codec's public face. Message bodies are in `memberlist_codec.py`, serf payloads
and tags in `serf_codec.py` (re-exported here), the msgpack flavour in `wire.py`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgpack

from gossip import lzw
from gossip.errors import DecodeError
from gossip.flyweights import CACHE_SIZE
from gossip.memberlist_codec import (
    BROADCAST_KINDS,
    ENCODERS,
    PACKET_DECODERS,
    STREAM_DECODERS,
    broadcast_from_wire,
    build,
    encode_node_state,
    node_state_from_wire,
)
from gossip.messages import (
    USER_MSG_PREFIX,
    AckResp,
    ErrResp,
    MessageType,
    PacketMessage,
    Ping,
    PushPull,
    SerfMessage,
    SerfMessageType,
    StreamMessage,
    UserMsg,
    type_byte,
)
from gossip.serf_codec import decode_serf, decode_tags, encode_serf, encode_tags
from gossip.wire import (
    U8_MAX,
    UNPACK_OPTIONS,
    StreamUnpacker,
    as_map,
    boolean,
    pack,
    raw,
    uint,
    unpack,
    unpack_first,
)

__all__ = [
    "MAX_COMPOUND_PARTS",
    "MAX_NESTING",
    "MAX_PACKET_INFLATED_BYTES",
    "MAX_PART_BYTES",
    "MAX_STREAM_BYTES",
    "DecodedPacket",
    "compress_frame",
    "decode_packet",
    "decode_serf",
    "decode_serf_gossip",
    "decode_stream",
    "decode_tags",
    "encode",
    "encode_compound",
    "encode_serf",
    "encode_stream",
    "encode_tags",
    "maybe_compress",
    "stream_message_length",
    "wrap_crc",
]

MAX_COMPOUND_PARTS = 255  # the count is one byte
MAX_PART_BYTES = 0xFFFF  # each part length is a big-endian u16
MAX_NESTING = 4
"""compress/compound layers `decode_packet` peels; memberlist itself sends at most two
(compress around compound). Go recurses without a bound, but Python's stack is smaller."""
MAX_PACKET_INFLATED_BYTES = 1 << 20
"""Cap on one decompressed datagram layer. memberlist compresses only what it could have sent
as one datagram (<= 64 KiB), so more than this is an attack on our CPU, not gossip."""
MAX_STREAM_BYTES = 20 * 1024 * 1024
"""Largest stream message, compressed or not: memberlist's limit for encrypted streams."""

_PUSH_PULL = MessageType.PUSH_PULL.value
_COMPOUND = MessageType.COMPOUND.value
_USER = MessageType.USER.value
_COMPRESS = MessageType.COMPRESS.value
_ENCRYPT = MessageType.ENCRYPT.value
_HAS_CRC = MessageType.HAS_CRC.value
_PUSH_PULL_BYTE = type_byte(MessageType.PUSH_PULL)
_COMPRESS_BYTE = type_byte(MessageType.COMPRESS)
_HAS_CRC_BYTE = type_byte(MessageType.HAS_CRC)
_ERR_BYTE = type_byte(MessageType.ERR)


# ---- encoding --------------------------------------------------------------------------------


def encode(msg: PacketMessage) -> bytes:
    """One datagram message: type byte + msgpack body (a UserMsg: 0x08 + raw payload).

    Raises:
        TypeError: `msg` is not a packet message.
        ValueError: an Alive whose Vsn has 1..5 bytes (it would crash Go peers).
    """
    encoder = ENCODERS.get(type(msg))
    if encoder is None:
        raise TypeError(f"{type(msg).__name__} is not a packet message")
    return encoder(msg)


def encode_compound(parts: Sequence[bytes]) -> bytes:
    """`0x07 | count u8 | len u16be * count | parts`, as memberlist's makeCompoundMessage.

    Raises:
        ValueError: more than 255 parts, or a part longer than 65535 bytes.
    """
    count = len(parts)
    if count > MAX_COMPOUND_PARTS:
        raise ValueError(f"a compound holds at most {MAX_COMPOUND_PARTS} parts, got {count}")
    lengths = list(map(len, parts))
    if lengths and max(lengths) > MAX_PART_BYTES:
        raise ValueError(f"compound part of {max(lengths)} bytes exceeds {MAX_PART_BYTES}")
    return struct.pack(f">BB{count}H", _COMPOUND, count, *lengths) + b"".join(parts)


def wrap_crc(frame: bytes) -> bytes:
    """`0x0c | crc32be(frame) | frame` (CRC-32/IEEE, what Go's crc32.ChecksumIEEE computes)."""
    return _HAS_CRC_BYTE + zlib.crc32(frame).to_bytes(4, "big") + frame


def compress_frame(msg: bytes) -> bytes:
    """`0x09 | msgpack({Algo: 0, Buf: lzw(msg)})`, memberlist's compressPayload."""
    return _COMPRESS_BYTE + pack({"Algo": 0, "Buf": lzw.compress(msg)})


def maybe_compress(msg: bytes) -> bytes:
    """The compressed frame if strictly shorter, else `msg` (memberlist's datagram rule)."""
    compressed = compress_frame(msg)
    return compressed if len(compressed) < len(msg) else msg


def encode_stream(msg: StreamMessage, *, compress: bool) -> bytes:
    """One stream message; with `compress` the whole of it goes in a compress frame (memberlist
    compresses every stream when compression is on, even when that makes it longer).

    Raises:
        TypeError: `msg` cannot travel on a stream.
        ValueError: a PushNodeState whose Vsn has 1..5 bytes.
    """
    if isinstance(msg, PushPull):
        header = {"Join": msg.join, "Nodes": len(msg.nodes), "UserStateLen": len(msg.user_state)}
        chunks = [_PUSH_PULL_BYTE, pack(header)]
        chunks += [encode_node_state(n) for n in msg.nodes]
        chunks.append(msg.user_state)
        plain = b"".join(chunks)
    elif isinstance(msg, UserMsg):  # the reliable form: msgpack(userMsgHeader), raw bytes
        plain = USER_MSG_PREFIX + pack({"UserMsgLen": len(msg.payload)}) + msg.payload
    elif isinstance(msg, ErrResp):
        plain = _ERR_BYTE + pack({"Error": msg.error})
    elif isinstance(msg, Ping | AckResp):
        plain = encode(msg)
    else:
        raise TypeError(f"{type(msg).__name__} is not a stream message")
    return compress_frame(plain) if compress else plain


# ---- decoding: compression -------------------------------------------------------------------


def _inflate(frame: object, limit: int) -> bytes:
    """The payload of a `compress{Algo, Buf}` struct, memberlist's decompressBuffer."""
    m = as_map(frame)
    if "Algo" not in m or "Buf" not in m:
        raise DecodeError("compress frame lacks Algo or Buf")
    algo = uint(m["Algo"], U8_MAX)
    if algo != 0:
        raise DecodeError(f"unknown compression algorithm {algo}")
    return lzw.decompress(raw(m["Buf"]), max_output=limit)


# ---- decoding: datagrams ---------------------------------------------------------------------


@dataclass(slots=True)
class DecodedPacket:
    """What one datagram held: the usable messages in order, and how many parts were dropped."""

    messages: list[PacketMessage] = field(default_factory=list)
    errors: int = 0


def decode_packet(data: bytes) -> DecodedPacket:
    """Every message in a datagram; never raises (bad parts are counted in `errors`)."""
    out = DecodedPacket()
    if len(data) >= 5 and data[0] == _HAS_CRC:  # as Go: only the outermost layer, len >= 5
        if zlib.crc32(data[5:]) != int.from_bytes(data[1:5], "big"):
            out.errors = 1
            return out
        data = data[5:]
    _walk(data, 0, out)
    return out


def _walk(buf: bytes, depth: int, out: DecodedPacket) -> None:
    """Go's handleCommand: dispatch on the type byte, recursing into compress and compound."""
    if not buf:
        out.errors += 1  # Go would index buf[0] and panic
        return
    kind = buf[0]
    if kind in (_COMPOUND, _COMPRESS):
        if depth >= MAX_NESTING:
            out.errors += 1
        elif kind == _COMPOUND:
            _walk_compound(buf, depth, out)
        else:
            try:
                inner = _inflate(unpack_first(buf[1:]), MAX_PACKET_INFLATED_BYTES)
            except DecodeError:
                out.errors += 1
                return
            _walk(inner, depth + 1, out)
        return
    try:
        if kind in BROADCAST_KINDS:
            out.messages.append(broadcast_from_wire(buf))
            return
        if kind == _USER:
            out.messages.append(user_msg_from_wire(buf))
            return
        decoder = PACKET_DECODERS.get(kind)
        if decoder is None:  # unknown, stream-only (push-pull, err, encrypt), or a nested CRC
            raise DecodeError(f"message type {kind} is not valid in a datagram")
        out.messages.append(build(decoder, unpack_first(buf[1:])))
    except DecodeError:
        out.errors += 1


def _walk_compound(buf: bytes, depth: int, out: DecodedPacket) -> None:
    """Go's decodeCompoundMessage + handleCompound; bytes after the last part are ignored."""
    if len(buf) < 2 or len(buf) < 2 + 2 * buf[1]:  # no count byte, or a cut length table
        out.errors += 1
        return
    count = buf[1]
    offset = 2 + 2 * count
    size = len(buf)
    messages = out.messages
    for length in struct.unpack_from(f">{count}H", buf, 2):
        end = offset + length
        if end > size:  # as Go: this part and all after it are dropped, logged once
            out.errors += 1
            return
        kind = buf[offset] if length else None
        if kind in BROADCAST_KINDS:  # most parts: what `_walk` would do, one call shorter
            try:
                messages.append(broadcast_from_wire(buf[offset:end]))
            except DecodeError:
                out.errors += 1
        elif kind == _USER:
            messages.append(user_msg_from_wire(buf[offset:end]))
        else:
            _walk(buf[offset:end], depth + 1, out)
        offset = end


@lru_cache(maxsize=CACHE_SIZE)
def user_msg_from_wire(data: bytes) -> UserMsg:
    """A delegate message (0x08, then serf's bytes) from exactly its bytes.

    Memoised: serf's intents and events are gossiped, so the same part reaches a process many
    times; every receipt then shares one UserMsg, and serf's own memo (`decode_serf_gossip`)
    finds the payload by a hash already computed.
    """
    return UserMsg(data[1:])


# ---- decoding: serf's gossip -----------------------------------------------------------------

_SERF_BROADCASTS = frozenset(
    (SerfMessageType.LEAVE, SerfMessageType.JOIN, SerfMessageType.USER_EVENT, SerfMessageType.QUERY)
)


def decode_serf_gossip(data: bytes) -> SerfMessage:
    """`decode_serf` for a serf message that came by gossip.

    Intents, user events and queries are broadcasts: every node receives the same bytes a few
    times, so those are decoded once per process (`_serf_broadcast_from_wire`) and the frozen
    result is shared.

    Raises:
        DecodeError: as `decode_serf`.
    """
    if data and data[0] in _SERF_BROADCASTS:
        return _serf_broadcast_from_wire(data)
    return decode_serf(data)


@lru_cache(maxsize=CACHE_SIZE)
def _serf_broadcast_from_wire(data: bytes) -> SerfMessage:
    return decode_serf(data)


# ---- decoding: streams -----------------------------------------------------------------------


class _NeedMore(Exception):
    """The buffer holds only a prefix of the stream message."""


class _Reader:
    """Successive msgpack objects from `buf[start:]`, telling a cut-off one from garbage."""

    def __init__(self, buf: bytes, start: int) -> None:
        self._buf = buf
        self._start = start
        self._unpacker: StreamUnpacker = msgpack.Unpacker(
            **UNPACK_OPTIONS, max_buffer_size=MAX_STREAM_BYTES
        )
        self._unpacker.feed(memoryview(buf)[start : start + MAX_STREAM_BYTES])

    def next(self) -> Any:
        try:
            return self._unpacker.unpack()
        except msgpack.OutOfData:
            raise _NeedMore from None
        except Exception as exc:
            raise DecodeError(f"bad msgpack in stream: {exc!r}") from None

    def skip(self) -> None:
        try:
            self._unpacker.skip()
        except msgpack.OutOfData:
            raise _NeedMore from None
        except Exception as exc:
            raise DecodeError(f"bad msgpack in stream: {exc!r}") from None

    def take(self, count: int) -> list[bytes]:
        """The bytes of each of the next `count` objects, checked but not decoded."""
        unpacker, buf, base = self._unpacker, self._buf, self._start
        out: list[bytes] = []
        start = self.offset
        try:
            for _ in range(count):
                unpacker.skip()
                end = base + unpacker.tell()
                out.append(bytes(buf[start:end]))
                start = end
        except msgpack.OutOfData:
            raise _NeedMore from None
        except Exception as exc:
            raise DecodeError(f"bad msgpack in stream: {exc!r}") from None
        return out

    @property
    def offset(self) -> int:
        return self._start + self._unpacker.tell()


def _parse_plain(buf: bytes, *, keep: bool) -> tuple[StreamMessage | None, int]:
    """The uncompressed stream message at the start of `buf` (None unless `keep`) and its
    length. Raises _NeedMore or DecodeError."""
    kind = buf[0]
    if kind == _PUSH_PULL:
        return _parse_push_pull(buf, keep=keep)
    if kind == _USER:  # userMsgHeader{UserMsgLen}, then that many raw bytes
        reader = _Reader(buf, 1)
        header = as_map(reader.next())
        if "UserMsgLen" not in header:
            raise DecodeError("user message header lacks UserMsgLen")
        start = reader.offset
        end = _end_of_raw(buf, start, uint(header["UserMsgLen"], MAX_STREAM_BYTES))
        return (UserMsg(bytes(buf[start:end])) if keep else None), end
    decoder = STREAM_DECODERS.get(kind)
    if decoder is None:
        raise DecodeError(f"message type {kind} is not valid on a stream")
    reader = _Reader(buf, 1)
    body = reader.next()
    return (build(decoder, body) if keep else None), reader.offset


def _parse_push_pull(buf: bytes, *, keep: bool) -> tuple[PushPull | None, int]:
    """pushPullHeader, then Nodes x pushNodeState, then UserStateLen raw bytes."""
    reader = _Reader(buf, 1)
    header = as_map(reader.next())
    try:
        join = boolean(header["Join"])
        count = uint(header["Nodes"], MAX_STREAM_BYTES)
        user_len = uint(header["UserStateLen"], MAX_STREAM_BYTES)
    except KeyError as missing:
        raise DecodeError(f"push-pull header lacks {missing}") from None
    if not keep:
        for _ in range(count):
            reader.skip()
        return None, _end_of_raw(buf, reader.offset, user_len)
    # Entry by entry from its own bytes: most are entries this process decoded before.
    nodes = tuple(node_state_from_wire(entry) for entry in reader.take(count))
    start = reader.offset
    end = _end_of_raw(buf, start, user_len)
    return PushPull(join=join, nodes=nodes, user_state=bytes(buf[start:end])), end


def _end_of_raw(buf: bytes, start: int, length: int) -> int:
    end = start + length
    if end > MAX_STREAM_BYTES:
        raise DecodeError(f"stream message exceeds {MAX_STREAM_BYTES} bytes")
    if end > len(buf):
        raise _NeedMore
    return end


def decode_stream(data: bytes) -> StreamMessage:
    """Exactly one stream message (plain, or inside one compress frame).

    Raises:
        DecodeError: malformed, truncated, followed by extra bytes, encrypted, or a type that
            never travels on a stream.
    """
    if not data:
        raise DecodeError("empty stream message")
    if len(data) > MAX_STREAM_BYTES:
        raise DecodeError(f"stream message exceeds {MAX_STREAM_BYTES} bytes")
    plain = data
    if data[0] == _COMPRESS:  # as readStream: one compress layer, then the plain message
        plain = _inflate(unpack(data[1:]), MAX_STREAM_BYTES)
        if not plain:
            raise DecodeError("compressed stream message is empty")
        if plain[0] == _COMPRESS:
            raise DecodeError("nested compression in a stream")
    elif data[0] == _ENCRYPT:
        raise DecodeError("encrypted stream message: decrypt it first")
    try:
        msg, end = _parse_plain(plain, keep=True)
    except _NeedMore:
        raise DecodeError("truncated stream message") from None
    if end != len(plain):
        raise DecodeError(f"{len(plain) - end} bytes after the stream message")
    assert msg is not None
    return msg


def stream_message_length(buf: bytes) -> int | None:
    """Length of the first complete stream message in `buf`; None while it is incomplete.

    Handles the encrypt framing too (`0x0a | len u32be | blob`), so a runtime can cut an
    encrypted stream before decrypting it.

    Raises:
        DecodeError: the bytes cannot start a valid stream message.
    """
    if not buf:
        return None
    kind = buf[0]
    if kind == _ENCRYPT:
        if len(buf) < 5:
            return None
        end = 5 + int.from_bytes(buf[1:5], "big")
        if end - 5 > MAX_STREAM_BYTES:
            raise DecodeError(f"encrypted stream message exceeds {MAX_STREAM_BYTES} bytes")
        return end if end <= len(buf) else None
    try:
        if kind == _COMPRESS:
            reader = _Reader(buf, 1)
            reader.skip()
            return reader.offset
        return _parse_plain(buf, keep=False)[1]
    except _NeedMore:
        if len(buf) > MAX_STREAM_BYTES:
            raise DecodeError(f"stream message exceeds {MAX_STREAM_BYTES} bytes") from None
        return None
