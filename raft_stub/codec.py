"""The raft wire format: one msgpack array per message, `[type, field, ...]`.

hashicorp/raft frames its RPCs with its own msgpack structs over TCP; this core only needs a
self-consistent datagram format between Python servers, so it keeps that encoding idea and
drops the framing. Decoding is total: any bytes either give a well-formed message or raise
`DecodeError` (never another exception), so a driver can catch that one type, count, drop.

Well-formed means more than well-typed: indices and terms are non-negative integers, the
entries of an AppendEntries are consecutive from prev_log_index + 1 and no newer than the
message's term, and configuration entries hold a decodable server list. The node relies on it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import msgpack

from raft_stub.errors import DecodeError
from raft_stub.messages import (
    AppendEntries,
    AppendEntriesResponse,
    EntryType,
    LogEntry,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
    decode_configuration,
)

__all__ = [
    "MAX_MESSAGE_BYTES",
    "DecodeError",
    "MessageType",
    "decode_message",
    "encode_message",
    "entries_from_wire",
    "entries_to_wire",
]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Refuse bigger inputs before parsing: 64 entries of Nomad job specs fit easily."""
_U64_MAX = (1 << 64) - 1


class MessageType(IntEnum):
    """Wire tags of the four RPCs. Values are the wire format: ONLY APPEND."""

    REQUEST_VOTE = 0
    REQUEST_VOTE_RESPONSE = 1
    APPEND_ENTRIES = 2
    APPEND_ENTRIES_RESPONSE = 3


def encode_message(msg: RaftMessage) -> bytes:
    """One message as bytes."""
    if isinstance(msg, RequestVote):
        fields: list[Any] = [
            MessageType.REQUEST_VOTE,
            msg.term,
            msg.candidate_id,
            msg.last_log_index,
            msg.last_log_term,
        ]
    elif isinstance(msg, RequestVoteResponse):
        fields = [MessageType.REQUEST_VOTE_RESPONSE, msg.term, msg.granted]
    elif isinstance(msg, AppendEntries):
        fields = [
            MessageType.APPEND_ENTRIES,
            msg.term,
            msg.leader_id,
            msg.prev_log_index,
            msg.prev_log_term,
            entries_to_wire(msg.entries),
            msg.leader_commit,
        ]
    elif isinstance(msg, AppendEntriesResponse):
        fields = [MessageType.APPEND_ENTRIES_RESPONSE, msg.term, msg.success, msg.last_log_index]
    else:
        raise TypeError(f"not a raft message: {msg!r}")
    data: bytes = msgpack.packb(fields, use_bin_type=True)
    return data


def decode_message(data: bytes) -> RaftMessage:
    """Parse one message.

    Raises:
        DecodeError: anything malformed, truncated, oversized or of an unknown type.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        raw: Any = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises ValueError, TypeError, StackError, ExtraData...
        raise DecodeError(f"not msgpack: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise DecodeError("message is not a non-empty array")
    decoder = _DECODERS.get(raw[0]) if _is_uint(raw[0]) else None
    if decoder is None:
        raise DecodeError(f"unknown message type {raw[0]!r}")
    return decoder(raw[1:])


def entries_to_wire(entries: tuple[LogEntry, ...]) -> list[list[Any]]:
    """Entries as msgpack-ready lists (also the persisted form)."""
    return [[e.index, e.term, int(e.type), e.data] for e in entries]


def entries_from_wire(raw: Any, first_index: int) -> tuple[LogEntry, ...]:
    """Entries back from their lists; they must be consecutive from `first_index`.

    Raises:
        DecodeError: a malformed entry, a gap, or a configuration entry that does not decode.
    """
    if not isinstance(raw, list):
        raise DecodeError("entries: not an array")
    entries: list[LogEntry] = []
    for offset, item in enumerate(raw):
        if not isinstance(item, list) or len(item) != 4:
            raise DecodeError(f"entry: expected [index, term, type, data], got {item!r}")
        index, term, kind, payload = item
        _uint(index, "entry index")
        _uint(term, "entry term")
        if index != first_index + offset:
            raise DecodeError(f"entry index {index}, expected {first_index + offset}")
        if not _is_uint(kind) or kind not in EntryType._value2member_map_:
            raise DecodeError(f"unknown entry type {kind!r}")
        if not isinstance(payload, bytes):
            raise DecodeError("entry data is not bytes")
        entry_type = EntryType(kind)
        if entry_type is EntryType.CONFIGURATION:
            decode_configuration(payload)
        entries.append(LogEntry(index, term, entry_type, payload))
    return tuple(entries)


def _is_uint(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _U64_MAX


def _uint(value: Any, what: str) -> int:
    if not _is_uint(value):
        raise DecodeError(f"{what}: expected an unsigned integer, got {value!r}")
    return int(value)


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DecodeError(f"{what}: expected a non-empty string, got {value!r}")
    return value


def _boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise DecodeError(f"{what}: expected a boolean, got {value!r}")
    return value


def _arity(fields: list[Any], count: int, name: str) -> None:
    if len(fields) != count:
        raise DecodeError(f"{name}: expected {count} fields, got {len(fields)}")


def _request_vote(fields: list[Any]) -> RequestVote:
    _arity(fields, 4, "RequestVote")
    return RequestVote(
        term=_uint(fields[0], "term"),
        candidate_id=_string(fields[1], "candidate_id"),
        last_log_index=_uint(fields[2], "last_log_index"),
        last_log_term=_uint(fields[3], "last_log_term"),
    )


def _request_vote_response(fields: list[Any]) -> RequestVoteResponse:
    _arity(fields, 2, "RequestVoteResponse")
    return RequestVoteResponse(_uint(fields[0], "term"), _boolean(fields[1], "granted"))


def _append_entries(fields: list[Any]) -> AppendEntries:
    _arity(fields, 6, "AppendEntries")
    term = _uint(fields[0], "term")
    prev_log_index = _uint(fields[2], "prev_log_index")
    prev_log_term = _uint(fields[3], "prev_log_term")
    entries = entries_from_wire(fields[4], prev_log_index + 1)
    terms = [prev_log_term, *(e.term for e in entries), term]
    if any(a > b for a, b in itertools.pairwise(terms)):
        raise DecodeError("AppendEntries: log terms must not decrease, nor exceed the message's")
    return AppendEntries(
        term=term,
        leader_id=_string(fields[1], "leader_id"),
        prev_log_index=prev_log_index,
        prev_log_term=prev_log_term,
        entries=entries,
        leader_commit=_uint(fields[5], "leader_commit"),
    )


def _append_entries_response(fields: list[Any]) -> AppendEntriesResponse:
    _arity(fields, 3, "AppendEntriesResponse")
    return AppendEntriesResponse(
        term=_uint(fields[0], "term"),
        success=_boolean(fields[1], "success"),
        last_log_index=_uint(fields[2], "last_log_index"),
    )


_DECODERS: dict[int, Callable[[list[Any]], RaftMessage]] = {
    MessageType.REQUEST_VOTE: _request_vote,
    MessageType.REQUEST_VOTE_RESPONSE: _request_vote_response,
    MessageType.APPEND_ENTRIES: _append_entries,
    MessageType.APPEND_ENTRIES_RESPONSE: _append_entries_response,
}
