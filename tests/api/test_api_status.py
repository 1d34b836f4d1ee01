"""`/v1/status/leader`, `/v1/status/peers`, `/v1/regions` against simulated agents."""

from __future__ import annotations

import pytest

from agent.launch.simulated import SimAgents
from tests.helpers.api import TEXT_PLAIN, assert_plain_error

pytestmark = pytest.mark.anyio


async def test_a_dev_agent_names_itself_leader_and_only_peer(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    rpc = agent.listeners.rpc.advertise
    async with api(agent) as client:
        leader = await client.get("/v1/status/leader")
        peers = await client.get("/v1/status/peers")
        regions = await client.get("/v1/regions")
    assert (leader.status_code, leader.json()) == (200, rpc)
    assert leader.text == f'"{rpc}"'  # a JSON string, as Nomad encodes it
    assert (peers.status_code, peers.json()) == (200, [rpc])
    assert (regions.status_code, regions.json()) == (200, ["global"])


async def test_no_leader_is_an_empty_string(world: SimAgents, api) -> None:
    agent = await world.add("s", server={"enabled": True, "bootstrap_expect": 3})
    async with api(agent) as client:
        leader = await client.get("/v1/status/leader")
        peers = await client.get("/v1/status/peers")
    assert (leader.status_code, leader.text) == (200, '""')
    assert (peers.status_code, peers.json()) == (200, [])


async def test_regions_lists_every_known_servers_region(world: SimAgents, api) -> None:
    a = await world.add("a")
    b = await world.add("b", region="europe")
    await a.join([str(world.serf_addr("b"))])
    async with api(a) as client, api(b) as other:
        assert (await client.get("/v1/regions")).json() == ["europe", "global"]
        assert (await other.get("/v1/regions")).json() == ["europe", "global"]


async def test_only_get_and_valid_query_options(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        for path in ("/v1/status/leader", "/v1/status/peers", "/v1/regions"):
            response = await client.post(path)
            assert_plain_error(response, 405, "Invalid method")
            response = await client.get(f"{path}?wait=soon")
            assert_plain_error(response, 400, "Invalid wait time")


async def test_a_client_only_agent_has_no_raft_to_read(world: SimAgents, api) -> None:
    await world.add("s", dev=True)
    agent = await world.add("c", client={"enabled": True, "servers": ["127.1.0.1"]})
    async with api(agent) as client:
        response = await client.get("/v1/status/leader")
    assert_plain_error(response, 501, "Invalid method")
    assert response.headers["content-type"] == TEXT_PLAIN


async def test_status_needs_no_token_with_acls_on(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True, acl={"enabled": True})
    async with api(agent) as client:
        assert (await client.get("/v1/status/leader")).status_code == 200
        assert (await client.get("/v1/status/peers")).status_code == 200
        assert (await client.get("/v1/regions")).status_code == 200
