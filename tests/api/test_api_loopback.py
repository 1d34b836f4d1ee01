"""The API on real sockets: agents on 127.0.0.3x with the asyncio runtime (no simulator).

Loopback only, ephemeral ports, every wait polled against a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from agent.agent import Agent
from agent.config.settings import Settings
from agent.launch.real import start_agent
from tests.helpers.api import member_statuses

pytestmark = pytest.mark.anyio

DEADLINE = 20.0


async def _eventually(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def agents() -> AsyncIterator[Callable[..., object]]:
    started: list[Agent] = []

    async def make(ip: str, **values: object) -> Agent:
        base = {"name": ip, "bind_addr": ip, "ports": {"serf": 0, "http": 0}}
        settings = Settings(**base, server={"enabled": True, "bootstrap_expect": 1}, **values)
        agent = await start_agent(settings, http_port=0)
        started.append(agent)
        return agent

    yield make
    for agent in started:
        await agent.shutdown()


async def test_two_agents_join_over_real_sockets(agents, api) -> None:
    a = await agents("127.0.0.31", gossip_profile="local")
    b = await agents("127.0.0.32", gossip_profile="local")
    b_serf = b.listeners.serf
    async with api(a) as client:
        response = await client.post(f"/v1/agent/join?address=127.0.0.32:{b_serf.port}")
        assert response.json() == {"num_joined": 1, "error": ""}
        await _eventually(lambda: len(b.server.serf.members()) == 2, "b to see a")
        view = (await client.get("/v1/agent/members")).json()
    assert member_statuses(view) == {"127.0.0.31.global": "alive", "127.0.0.32.global": "alive"}
    ports = {m["Name"]: m["Port"] for m in view["Members"]}
    assert ports["127.0.0.32.global"] == b_serf.port


async def test_refused_address_reads_like_go(agents, api) -> None:
    a = await agents("127.0.0.33")
    async with api(a) as client:
        response = await client.post("/v1/agent/join?address=127.0.0.39:1")
    assert response.json() == {
        "num_joined": 0,
        "error": "1 error occurred:\n\t* Failed to join 127.0.0.39: "
        "dial tcp 127.0.0.39:1: connect: connection refused\n\n",
    }


async def test_black_hole_join_answers_with_the_deadline_error(agents, api) -> None:
    """A peer that accepts and never answers: the WAN profile would wait 30 s, the agent
    answers at its own join deadline instead. The time bound itself is checked in virtual
    time (test_api_join.py); here the real sockets must take the same path."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    hole = await asyncio.start_server(silent, "127.0.0.35", 0)
    port = hole.sockets[0].getsockname()[1]
    a = await agents("127.0.0.34", gossip_profile="wan")
    try:
        async with api(a) as client:
            response = await client.post(f"/v1/agent/join?address=127.0.0.35:{port}")
    finally:
        for writer in accepted:
            writer.close()
        hole.close()
    assert response.json() == {
        "num_joined": 0,
        "error": "1 error occurred:\n\t* Failed to join 127.0.0.35: i/o timeout\n\n",
    }
