"""A kit for test writers: fixtures, fault plans, a cluster state machine, replayable seeds.

The pytest plugin (`agent.testing.plugin`, loaded by pytest through the `pytest11` entry point
`gossip_agent`) gives the fixtures `sim_seed`, `sim_cluster`, `sim_agents` and
`agent_cluster`. What the fixtures hand out, and the fault vocabulary, are importable here.
`ClusterStateMachine` and `strategies` need hypothesis (`pip install 'gossip-agent[testing]'`)
and load only when first used, so `import agent.testing` works without it.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent.testing.faults import (
    Block,
    Fault,
    FaultKind,
    FaultPlan,
    ForceLeave,
    Heal,
    Kill,
    Latency,
    Leave,
    Loss,
    Partition,
    Pause,
    Restart,
    Step,
)
from agent.testing.replay import ReplayScript
from agent.testing.seeds import replay_command, seed_for
from agent.testing.shapes import ClusterShape
from agent.testing.sim_agents import SimAgentsCluster, SimAgentsError
from agent.testing.sim_cluster import build_sim_cluster

if TYPE_CHECKING:
    from agent.testing import strategies
    from agent.testing.agent_cluster import AgentCluster, AgentHandle
    from agent.testing.machine import ClusterStateMachine

__all__ = [
    "AgentCluster",
    "AgentHandle",
    "Block",
    "ClusterShape",
    "ClusterStateMachine",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "ForceLeave",
    "Heal",
    "Kill",
    "Latency",
    "Leave",
    "Loss",
    "Partition",
    "Pause",
    "ReplayScript",
    "Restart",
    "SimAgentsCluster",
    "SimAgentsError",
    "Step",
    "build_sim_cluster",
    "replay_command",
    "seed_for",
    "strategies",
]

_LAZY = MappingProxyType(
    {
        "ClusterStateMachine": ("agent.testing.machine", "ClusterStateMachine"),
        "AgentCluster": ("agent.testing.agent_cluster", "AgentCluster"),
        "AgentHandle": ("agent.testing.agent_cluster", "AgentHandle"),
        "strategies": ("agent.testing.strategies", None),
    }
)


def __getattr__(name: str) -> Any:
    """Load the parts that need hypothesis (or start processes) on first use."""
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'agent.testing' has no attribute {name!r}") from None
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)
