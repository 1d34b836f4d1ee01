"""SimAgents: real `Agent`s on one simulated network and one virtual clock.

For API tests and benchmarks: each agent is the production `Agent` class with a `SimRuntime`,
so `/v1/agent/join` runs the real push-pull and `/v1/agent/force-leave` the real intent
broadcast, in virtual time (milliseconds of wall time, the same result for the same seed).

    world = SimAgents(seed=1)
    a = await world.add("a", dev=True)
    b = await world.add("b")
    await a.join([str(world.serf_addr("b"))])
    world.crash("b"); world.run_until(lambda: status(a, "b.global") == "failed", 60)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.agent import Agent
from agent.config.listeners import listeners_for
from agent.config.settings import Settings, deep_merge
from agent.runtime.clock import VirtualClock
from agent.runtime.gossip_sim import SimRuntime
from agent.runtime.resolver import StaticResolver
from agent.runtime.rpc_sim import SimRpcRuntime
from agent.runtime.sim_time import PacedTime, SteppedTime
from agent.sim.network import NetworkConditions, SimNetwork
from agent.sim.scheduler import Scheduler
from gossip import Address

BOOTSTRAP_TIMEOUT = 10.0
"""Virtual seconds `add` waits for a bootstrapping server to lead (and its client to register)."""


class SimAgents:
    """A set of agents on 127.1.0.x sharing one scheduler and network (see module docstring)."""

    def __init__(
        self,
        seed: int = 0,
        *,
        network: NetworkConditions | None = None,
        hosts: Mapping[str, Sequence[str]] | None = None,
        paced: bool = False,
        speed: float = 1.0,
    ) -> None:
        self.seed = seed
        self._master = random.Random(seed)
        self.scheduler = Scheduler()
        self.network = SimNetwork(
            self.scheduler, random.Random(self._master.getrandbits(64)), network
        )
        self.time: SteppedTime | PacedTime = (
            PacedTime(self.scheduler, speed=speed) if paced else SteppedTime(self.scheduler)
        )
        """Stepped (a test runs virtual time) or paced to the wall clock (`time.run()`)."""
        self.resolver = StaticResolver(hosts)
        self.clock = VirtualClock(lambda: self.scheduler.now)
        self.agents: dict[str, Agent] = {}
        self.runtimes: dict[str, SimRuntime] = {}
        self.rpc_runtimes: dict[str, SimRpcRuntime] = {}

    def settings(self, name: str, *, dev: bool = False, **values: Any) -> Settings:
        """Settings for the next agent: its own 127.1.0.x, local gossip timings by default."""
        ip = f"127.1.0.{len(self.agents) + 1}"
        base: dict[str, Any] = {"name": name, "bind_addr": ip, "gossip_profile": "local"}
        if dev:
            base["dev_mode"] = True
        elif "server" not in values and "client" not in values:
            base["server"] = {"enabled": True, "bootstrap_expect": 1}
        return Settings(**deep_merge(base, values))

    async def add(self, name: str, *, dev: bool = False, **values: Any) -> Agent:
        """Create and start an agent (server with bootstrap_expect 1 unless told otherwise)."""
        if name in self.agents:
            raise ValueError(f"agent {name!r} exists")
        return await self._start(name, self.settings(name, dev=dev, **values))

    async def restart(self, name: str) -> Agent:
        """A fresh process with the same settings (same addresses and data dir) after a crash."""
        old = self.agents.pop(name)
        self.crash(name)
        return await self._start(name, old.settings)

    async def _start(self, name: str, settings: Settings) -> Agent:
        listeners = listeners_for(
            settings,
            http_port=settings.ports.http,
            serf_port=settings.ports.serf,
            fallback_ip=settings.bind_addr,
        )
        runtime = None
        if settings.server.enabled:
            serf = listeners.serf
            runtime = SimRuntime(
                self.scheduler, self.network, Address(serf.bind_host, serf.port), time=self.time
            )
            self.runtimes[name] = runtime
        rpc = listeners.rpc
        rpc_runtime = SimRpcRuntime(
            self.scheduler,
            self.network,
            Address(rpc.advertise_host, rpc.advertise_port),
            time=self.time,
        )
        self.rpc_runtimes[name] = rpc_runtime
        agent = Agent(
            settings,
            listeners=listeners,
            runtime=runtime,
            rpc_runtime=rpc_runtime,
            resolver=self.resolver,
            clock=self.clock,
            rng=random.Random(self._master.getrandbits(64)),
        )
        await agent.start()
        self.agents[name] = agent
        if settings.bootstraps and agent.server is not None:
            # A lone server elects itself after one follower timeout (1-2 s of raft time),
            # and a dev agent's client then registers with it; tests start from an agent
            # that is up, as a user would after startup.
            server, client = agent.server, agent.client
            await self.time.wait(
                lambda: server.raft.is_leader and (client is None or client.rpc.registered),
                self.scheduler.now + BOOTSTRAP_TIMEOUT,
            )
        return agent

    def serf_addr(self, name: str) -> Address:
        return self.runtimes[name].addr

    def rpc_addr(self, name: str) -> Address:
        rpc = self.agents[name].listeners.rpc
        return Address(rpc.advertise_host, rpc.advertise_port)

    def addresses(self, name: str) -> list[Address]:
        """Every simulated address agent `name` listens on: RPC, and serf for a server."""
        out = [self.rpc_addr(name)]
        if name in self.runtimes:
            out.append(self.serf_addr(name))
        return out

    @property
    def now(self) -> float:
        return self.scheduler.now

    def run(self, seconds: float) -> None:
        """Advance virtual time."""
        self.scheduler.run_until(self.scheduler.now + seconds)

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until `predicate()` holds (True) or `timeout` virtual seconds pass (False)."""
        return self.scheduler.run_while(lambda: not predicate(), self.scheduler.now + timeout)

    def crash(self, name: str) -> None:
        """Kill an agent without a leave: its gossip and RPC ports go silent at once."""
        if name in self.runtimes:
            self.runtimes[name].crash()
        self.rpc_runtimes[name].crash()
