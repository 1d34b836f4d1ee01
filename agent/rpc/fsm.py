"""The replicated state the raft log carries: client nodes and their status.

A Nomad server's FSM holds jobs, allocations and much more; the agent API only needs the
commit and applied indexes to move when a real server's would, which happens on client
registration and status changes. Every server applies the same committed entries, so every
server's copy is the same (the leader uses it to scale heartbeat TTLs).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgpack


class NodeStatus(StrEnum):
    """Nomad's node status values that heartbeats drive."""

    READY = "ready"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    node_id: str
    name: str
    status: NodeStatus

    def encode(self) -> bytes:
        packed: bytes = msgpack.packb(["node", self.node_id, self.name, self.status.value])
        return packed

    @classmethod
    def decode(cls, data: bytes) -> NodeRecord | None:
        """The record of a COMMAND entry, or None for one this agent does not know."""
        try:
            value = msgpack.unpackb(data, raw=False)
            tag, node_id, name, status = value
            if tag != "node" or not isinstance(node_id, str) or not isinstance(name, str):
                return None
            return cls(node_id, name, NodeStatus(status))
        except Exception:  # garbage in a log entry must not stop the FSM
            return None


class ClusterState:
    """Client nodes by ID, as the committed log says."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeRecord] = {}
        self.unknown_entries = 0

    def apply(self, data: bytes) -> None:
        record = NodeRecord.decode(data)
        if record is None:
            self.unknown_entries += 1
            return
        self.nodes[record.node_id] = record

    def ready_count(self) -> int:
        return sum(1 for n in self.nodes.values() if n.status is NodeStatus.READY)
