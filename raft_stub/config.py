"""The raft stub's frozen configuration: who this server is and how the cluster bootstraps.

The agent builds it from its Settings (`Settings.to_raft_config()`); the stub never sees
pydantic, files or the environment. Durations are seconds on the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass

RAFT_PROTOCOL_VERSION = 1
"""hashicorp/raft protocol Nomad 0.5.5 - 0.7 speaks (IDs are addresses)."""
RAFT_PROTOCOL_MIN = 0
RAFT_PROTOCOL_MAX = 3
SNAPSHOT_VERSION_MIN = 0
SNAPSHOT_VERSION_MAX = 1


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
    election_timeout: float = 1.0
    """Base election timeout (used by the real election of the next issue)."""

    def __post_init__(self) -> None:
        if self.bootstrap_expect < 0:
            raise ValueError(f"bootstrap_expect must not be negative, got {self.bootstrap_expect}")
        if not self.server_id or not self.address:
            raise ValueError("server_id and address must not be empty")
