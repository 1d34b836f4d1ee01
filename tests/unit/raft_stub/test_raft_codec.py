"""The raft wire format: round trips, golden bytes, and decoding that never raises anything
but DecodeError."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raft_stub import (
    AppendEntries,
    AppendEntriesResponse,
    DecodeError,
    EntryType,
    LogEntry,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
    ServerEntry,
    decode_configuration,
    decode_message,
    encode_configuration,
    encode_message,
)
from raft_stub.codec import MAX_MESSAGE_BYTES, MessageType

u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
small = st.integers(min_value=0, max_value=1_000)
ids = st.text(min_size=1, max_size=30)
server_entries = st.lists(
    st.builds(ServerEntry, ids, ids, st.sampled_from(["Voter", "Nonvoter", "Staging"])),
    max_size=5,
    unique_by=lambda s: s.id,
)


@st.composite
def append_entries(draw: st.DrawFn) -> AppendEntries:
    prev = draw(small)
    terms = sorted(draw(st.lists(small, max_size=6)))
    prev_term = draw(st.integers(0, terms[0] if terms else 1_000))
    term = draw(st.integers(max([prev_term, *terms]), 2_000))
    entries = []
    for offset, entry_term in enumerate(terms):
        kind = draw(st.sampled_from(EntryType))
        if kind is EntryType.CONFIGURATION:
            data = encode_configuration(draw(server_entries))
        else:
            data = draw(st.binary(max_size=40))
        entries.append(LogEntry(prev + 1 + offset, entry_term, kind, data))
    return AppendEntries(term, draw(ids), prev, prev_term, tuple(entries), draw(u64))


messages = st.one_of(
    st.builds(RequestVote, u64, ids, u64, u64),
    st.builds(RequestVoteResponse, u64, st.booleans()),
    append_entries(),
    st.builds(AppendEntriesResponse, u64, st.booleans(), u64),
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_round_trip(msg: RaftMessage) -> None:
    assert decode_message(encode_message(msg)) == msg


@settings(max_examples=100, deadline=None)
@given(server_entries)
def test_configuration_round_trip(servers: list[ServerEntry]) -> None:
    assert decode_configuration(encode_configuration(servers)) == tuple(servers)


def test_golden_bytes() -> None:
    """The wire format is a contract between servers of different versions: pin it."""
    assert encode_message(RequestVote(2, "a:1", 3, 1)) == bytes.fromhex("9500 02 a3613a31 03 01")
    assert encode_message(RequestVoteResponse(2, True)) == bytes.fromhex("9301 02 c3")
    noop = LogEntry(2, 2, EntryType.NOOP, b"")
    assert encode_message(AppendEntries(2, "a:1", 1, 1, (noop,), 0)) == bytes.fromhex(
        "9702 02 a3613a31 01 01 91 94020200c400 00"
    )
    assert encode_message(AppendEntriesResponse(2, False, 7)) == bytes.fromhex("9403 02 c2 07")
    assert encode_configuration([ServerEntry("a:1", "a:1")]) == bytes.fromhex(
        "9193 a3613a31 a3613a31 a5566f746572"
    )
    assert [int(t) for t in MessageType] == [0, 1, 2, 3]  # append-only
    assert [int(t) for t in EntryType] == [0, 1, 2]


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [9, 1],
        [True, 1, True],  # a bool is not a type tag
        [0, 1, "a:1", 0],  # too few fields
        [1, 1, 1],  # granted not a bool
        [1, -1, True],
        [0, 1, "", 0, 0],  # empty candidate
        [3, 1, True, 1.5],
        [2, 2, "a:1", 1, 1, [[3, 2, 2, b""]], 0],  # gap after prev_log_index
        [2, 2, "a:1", 1, 1, [[2, 3, 2, b""]], 0],  # entry newer than the message
        [2, 2, "a:1", 1, 2, [[2, 1, 2, b""]], 0],  # entry older than prev_log_term
        [2, 2, "a:1", 1, 1, [[2, 2, 7, b""]], 0],  # unknown entry type
        [2, 2, "a:1", 1, 1, [[2, 2, 2, "text"]], 0],  # data not bytes
        [2, 2, "a:1", 1, 1, [[2, 2, 1, b"\x01"]], 0],  # configuration not a list
        [2, 2, "a:1", 1, 1, [[2, 2, 1, msgpack.packb([["a", "a", "King"]])]], 0],
        [2, 2, "a:1", 1, 1, [[2, 2]], 0],
        [2, 2, "a:1", 1, 1, {}, 0],
        {"type": 0},
    ],
    ids=str,
)
def test_malformed_messages(raw: object) -> None:
    with pytest.raises(DecodeError):
        decode_message(msgpack.packb(raw, use_bin_type=True))


def test_oversized_and_trailing_bytes_are_refused() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        decode_message(b"\x00" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(DecodeError):
        decode_message(encode_message(RequestVoteResponse(1, True)) + b"\x00")
    with pytest.raises(DecodeError):
        decode_message(b"")


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_mutated_messages_raise_only_decode_error(msg: RaftMessage, data: st.DataObject) -> None:
    encoded = bytearray(encode_message(msg))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    with contextlib.suppress(DecodeError):
        decode_message(bytes(encoded[:cut]))


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.binary(max_size=20)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=7),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(msgpack_values)
def test_arbitrary_msgpack_values_raise_only_decode_error(value: object) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(msgpack.packb(value, use_bin_type=True))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100))
def test_configuration_garbage_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_configuration(data)


def test_configuration_refuses_duplicates_and_blanks() -> None:
    bad: list[object] = [[["a", "a", "Voter"], ["a", "b", "Voter"]], [["", "a", "Voter"]], {}]
    for raw in bad:
        with pytest.raises(DecodeError):
            decode_configuration(msgpack.packb(raw))
