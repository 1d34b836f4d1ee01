"""What the raft stub reports to its owner, pulled with `RaftStub.next_event()`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LeaderChanged:
    """The known leader changed: `leader` is its address, or None while there is none."""

    term: int
    leader: str | None
