"""Frames on the RPC port: a 4-byte big-endian length, then msgpack `[src, kind, body]`.

`src` is the sender's RPC address (`ip:port`), because replies go to the sender's listener,
not back down the connection (the dialling side's port is ephemeral). `kind` says which
core takes the frame; `body` is kind-specific (raft messages travel as raft_stub's bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgpack

MAX_FRAME_BYTES = 8 * 1024 * 1024
"""Bigger frames are refused: a raft batch of 64 entries or 5,000 members fits easily."""
_LENGTH = struct.Struct(">I")
HEADER_BYTES = _LENGTH.size


class RpcDecodeError(ValueError):
    """A frame that is not ours: wrong length, not msgpack, or not `[str, kind, body]`."""


class FrameKind(StrEnum):
    RAFT = "Raft"
    STATUS_PEERS = "Status.Peers"
    PEERS_REPLY = "Status.Peers.reply"
    NODE_REGISTER = "Node.Register"
    NODE_HEARTBEAT = "Node.UpdateStatus"
    NODE_REPLY = "Node.reply"
    STATUS_MEMBERS = "Status.Members"
    MEMBERS_REPLY = "Status.Members.reply"


CLIENT_BOUND = frozenset({FrameKind.NODE_REPLY, FrameKind.MEMBERS_REPLY})
"""Kinds a client core consumes; every other kind is for the server core."""


@dataclass(frozen=True, slots=True)
class Frame:
    src: str
    kind: FrameKind
    body: Any


def encode_frame(src: str, kind: FrameKind, body: Any) -> bytes:
    payload: bytes = msgpack.packb([src, kind.value, body], use_bin_type=True)
    if len(payload) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME_BYTES}")
    return _LENGTH.pack(len(payload)) + payload


def frame_length(header: bytes | bytearray) -> int:
    """Payload length announced by a 4-byte header.

    Raises:
        RpcDecodeError: the length is zero or above `MAX_FRAME_BYTES`.
    """
    length = int(_LENGTH.unpack(header[:HEADER_BYTES])[0])
    if not 0 < length <= MAX_FRAME_BYTES:
        raise RpcDecodeError(f"bad frame length {length}")
    return length


def decode_frame(data: bytes) -> Frame:
    """A whole frame (header included), as one datagram of the simulator carries it.

    Raises:
        RpcDecodeError: anything malformed.
    """
    if len(data) < HEADER_BYTES:
        raise RpcDecodeError("short frame")
    length = frame_length(data)
    if len(data) != HEADER_BYTES + length:
        raise RpcDecodeError(f"frame says {length} bytes, got {len(data) - HEADER_BYTES}")
    return decode_payload(data[HEADER_BYTES:])


def decode_payload(payload: bytes) -> Frame:
    """The msgpack part of a frame.

    Raises:
        RpcDecodeError: anything malformed.
    """
    try:
        value = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise RpcDecodeError(f"not msgpack: {exc}") from None
    if not (isinstance(value, list) and len(value) == 3):
        raise RpcDecodeError("frame is not [src, kind, body]")
    src, kind, body = value
    if not isinstance(src, str) or not isinstance(kind, str):
        raise RpcDecodeError("frame src and kind must be strings")
    try:
        return Frame(src, FrameKind(kind), body)
    except ValueError:
        raise RpcDecodeError(f"unknown frame kind {kind!r}") from None
