"""The raft core's frozen configuration: who this server is, how it bootstraps, its timing.

The agent builds it from its Settings (`Settings.to_raft_config()`); the core never sees
pydantic, files or the environment. Durations are seconds on the caller's clock; the timing
defaults are hashicorp/raft's `DefaultConfig()`, which Nomad 0.5 - 0.7 does not override.
"""

from __future__ import annotations

from dataclasses import dataclass

RAFT_PROTOCOL_VERSION = 1
"""hashicorp/raft protocol Nomad 0.5.5 - 0.7 speaks (IDs are addresses)."""
RAFT_PROTOCOL_MIN = 0
RAFT_PROTOCOL_MAX = 3
SNAPSHOT_VERSION_MIN = 0
SNAPSHOT_VERSION_MAX = 1
_POSITIVE = (
    "heartbeat_timeout",
    "election_timeout",
    "leader_lease_timeout",
    "commit_timeout",
    "max_append_entries",
)


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """One raft server. With protocol 1 the server ID is its RPC address (`ip:port`)."""

    server_id: str
    """This server's ID; equal to `address` under raft protocol 1."""
    address: str
    """This server's RPC address, `ip:port` (what `leader_addr` reports)."""
    bootstrap_expect: int = 0
    """Servers to wait for before bootstrapping; 1 bootstraps alone, 0 never bootstraps."""
    protocol_version: int = RAFT_PROTOCOL_VERSION
    heartbeat_timeout: float = 1.0
    """A follower without leader contact for a random [1x, 2x) of this starts an election;
    the leader heartbeats every tenth of it; a vote request within it of leader contact is
    refused (leader stickiness)."""
    election_timeout: float = 1.0
    """A candidate without a result after a random [1x, 2x) of this starts a new election."""
    leader_lease_timeout: float = 0.5
    """A leader that has not heard from a quorum within this steps down; checked this often."""
    commit_timeout: float = 0.05
    """Followers learn a new commit index at most this long after the leader's commit."""
    max_append_entries: int = 64
    """Entries per AppendEntries message (hashicorp's MaxAppendEntries)."""

    def __post_init__(self) -> None:
        if self.bootstrap_expect < 0:
            raise ValueError(f"bootstrap_expect must not be negative, got {self.bootstrap_expect}")
        if not self.server_id or not self.address:
            raise ValueError("server_id and address must not be empty")
        for name in _POSITIVE:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @property
    def heartbeat_interval(self) -> float:
        """How often the leader contacts each follower: heartbeat_timeout / 10, as hashicorp."""
        return self.heartbeat_timeout / 10
