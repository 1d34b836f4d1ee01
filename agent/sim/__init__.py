"""Deterministic simulation of a gossip cluster: virtual time, simulated network, real cores.

from agent.sim import SimCluster
c = SimCluster(seed=7)
c.add_node("n1"); c.add_node("n2")
c.join("n2", ["n1"])
c.run(5.0)
assert c.statuses("n1") == {"n1": "alive", "n2": "alive"}, c.describe_failure()
"""

from agent.sim.cluster import SimCluster, SimulationError
from agent.sim.network import NetworkConditions, SimDatagram, SimNetwork
from agent.sim.node import SimEvent, SimNode
from agent.sim.scheduler import EmptySchedule, Scheduler, Timer
from agent.sim.trace import TraceEntry

__all__ = [
    "EmptySchedule",
    "NetworkConditions",
    "Scheduler",
    "SimCluster",
    "SimDatagram",
    "SimEvent",
    "SimNetwork",
    "SimNode",
    "SimulationError",
    "Timer",
    "TraceEntry",
]
