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
    datacenter: str = ""
    """The client's datacenter; "" in entries written before the field existed."""

    def encode(self) -> bytes:
        fields = ["node", self.node_id, self.name, self.status.value, self.datacenter]
        packed: bytes = msgpack.packb(fields)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> NodeRecord | None:
        """The record of a COMMAND entry, or None for one this agent does not know.

        Entries of four fields (no datacenter) come from logs older than the field and
        still decode, so a data dir written before keeps its node table.
        """
        try:
            value = msgpack.unpackb(data, raw=False)
            tag, node_id, name, status, *rest = value
            datacenter = rest[0] if len(rest) == 1 else ""
            if tag != "node" or len(rest) > 1:
                return None
            if not all(isinstance(v, str) for v in (node_id, name, datacenter)):
                return None
            return cls(node_id, name, NodeStatus(status), datacenter)
        except Exception:  # garbage in a log entry must not stop the FSM
            return None


@dataclass(frozen=True, slots=True)
class NodeIndexes:
    """The raft indexes that created a node and last changed it (Nomad's Create/ModifyIndex)."""

    create: int
    modify: int


class ClusterState:
    """Client nodes by ID, as the committed log says, with the raft index of each change."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeRecord] = {}
        self.indexes: dict[str, NodeIndexes] = {}
        self.index = 0
        """The raft index of the latest entry that changed the node table (`X-Nomad-Index`)."""
        self.unknown_entries = 0

    def apply(self, data: bytes, index: int = 0) -> None:
        """Apply the COMMAND entry at raft `index`."""
        record = NodeRecord.decode(data)
        if record is None:
            self.unknown_entries += 1
            return
        self.nodes[record.node_id] = record
        known = self.indexes.get(record.node_id)
        self.indexes[record.node_id] = NodeIndexes(known.create if known else index, index)
        self.index = max(self.index, index)

    def ready_count(self) -> int:
        return sum(1 for n in self.nodes.values() if n.status is NodeStatus.READY)
