"""PUT/POST /v1/agent/join (Nomad agent_endpoint.go `AgentJoinRequest`, memberlist `Join`):
`num_joined` and `error` on success, partial and total failure, missing address 400,
client-only 501, GET 405, the default port, deadlines, join after leave."""

from __future__ import annotations

import pytest

from agent.launch.simulated import SimAgents
from agent.roles.server import JOIN_ANSWER_TIMEOUT
from tests.helpers.api import assert_plain_error, member_statuses

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_self_twice_counts_twice(world: SimAgents, api, method: str) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.request(
            method, "/v1/agent/join?address=127.1.0.1:4648&address=127.1.0.1:4648"
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == '{"num_joined":2,"error":""}'


async def test_missing_address_is_400(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.post("/v1/agent/join?addres=1.2.3.4")
    assert_plain_error(response, 400, "missing address to join")


async def test_client_only_is_501_before_address_check(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        for path in ("/v1/agent/join?address=1.2.3.4", "/v1/agent/join"):
            assert_plain_error(await client.post(path), 501, "Invalid method")


async def test_get_is_405(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        assert_plain_error(await client.get("/v1/agent/join"), 405, "Invalid method")


async def test_unresolvable_reports_resolve_error(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.post("/v1/agent/join?address=nope")
    assert response.status_code == 200
    assert response.json() == {
        "num_joined": 0,
        "error": "1 error occurred:\n\t* Failed to resolve nope: lookup nope: no such host\n\n",
    }
    assert "resolve nope" in response.json()["error"].lower()


async def test_partial_failure_hides_the_errors(world: SimAgents, api) -> None:
    a = await world.add("a")
    await world.add("b")
    async with api(a) as client:
        response = await client.post("/v1/agent/join?address=nope&address=127.1.0.2")
    assert response.json() == {"num_joined": 1, "error": ""}


async def test_two_bad_addresses(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        response = await client.post("/v1/agent/join?address=127.1.0.9&address=1.2.3.4:99999")
    body = response.json()
    assert body["num_joined"] == 0
    assert body["error"] == (
        "2 errors occurred:\n"
        "\t* Failed to join 127.1.0.9: dial tcp 127.1.0.9:4648: connect: connection refused\n"
        "\t* Failed to resolve 1.2.3.4:99999: "
        'strconv.ParseUint: parsing "99999": value out of range\n\n'
    )


async def test_default_port_is_our_serf_port(world: SimAgents, api) -> None:
    a = await world.add("a", ports={"serf": 5000})
    await world.add("b", ports={"serf": 5000})
    async with api(a) as client:
        assert (await client.post("/v1/agent/join?address=127.1.0.2")).json()["num_joined"] == 1
        joined_by_name = await client.post("/v1/agent/join?address=two.example")
        assert joined_by_name.json()["num_joined"] == 1


async def test_both_servers_list_each_other(world: SimAgents, api) -> None:
    a = await world.add("a")
    b = await world.add("b")
    async with api(a) as client_a, api(b) as client_b:
        await client_a.put("/v1/agent/join?address=127.1.0.2")
        assert world.run_until(lambda: len(b.server.serf.members()) == 2, 10.0)
        for client in (client_a, client_b):
            view = (await client.get("/v1/agent/members")).json()
            assert member_statuses(view) == {"a.global": "alive", "b.global": "alive"}


async def test_nodename_prefix_and_ipv4_forms(world: SimAgents, api) -> None:
    a = await world.add("a")
    await world.add("b")
    async with api(a) as client:
        response = await client.post("/v1/agent/join?address=b.global/127.1.0.2:4648")
    assert response.json() == {"num_joined": 1, "error": ""}


async def test_black_holed_address_answers_within_the_deadline(sim_seed: int, api) -> None:
    world = SimAgents(seed=sim_seed)
    a = await world.add("a", gossip_profile="wan")  # 30 s TCP timeout, as Nomad servers
    await world.add("b", gossip_profile="wan")
    world.network.block(world.serf_addr("a"), world.serf_addr("b"))
    start = world.now
    async with api(a) as client:
        response = await client.post("/v1/agent/join?address=127.1.0.2")
    assert world.now - start == pytest.approx(JOIN_ANSWER_TIMEOUT)
    assert response.json() == {
        "num_joined": 0,
        "error": "1 error occurred:\n\t* Failed to join 127.1.0.2: i/o timeout\n\n",
    }


async def test_after_leave_join_is_refused(world: SimAgents, api) -> None:
    a = await world.add("a")
    await a.leave()
    async with api(a) as client:
        response = await client.post("/v1/agent/join?address=127.1.0.1")
    assert response.json() == {"num_joined": 0, "error": "Serf can't Join after Leave or Shutdown"}
