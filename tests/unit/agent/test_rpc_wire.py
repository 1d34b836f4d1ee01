"""Frames and bodies of the RPC port: round trips, and garbage refused whole."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.rpc.messages import HeartbeatReply, MembersReply, NodeHeartbeat, PeersReply
from agent.rpc.wire import (
    HEADER_BYTES,
    MAX_FRAME_BYTES,
    FrameKind,
    RpcDecodeError,
    decode_frame,
    encode_frame,
    frame_length,
)


def test_frame_round_trip() -> None:
    data = encode_frame("127.0.0.1:4647", FrameKind.RAFT, b"\x01\x02")
    frame = decode_frame(data)
    assert (frame.src, frame.kind, frame.body) == ("127.0.0.1:4647", FrameKind.RAFT, b"\x01\x02")
    assert frame_length(data[:HEADER_BYTES]) == len(data) - HEADER_BYTES


@pytest.mark.parametrize(
    "payload",
    [
        msgpack.packb(["a", "Nope", 1]),
        msgpack.packb(["a", "Raft"]),
        msgpack.packb([1, "Raft", 1]),
        msgpack.packb({"src": "a"}),
        b"\xc1",
    ],
)
def test_bad_payloads_are_refused(payload: bytes) -> None:
    data = len(payload).to_bytes(4, "big") + payload
    with pytest.raises(RpcDecodeError):
        decode_frame(data)


def test_lengths_out_of_range_are_refused() -> None:
    with pytest.raises(RpcDecodeError):
        frame_length(b"\x00\x00\x00\x00")
    with pytest.raises(RpcDecodeError):
        frame_length((MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
    good = encode_frame("a", FrameKind.RAFT, b"")
    with pytest.raises(RpcDecodeError):
        decode_frame(good + b"x")


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(RpcDecodeError):
        decode_frame(data)


@pytest.mark.parametrize(
    "body",
    [
        NodeHeartbeat(1, "id", "node", "127.0.0.1:4647"),
        HeartbeatReply(2, 12.5, ("127.0.0.1:4647",), "127.0.0.1:4647", ""),
        MembersReply(3, "s", "global", "dc1", (["a", "127.0.0.1", 4648, {}, "alive"],), ""),
        PeersReply(4, ("127.0.0.1:4647",)),
    ],
)
def test_bodies_round_trip_through_msgpack(body: object) -> None:
    cls = type(body)
    wire = msgpack.unpackb(msgpack.packb(body.to_body()), raw=False)  # type: ignore[attr-defined]
    assert cls.from_body(wire) == body  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [[], [1, "id", "node"], ["1", "id", "node", "r"], [True, "id", "node", "r"], None, {"a": 1}],
)
def test_malformed_bodies_are_refused(body: object) -> None:
    with pytest.raises(RpcDecodeError):
        NodeHeartbeat.from_body(body)
