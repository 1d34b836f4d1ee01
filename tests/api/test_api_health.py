"""GET /v1/agent/health (Nomad agent_endpoint.go `HealthRequest`): the client and server halves
of dev, client-only and server-only agents, `type` and `region`, 500 for an unhealthy half,
POST 405, query options."""

from __future__ import annotations

import pytest

from agent.launch.simulated import SimAgents
from tests.helpers.api import TEXT_PLAIN, assert_plain_error

pytestmark = pytest.mark.anyio

OK = {"ok": True, "message": "ok"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"client": OK, "server": OK}),
        ("?type=client", {"client": OK}),
        ("?type=server", {"server": OK}),
        ("?type=client&type=server", {"client": OK, "server": OK}),
        ("?type=foo", {}),
        ("?type=", {}),
    ],
)
async def test_dev_agent(world: SimAgents, api, query: str, expected: dict) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        response = await client.get(f"/v1/agent/health{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected


async def test_exact_bytes(world: SimAgents, api) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/agent/health")
    assert response.text == (
        '{"client":{"ok":true,"message":"ok"},"server":{"ok":true,"message":"ok"}}'
    )


async def test_client_with_servers(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True, "servers": ["10.0.0.1"]})
    async with api(agent) as client:
        response = await client.get("/v1/agent/health")
    assert (response.status_code, response.json()) == (200, {"client": OK})


async def test_server_half_of_a_client_is_500(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True, "servers": ["10.0.0.1"]})
    async with api(agent) as client:
        response = await client.get("/v1/agent/health?type=server")
    assert_plain_error(response, 500, '{"server":{"ok":false,"message":"server not enabled"}}')


async def test_server_only(world: SimAgents, api) -> None:
    agent = await world.add("s")
    async with api(agent) as client:
        response = await client.get("/v1/agent/health")
    assert (response.status_code, response.json()) == (200, {"server": OK})


async def test_client_half_of_a_server_is_500(world: SimAgents, api) -> None:
    agent = await world.add("s")
    async with api(agent) as client:
        response = await client.get("/v1/agent/health?type=client")
    assert_plain_error(response, 500, '{"client":{"ok":false,"message":"client not enabled"}}')


async def test_client_without_servers(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        response = await client.get("/v1/agent/health")
    assert_plain_error(response, 500, '{"client":{"ok":false,"message":"no known servers"}}')


async def test_server_without_leader(world: SimAgents, api) -> None:
    agent = await world.add("s", server={"enabled": True, "bootstrap_expect": 3})
    async with api(agent) as client:
        response = await client.get("/v1/agent/health")
    assert_plain_error(response, 500, '{"server":{"ok":false,"message":"no leader"}}')


async def test_unknown_region(world: SimAgents, api) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/agent/health?type=server&region=nowhere")
        own = await client.get("/v1/agent/health?type=server&region=global")
    assert_plain_error(response, 500, '{"server":{"ok":false,"message":"No path to region"}}')
    assert own.status_code == 200


async def test_unhealthy_half_keeps_the_healthy_one(world: SimAgents, api) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/agent/health?region=nowhere")
    assert response.status_code == 500
    assert response.text == (
        '{"client":{"ok":true,"message":"ok"},"server":{"ok":false,"message":"No path to region"}}'
    )


async def test_post_is_405(world: SimAgents, api) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        assert_plain_error(await client.post("/v1/agent/health"), 405, "Invalid method")


async def test_query_options_are_parsed(world: SimAgents, api) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/agent/health?wait=soon")
    assert_plain_error(response, 400, "Invalid wait time")
    assert response.headers["content-type"] == TEXT_PLAIN
