"""GossipNode: a serf member without raft (as a plain `serf agent` is) on the demo's network.

The core is the real `gossip.SerfCore`, driven by `agent.sim.process.SimProcess` on the
same scheduler and network as the agents, so it gossips with the servers as a peer. A restart
builds a new core at the same address whose first incarnation beats the old one's, as a
restarted process with a snapshot would.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from agent.sim.network import SimNetwork
from agent.sim.process import SimProcess
from agent.sim.scheduler import Scheduler
from gossip import Address, GossipEvent, SerfConfig, SerfCore


def _ignore(process: SimProcess[SerfCore], event: GossipEvent) -> None:
    """Member events are read from the views instead (see agent.demo.timeline)."""


class GossipNode:
    """One gossip-only member; stable across restarts, its process and core are replaced."""

    def __init__(
        self,
        name: str,
        addr: Address,
        config: SerfConfig,
        *,
        seed: int,
        scheduler: Scheduler,
        network: SimNetwork,
    ) -> None:
        self.name = name
        self.addr = addr
        self.config = config
        self._seed = seed
        self._scheduler = scheduler
        self._network = network
        self.restarts = 0
        self.process = self._spawn(incarnation=0)

    def _spawn(self, incarnation: int) -> SimProcess[SerfCore]:
        rng = random.Random(f"{self._seed}:{self.name}:{self.restarts}")
        core = SerfCore(
            self.config,
            name=self.name,
            addr=self.addr,
            tags={"role": "node"},
            rng=rng,
            now=self._scheduler.now,
            restored_incarnation=incarnation,
        )
        return SimProcess(core, self.addr, self._scheduler, self._network, _ignore)

    @property
    def core(self) -> SerfCore:
        return self.process.core

    @property
    def running(self) -> bool:
        return self.process.running

    def join(self, seeds: Sequence[Address]) -> None:
        self.core.join(self._scheduler.now, seeds)
        self.process.flush()

    def kill(self) -> None:
        self.process.crash()

    def restart(self, seeds: Sequence[Address]) -> None:
        """A new process at the same address that rejoins through `seeds`."""
        incarnation = self.core.incarnation
        if self.process.running:
            self.process.crash()
        self.restarts += 1
        self.process = self._spawn(incarnation)
        self.join(seeds)

    def pause(self, seconds: float) -> None:
        self.process.pause(self._scheduler.now + seconds)

    def leave(self) -> None:
        self.core.leave(self._scheduler.now)
        self.process.flush()

    def force_leave(self, node: str, prune: bool) -> None:
        self.core.force_leave(self._scheduler.now, node, prune)
        self.process.flush()
