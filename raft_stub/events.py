"""What the raft core reports to its owner, pulled with `RaftStub.next_event()`."""

from __future__ import annotations

from dataclasses import dataclass

from raft_stub.messages import LogEntry


@dataclass(frozen=True, slots=True)
class LeaderChanged:
    """The known leader changed: `leader` is its address, or None while there is none."""

    term: int
    leader: str | None


@dataclass(frozen=True, slots=True)
class EntryCommitted:
    """`entry` is committed; apply it. Emitted in index order on every server.

    Commit indices are not persisted (hashicorp/raft's aren't either), so after a restart the
    entries are committed, and reported, again from index 1: the state machine is rebuilt by
    replaying the log, as there are no snapshots.
    """

    entry: LogEntry


RaftEvent = LeaderChanged | EntryCommitted
