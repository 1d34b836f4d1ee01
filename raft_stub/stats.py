"""The raft block of `/v1/agent/self`: hashicorp/raft's Stats() keys, every value a string."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from raft_stub.config import (
    RAFT_PROTOCOL_MAX,
    RAFT_PROTOCOL_MIN,
    SNAPSHOT_VERSION_MAX,
    SNAPSHOT_VERSION_MIN,
)


@dataclass(frozen=True, slots=True)
class ServerEntry:
    """One entry of a raft configuration."""

    id: str
    address: str
    suffrage: str = "Voter"


def format_configuration(servers: Sequence[ServerEntry]) -> str:
    """Go's `%+v` of a []raft.Server: `[{Suffrage:Voter ID:a Address:a} {...}]`."""
    inner = " ".join(f"{{Suffrage:{s.suffrage} ID:{s.id} Address:{s.address}}}" for s in servers)
    return f"[{inner}]"


@dataclass(frozen=True, slots=True)
class RaftSnapshot:
    """The numbers raft's Stats() reads; `stats_block` turns them into the string map."""

    state: str
    term: int
    last_log_index: int
    last_log_term: int
    commit_index: int
    applied_index: int
    protocol_version: int
    configuration: tuple[ServerEntry, ...]
    configuration_index: int
    self_id: str
    last_contact: str


def stats_block(snap: RaftSnapshot) -> dict[str, str]:
    """hashicorp/raft Stats() (api.go): the key set Nomad reports from 0.5.5 to now (its
    Server.Stats puts it under "raft")."""
    voters = [s for s in snap.configuration if s.suffrage == "Voter"]
    is_voter = any(s.id == snap.self_id for s in voters)
    num_peers = len(voters) - 1 if is_voter else 0
    return {
        "state": snap.state,
        "term": str(snap.term),
        "last_log_index": str(snap.last_log_index),
        "last_log_term": str(snap.last_log_term),
        "commit_index": str(snap.commit_index),
        "applied_index": str(snap.applied_index),
        "fsm_pending": "0",
        "last_snapshot_index": "0",
        "last_snapshot_term": "0",
        "protocol_version": str(snap.protocol_version),
        "protocol_version_min": str(RAFT_PROTOCOL_MIN),
        "protocol_version_max": str(RAFT_PROTOCOL_MAX),
        "snapshot_version_min": str(SNAPSHOT_VERSION_MIN),
        "snapshot_version_max": str(SNAPSHOT_VERSION_MAX),
        "latest_configuration_index": str(snap.configuration_index),
        "latest_configuration": format_configuration(snap.configuration),
        "num_peers": str(num_peers),
        "last_contact": snap.last_contact,
    }
