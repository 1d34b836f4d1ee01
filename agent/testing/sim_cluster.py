"""Building a `SimCluster` of a given shape, joined or not: what the `sim_cluster` fixture does.

`converged=True` starts the pool as a finished join leaves it (`SimCluster.add_converged`),
which costs milliseconds instead of simulating the join storm; `converged=False` adds the
nodes unjoined, so the test itself can exercise joining. Either way the first node is where
everyone joins, as an operator's `-join` would point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.sim import SimCluster
from agent.testing.shapes import ClusterShape, nomad_server_tags


def build_sim_cluster(
    *,
    seed: int,
    servers: int = 3,
    clients: int = 0,
    nodes: Sequence[str] | None = None,
    profile: str = "lan",
    converged: bool = True,
    **knobs: Any,
) -> SimCluster:
    """A SimCluster of `servers` Nomad servers (s1..) or of the plain `nodes`.

    Raises:
        ValueError: clients were asked for (they do not gossip: use `sim_agents`), or the
            shape names no node.
    """
    if clients:
        raise ValueError(
            f"clients={clients}: Nomad clients do not gossip, so a gossip-only SimCluster has "
            "no place for them; use the sim_agents fixture for clients"
        )
    shape = ClusterShape.of(servers, 0, nodes)
    tags = nomad_server_tags(servers) if nodes is None else {}
    cluster = SimCluster(seed=seed, profile=profile, **knobs)
    names = shape.gossip_names
    if converged:
        cluster.add_converged(names, tags)
    else:
        for name in names:
            cluster.add_node(name, tags)
    return cluster
