"""DemoSession: the world being shown now, and how a reset replaces it.

A reset builds the new world completely before swapping it in (the page keeps showing the
old one meanwhile), then points each node's HTTP address at the new agents and closes the
old world. The cluster's shape (servers, clients, gossip-only nodes) stays as the flags set it;
seed and scenario change.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from agent.demo.scenarios import scenario_named
from agent.demo.settings import DemoSettings
from agent.demo.world import DemoWorld
from agent.launch.sim_http import SimAgentsHttp


class DemoSession:
    """Holds the current `DemoWorld`; the control API gets it by dependency injection."""

    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self.http: SimAgentsHttp | None = None
        self.urls: dict[str, str] = {}
        """Each node's own Nomad API address, when `-no-agent-apis` is not given."""
        self.demo_url = ""
        self.closing = asyncio.Event()
        """Set when the demo stops: event streams end so the HTTP server can shut down."""
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> DemoSettings:
        return self.world.settings

    @classmethod
    async def create(cls, settings: DemoSettings) -> DemoSession:
        world = DemoWorld(settings)
        await world.build()
        world.start()
        return cls(world)

    async def reset(self, seed: int, scenario: str) -> DemoWorld:
        """Start over with `seed` and `scenario` (validated first: DemoInputError)."""
        chosen = scenario_named(scenario)
        settings = self.world.settings.with_run(seed=seed, scenario=scenario)
        if chosen is not None:
            settings = replace(settings, speed=chosen.speed)
        settings = replace(settings, start_paused=self.world.time.paused)
        async with self._lock:
            world = DemoWorld(settings)
            try:
                await world.build()
            except BaseException:
                await world.close()  # a half-built world holds agents, timers and a temp dir
                raise
            old, self.world = self.world, world
            if self.http is not None:
                self.http.world = world.agents
            world.start()
            await old.close()
        return world

    async def close(self) -> None:
        await self.world.close()
