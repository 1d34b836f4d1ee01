"""The leader's bookkeeping for one term, and the pure quorum and timeout formulas.

hashicorp/raft runs one goroutine per follower (`followerReplication`) that pipelines
AppendEntries, plus `leaderState` with the commitment tracker and the lease check. This module
keeps the same numbers (next_index, match_index, last contact per follower; the index of the
term's NOOP; the heartbeat and lease deadlines) in one `Leadership` object that exists only
while leading, and answers the questions the node asks: what to send a follower, which index a
majority holds, how many voters were heard from recently. The node decides when to ask.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from raft_stub.log import RaftLog
from raft_stub.messages import AppendEntries
from raft_stub.stats import ServerEntry


def quorum_size(voters: int) -> int:
    """Votes needed among `voters`: a strict majority."""
    return voters // 2 + 1


def quorum_match_index(matches: Sequence[int]) -> int:
    """The highest index held by a majority of the voters whose match indices are given.

    0 when there are no voters.
    """
    if not matches:
        return 0
    ordered = sorted(matches, reverse=True)
    return ordered[quorum_size(len(ordered)) - 1]


def random_timeout(rng: random.Random, base: float) -> float:
    """A duration in [base, 2 * base), hashicorp/raft's `randomTimeout`."""
    return base + rng.random() * base


@dataclass(slots=True)
class FollowerProgress:
    """What the leader knows about one other server in its term."""

    address: str
    next_index: int
    """The next entry to send; lowered on a failed consistency check."""
    match_index: int
    """Highest entry known to be replicated there; only ever grows within a term."""
    last_contact_at: float
    """When it last answered (any AppendEntries response); the lease counts these."""


class Leadership:
    """Leader-only state, created on winning an election and dropped on stepping down."""

    __slots__ = ("address", "heartbeat_at", "lease_at", "progress", "self_id", "start_index")

    def __init__(self, self_id: str, address: str, heartbeat_at: float, lease_at: float) -> None:
        self.self_id = self_id
        self.address = address
        self.progress: dict[str, FollowerProgress] = {}
        """Per follower address (protocol 1: the address is the ID)."""
        self.start_index = 0
        """Index of this term's NOOP: no configuration change before it commits."""
        self.heartbeat_at = heartbeat_at
        self.lease_at = lease_at

    def sync(self, log: RaftLog, now: float, *, keep_removed: bool) -> None:
        """Track every other server of the latest configuration; with `keep_removed`, keep
        servers that were just removed, so they still hear of their removal."""
        wanted = {s.address for s in log.configuration if s.id != self.self_id}
        if not keep_removed:
            for address in [a for a in self.progress if a not in wanted]:
                del self.progress[address]
        for server in log.configuration:
            if server.id != self.self_id and server.address not in self.progress:
                self.progress[server.address] = FollowerProgress(
                    server.address, log.last_index + 1, 0, now
                )

    def append_entries(
        self, address: str, log: RaftLog, term: int, commit_index: int, max_entries: int
    ) -> AppendEntries:
        """The next AppendEntries for `address`: from its next_index, at most `max_entries`."""
        progress = self.progress[address]
        prev = progress.next_index - 1
        prev_term = log.term_at(prev)
        assert prev_term is not None, "next_index stays within last_index + 1"
        entries = log.slice(progress.next_index, max_entries)
        return AppendEntries(term, self.address, prev, prev_term, entries, commit_index)

    def record_success(self, progress: FollowerProgress, matched: int) -> bool:
        """The follower matches us up to `matched`; stale or duplicated answers never lower it.

        Returns whether this was news (the match index grew)."""
        if matched <= progress.match_index:
            return False
        progress.match_index = matched
        progress.next_index = max(progress.next_index, matched + 1)
        return True

    def record_failure(self, progress: FollowerProgress, follower_last_index: int) -> bool:
        """Consistency check failed: step back one entry, or jump to the follower's last index
        when that is lower, never below what it is known to hold.

        Returns whether next_index moved; a stale or duplicated refusal that cannot move it
        is left to the next heartbeat, so refusals can never ping-pong at network speed."""
        lower = min(progress.next_index - 1, follower_last_index + 1)
        next_index = max(progress.match_index + 1, lower, 1)
        moved = next_index != progress.next_index
        progress.next_index = next_index
        return moved

    def quorum_index(self, voters: Sequence[ServerEntry], own_last_index: int) -> int:
        """The highest index a majority of `voters` holds (we count only if we are one)."""
        matches = []
        for server in voters:
            if server.id == self.self_id:
                matches.append(own_last_index)
            else:
                progress = self.progress.get(server.address)
                matches.append(progress.match_index if progress else 0)
        return quorum_match_index(matches)

    def contacted(self, voters: Sequence[ServerEntry], now: float, within: float) -> int:
        """Voters heard from in the last `within` seconds, counting ourselves if a voter."""
        count = 0
        for server in voters:
            progress = self.progress.get(server.address)
            if server.id == self.self_id or (
                progress is not None and now - progress.last_contact_at <= within
            ):
                count += 1
        return count
