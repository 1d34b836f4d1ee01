"""What a raft server must keep on disk: its term, its vote, its log (hashicorp's StableStore
keys CurrentTerm/LastVoteTerm/LastVoteCand plus its LogStore).

The core never writes anything itself. It bumps `RaftStub.state_version` whenever one of these
changes, and the driver saves `persistent_state()` before sending the messages that input
produced. Two leaders in one term are impossible only if a vote, once promised, survives a
crash; so a driver that cannot save must not send.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import msgpack

from raft_stub.codec import entries_from_wire, entries_to_wire
from raft_stub.errors import DecodeError
from raft_stub.messages import LogEntry

FORMAT_VERSION = 1
"""First field of the saved array; bump it when the layout changes."""


@dataclass(frozen=True, slots=True)
class PersistentState:
    """A server's durable raft state."""

    term: int
    voted_for: str | None
    """Whom this server voted for in `term`, if anyone."""
    entries: tuple[LogEntry, ...]
    """The whole log from index 1 (no snapshots, no compaction)."""

    def to_bytes(self) -> bytes:
        """The state as msgpack, for a data dir."""
        fields = [FORMAT_VERSION, self.term, self.voted_for, entries_to_wire(self.entries)]
        data: bytes = msgpack.packb(fields, use_bin_type=True)
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> PersistentState:
        """Load what `to_bytes` wrote.

        Raises:
            DecodeError: not our format, or a log with gaps or terms that go backwards.
        """
        try:
            raw: Any = msgpack.unpackb(data, raw=False, use_list=True)
        except Exception as exc:  # msgpack raises many exception types on garbage
            raise DecodeError(f"raft state: not msgpack: {exc}") from exc
        if not isinstance(raw, list) or len(raw) != 4 or raw[0] != FORMAT_VERSION:
            raise DecodeError("raft state: unknown format")
        _, term, voted_for, raw_entries = raw
        if type(term) is not int or term < 0:
            raise DecodeError(f"raft state: bad term {term!r}")
        if voted_for is not None and (not isinstance(voted_for, str) or not voted_for):
            raise DecodeError(f"raft state: bad vote {voted_for!r}")
        entries = entries_from_wire(raw_entries, 1)
        terms = [e.term for e in entries] + [term]
        if any(a > b for a, b in itertools.pairwise(terms)):
            raise DecodeError("raft state: log terms go backwards or exceed the current term")
        return cls(term, voted_for, entries)
