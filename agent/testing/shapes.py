"""What a test asks for: how many Nomad servers and clients, or plain serf nodes by name.

Nomad's servers gossip (serf) and its clients do not: a client talks to servers over RPC
only. So the two kinds of fixtures read one shape differently:

- `sim_cluster` is a gossip-only `SimCluster`: each server is one serf node named `s1`,
  `s2`, ... carrying the tags a Nomad server gossips (`role=nomad`, `region`, `dc`, `port`,
  `expect`, ...); clients have no place in a gossip pool, so asking for them there is an
  error that points to `sim_agents`. `nodes=[...]` instead names plain serf nodes (no tags).
- `sim_agents` and `agent_cluster` run whole agents: servers `s1..sN` (serf + raft,
  `bootstrap_expect` = N) and clients `c1..cM` that register with the servers over RPC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.version import build_tag

NOMAD_REGION = "global"
NOMAD_DATACENTER = "dc1"
NOMAD_RPC_PORT = 4647


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """Servers and clients (named s1.., c1..), or explicit plain node names."""

    servers: int = 3
    clients: int = 0
    nodes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.servers < 0 or self.clients < 0:
            raise ValueError(f"negative counts: servers={self.servers} clients={self.clients}")
        if self.nodes is not None:
            if len(set(self.nodes)) != len(self.nodes):
                raise ValueError(f"node names repeat: {list(self.nodes)}")
            if not self.nodes:
                raise ValueError("nodes=[] names no node")
        elif self.servers == 0 and self.clients == 0:
            raise ValueError("a cluster needs at least one node")

    @classmethod
    def of(
        cls, servers: int = 3, clients: int = 0, nodes: Sequence[str] | None = None
    ) -> ClusterShape:
        """The shape for a fixture's arguments (`nodes` wins over the counts)."""
        if nodes is not None:
            return cls(servers=0, clients=0, nodes=tuple(nodes))
        return cls(servers=servers, clients=clients)

    @property
    def server_names(self) -> tuple[str, ...]:
        if self.nodes is not None:
            return ()
        return tuple(f"s{i}" for i in range(1, self.servers + 1))

    @property
    def client_names(self) -> tuple[str, ...]:
        if self.nodes is not None:
            return ()
        return tuple(f"c{i}" for i in range(1, self.clients + 1))

    @property
    def gossip_names(self) -> tuple[str, ...]:
        """The nodes that join the serf pool: the explicit nodes, else the servers."""
        return self.nodes if self.nodes is not None else self.server_names


def nomad_server_tags(expect: int) -> dict[str, str]:
    """The serf tags a Nomad 0.5-0.7 server gossips (see agent/roles/server.py)."""
    tags = {
        "role": "nomad",
        "region": NOMAD_REGION,
        "dc": NOMAD_DATACENTER,
        "vsn": "1",
        "mvn": "1",
        "build": build_tag(),
        "port": str(NOMAD_RPC_PORT),
    }
    if expect == 1:
        tags["bootstrap"] = "1"
    elif expect >= 2:
        tags["expect"] = str(expect)
    return tags
