"""API test fixtures: real `Agent`s on the simulator, served through httpx's ASGITransport.

`world` is a `SimAgents` (one virtual clock and network, seeded per test by `sim_seed`);
`api(agent)` is an httpx client on `create_app(agent)`. Protocol time only passes when a
test (or an agent command) runs the scheduler, so everything is deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest

from agent.agent_api import AgentAPI
from agent.api import create_app
from agent.launch.simulated import SimAgents


@pytest.fixture
def world(sim_seed: int) -> SimAgents:
    return SimAgents(seed=sim_seed, hosts={"two.example": ["127.1.0.2"]})


@asynccontextmanager
async def _client(agent: AgentAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(agent))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        yield client


@pytest.fixture
def api() -> Callable[[AgentAPI], AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with api(agent) as client: await client.get(...)`."""
    return _client
