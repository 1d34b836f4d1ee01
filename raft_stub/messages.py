"""Raft's log entries and its four RPCs, as frozen values (hashicorp/raft `commands.go`).

hashicorp/raft speaks request/response over TCP; here every request and every response is a
separate one-way message, so the core never waits on a peer and the network may lose,
duplicate or reorder any of them. Responses carry what the requester needs to use them out
of order: the term, and for AppendEntries the index the follower now matches.

A configuration (the server set) travels inside a CONFIGURATION log entry as msgpack bytes,
`encode_configuration` / `decode_configuration`, like hashicorp/raft's LogConfiguration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack

from raft_stub.errors import DecodeError
from raft_stub.stats import ServerEntry

SUFFRAGES = ("Voter", "Nonvoter", "Staging")
"""hashicorp/raft's ServerSuffrage names; only Voter is used (non-voters are left out)."""


class EntryType(IntEnum):
    """What a log entry carries. Values are persisted and on the wire: ONLY APPEND."""

    NOOP = 0
    """Appended by every new leader, so it can commit entries of earlier terms."""
    CONFIGURATION = 1
    """`data` is an encoded server list; it takes effect as soon as it is appended."""
    COMMAND = 2
    """`data` is opaque to raft: the state machine's business."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of the replicated log."""

    index: int
    term: int
    type: EntryType
    data: bytes


@dataclass(frozen=True, slots=True)
class RequestVote:
    """A candidate asks for a vote in `term`; its log ends at (last_log_index, last_log_term)."""

    term: int
    candidate_id: str
    last_log_index: int
    last_log_term: int


@dataclass(frozen=True, slots=True)
class RequestVoteResponse:
    """The voter's term after handling the request, and whether it voted for the sender."""

    term: int
    granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Entries following (prev_log_index, prev_log_term); empty entries make a heartbeat."""

    term: int
    leader_id: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[LogEntry, ...]
    leader_commit: int


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse:
    """The follower's term and verdict.

    On success `last_log_index` is the last index the follower now knows matches the leader
    (prev_log_index + len(entries)), not its own last index, which may hold stale entries past
    that point. On failure it is the follower's last index, a hint for where to resume.
    """

    term: int
    success: bool
    last_log_index: int


RaftMessage = RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse


def encode_configuration(servers: Sequence[ServerEntry]) -> bytes:
    """A server list as the data of a CONFIGURATION entry."""
    data: bytes = msgpack.packb([[s.id, s.address, s.suffrage] for s in servers], use_bin_type=True)
    return data


def decode_configuration(data: bytes) -> tuple[ServerEntry, ...]:
    """The server list of a CONFIGURATION entry.

    Raises:
        DecodeError: not a list of [id, address, suffrage] with known suffrages.
    """
    try:
        raw: Any = msgpack.unpackb(data, raw=False, use_list=True)
    except Exception as exc:  # msgpack raises a zoo of types on garbage
        raise DecodeError(f"configuration: {exc}") from exc
    if not isinstance(raw, list):
        raise DecodeError("configuration: not a list")
    servers: list[ServerEntry] = []
    for item in raw:
        if (
            not isinstance(item, list)
            or len(item) != 3
            or not all(isinstance(field, str) and field for field in item)
            or item[2] not in SUFFRAGES
        ):
            raise DecodeError(f"configuration: bad server {item!r}")
        servers.append(ServerEntry(item[0], item[1], item[2]))
    if len({s.id for s in servers}) != len(servers):
        raise DecodeError("configuration: duplicate server id")
    return tuple(servers)


def check_configuration(servers: Sequence[ServerEntry]) -> None:
    """Raises ValueError: no voter, or a server ID listed twice (hashicorp's checkConfiguration)."""
    if not any(s.suffrage == "Voter" for s in servers):
        raise ValueError("a configuration needs at least one voter")
    if len({s.id for s in servers}) != len(servers):
        raise ValueError("a configuration lists a server ID twice")


def with_voter(servers: tuple[ServerEntry, ...], server: ServerEntry) -> tuple[ServerEntry, ...]:
    """`servers` with `server` as a voter: updated in place if its ID is there, else appended
    (hashicorp's nextConfiguration for AddVoter)."""
    voter = ServerEntry(server.id, server.address, "Voter")
    if any(s.id == voter.id for s in servers):
        return tuple(voter if s.id == voter.id else s for s in servers)
    return (*servers, voter)


def well_formed(msg: AppendEntries) -> bool:
    """What the codec guarantees of decoded messages, for messages built in-process: entries
    consecutive after prev_log_index, terms not decreasing nor past the message's term, and
    configuration entries that decode."""
    term = msg.prev_log_term
    for offset, entry in enumerate(msg.entries):
        if entry.index != msg.prev_log_index + 1 + offset or not term <= entry.term <= msg.term:
            return False
        term = entry.term
        if entry.type is EntryType.CONFIGURATION:
            try:
                decode_configuration(entry.data)
            except DecodeError:
                return False
    return term <= msg.term
