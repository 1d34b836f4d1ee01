"""SimRuntime: the `Runtime` protocol on the deterministic simulator (`agent.sim`).

The core runs in a `SimProcess` on a shared `Scheduler` and `SimNetwork`, exactly as inside a
`SimCluster`; what this adds is the Agent's side. `wait` does not sleep: it runs the
scheduler (every node on it, not just this one) until the futures are done or the virtual
timeout passes, so an API call that would take seconds of protocol time returns in
milliseconds and always the same way for the same seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from agent.runtime.faults import FaultTable
from agent.runtime.gossip_driver import EventCallback
from agent.runtime.sim_time import SimTime, SteppedTime
from agent.sim.network import SimNetwork
from agent.sim.process import SimProcess
from agent.sim.scheduler import Scheduler
from gossip import Address, Endpoint, GossipEvent


class SimRuntime:
    """One simulated process for one agent's core, on a scheduler shared with other agents."""

    def __init__(
        self,
        scheduler: Scheduler,
        network: SimNetwork,
        addr: Address,
        *,
        time: SimTime | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.time = time or SteppedTime(scheduler)
        """Who moves virtual time while the Agent waits: a test's steps or the wall clock."""
        self.network = network
        self._addr = addr
        self._process: SimProcess[Endpoint] | None = None

    @property
    def addr(self) -> Address:
        return self._addr

    @property
    def process(self) -> SimProcess[Endpoint] | None:
        """The simulated process (for fault injection in tests: `crash()`, `pause()`)."""
        return self._process

    def now(self) -> float:
        return self.scheduler.now

    def attach(self, core: Endpoint, on_event: EventCallback) -> None:
        def deliver(process: SimProcess[Endpoint], event: GossipEvent) -> None:
            on_event(event)

        self._process = SimProcess(core, self._addr, self.scheduler, self.network, deliver)

    def flush(self) -> None:
        if self._process is not None and self._process.running:
            self._process.flush()

    async def wait(self, futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
        until = self.scheduler.now + max(0.0, timeout)
        await self.time.wait(lambda: all(f.done() for f in futures), until)

    def set_faults(self, faults: FaultTable | None) -> None:
        """Ignored: the simulator's own faults (`SimNetwork` partitions, loss, latency) act
        in virtual time; the agent still records and lists injected faults."""

    def crash(self) -> None:
        """Vanish without a word (no leave): peers will see this agent fail."""
        if self._process is not None and self._process.running:
            self._process.crash()

    async def close(self) -> None:
        self.crash()
