"""PUT/POST /v1/agent/force-leave (Nomad agent_endpoint.go `AgentForceLeaveRequest`, with
Nomad 1.7's `prune`): unknown and missing nodes, client-only 501, GET 405, a failed member
becomes left, prune erases it, a bad prune is 400, an alive member refutes."""

from __future__ import annotations

import pytest

from agent.agent import Agent
from agent.launch.simulated import SimAgents
from tests.helpers.api import assert_plain_error, member_statuses

pytestmark = pytest.mark.anyio


async def _two_with_b_failed(world: SimAgents) -> Agent:
    a = await world.add("a")
    await world.add("b")
    assert (await a.join(["127.1.0.2"])).num_joined == 1
    world.crash("b")
    assert world.run_until(lambda: a.server.serf.stats()["failed"] == "1", 60.0)
    return a


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_unknown_node_is_200_empty(world: SimAgents, api, method: str) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.request(method, "/v1/agent/force-leave?node=foo")
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize("query", ["", "?node=", "?prune=true", "?nodes=a"])
async def test_missing_node_is_400(world: SimAgents, api, query: str) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.post(f"/v1/agent/force-leave{query}")
    assert_plain_error(response, 400, "missing node to force leave")


async def test_client_only_is_501(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        for path in ("/v1/agent/force-leave?node=x", "/v1/agent/force-leave"):
            assert_plain_error(await client.post(path), 501, "Invalid method")


async def test_get_is_405(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.get("/v1/agent/force-leave?node=x")
    assert_plain_error(response, 405, "Invalid method")


async def test_failed_member_becomes_left(world: SimAgents, api) -> None:
    a = await _two_with_b_failed(world)
    async with api(a) as client:
        assert (await client.post("/v1/agent/force-leave?node=b.global")).status_code == 200
        view = (await client.get("/v1/agent/members")).json()
    assert member_statuses(view) == {"a.global": "alive", "b.global": "left"}


@pytest.mark.parametrize("prune", ["true", "1", "T", "TRUE", "True", "t"])
async def test_prune_erases_the_member(world: SimAgents, api, prune: str) -> None:
    a = await _two_with_b_failed(world)
    async with api(a) as client:
        response = await client.put(f"/v1/agent/force-leave?node=b.global&prune={prune}")
        assert response.status_code == 200
        view = (await client.get("/v1/agent/members")).json()
    assert member_statuses(view) == {"a.global": "alive"}


@pytest.mark.parametrize("prune", ["false", "0", "", "F"])
async def test_prune_false_or_empty_only_leaves(world: SimAgents, api, prune: str) -> None:
    a = await _two_with_b_failed(world)
    async with api(a) as client:
        response = await client.put(f"/v1/agent/force-leave?node=b.global&prune={prune}")
        assert response.status_code == 200
        view = (await client.get("/v1/agent/members")).json()
    assert member_statuses(view)["b.global"] == "left"


@pytest.mark.parametrize("prune", ["maybe", "yes", "2", "tRUE"])
async def test_bad_prune_is_400(world: SimAgents, api, prune: str) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.post(f"/v1/agent/force-leave?node=n&prune={prune}")
    assert_plain_error(response, 400, "invalid prune value")


async def test_alive_member_goes_leaving_then_refutes(world: SimAgents, api) -> None:
    # Three nodes: serf only broadcasts the intent while *another* member is alive (as Go's
    # hasAliveMembers), so in a pair the target would never hear it and stay "leaving".
    a = await world.add("a")
    await world.add("b")
    await world.add("c")
    assert (await a.join(["127.1.0.2", "127.1.0.3"])).num_joined == 2
    assert world.run_until(lambda: len(a.server.serf.members()) == 3, 10.0)
    async with api(a) as client:
        assert (await client.post("/v1/agent/force-leave?node=b.global")).status_code == 200
        assert member_statuses((await client.get("/v1/agent/members")).json())["b.global"] in (
            "leaving",
            "alive",
        )
        assert world.run_until(
            lambda: {m.status.value for m in a.server.serf.members()} == {"alive"}, 10.0
        )
        view = (await client.get("/v1/agent/members")).json()
    assert member_statuses(view) == {"a.global": "alive", "b.global": "alive", "c.global": "alive"}
