"""GET /v1/agent/members (Nomad agent_endpoint.go `AgentMembersRequest`): the body on servers
and on clients (a server's pool), 500 without servers, POST 405, query options, and the cached
body following membership changes."""

from __future__ import annotations

import pytest

from agent.launch.simulated import SimAgents
from gossip.messages import LeaveIntent
from tests.helpers.api import assert_plain_error, member_statuses

pytestmark = pytest.mark.anyio


async def test_single_server(world: SimAgents, api) -> None:
    agent = await world.add("bacon-mac", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/agent/members")
    assert response.status_code == 200
    body = response.json()
    assert (body["ServerName"], body["ServerRegion"], body["ServerDC"]) == (
        "bacon-mac",
        "global",
        "dc1",
    )
    [member] = body["Members"]
    assert member == {
        "Name": "bacon-mac.global",
        "Addr": "127.1.0.1",
        "Port": 4648,
        "Tags": {
            "role": "nomad",
            "region": "global",
            "dc": "dc1",
            "vsn": "1",
            "mvn": "1",
            "build": "0.7.0",
            "port": "4647",
            "bootstrap": "1",
        },
        "Status": "alive",
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 4,
        "DelegateCur": 4,
    }


async def test_region_and_datacenter_and_expect_tag(world: SimAgents, api) -> None:
    agent = await world.add(
        "s1", region="eu", datacenter="fra1", server={"enabled": True, "bootstrap_expect": 3}
    )
    async with api(agent) as client:
        body = (await client.get("/v1/agent/members")).json()
    assert (body["ServerName"], body["ServerRegion"], body["ServerDC"]) == ("s1", "eu", "fra1")
    tags = body["Members"][0]["Tags"]
    assert body["Members"][0]["Name"] == "s1.eu"
    assert (tags["region"], tags["dc"], tags["expect"]) == ("eu", "fra1", "3")
    assert "bootstrap" not in tags


async def test_post_is_405(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        assert_plain_error(await client.post("/v1/agent/members"), 405, "Invalid method")


async def test_client_without_servers_is_500_no_servers(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        assert_plain_error(await client.get("/v1/agent/members"), 500, "no servers")


async def test_client_with_servers_describes_the_servers_pool(world: SimAgents, api) -> None:
    server = await world.add("s")
    agent = await world.add("c", client={"enabled": True, "servers": ["127.1.0.1"]})
    async with api(server) as client:
        direct = (await client.get("/v1/agent/members")).json()
    async with api(agent) as client:
        response = await client.get("/v1/agent/members")
    assert response.status_code == 200
    assert response.json() == direct  # forwarded to the server (Status.Members), nomad#1382
    assert direct["ServerName"] == "s" and [m["Name"] for m in direct["Members"]] == ["s.global"]


async def test_client_whose_server_is_gone_answers_500(world: SimAgents, api) -> None:
    await world.add("s")
    agent = await world.add("c", client={"enabled": True, "servers": ["127.1.0.1"]})
    world.crash("s")
    async with api(agent) as client:
        response = await client.get("/v1/agent/members")
    assert response.status_code == 500
    assert "RPC failed to server 127.1.0.1:4647" in response.text


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("index=abc", "Invalid index"),
        ("index=-1", "Invalid index"),
        ("index=18446744073709551616", "Invalid index"),
        ("wait=xyz", "Invalid wait time"),
        ("wait=10", "Invalid wait time"),
        ("wait=abc&index=abc", "Invalid wait time"),
    ],
)
async def test_bad_query_options_are_400(world: SimAgents, api, query: str, body: str) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        assert_plain_error(await client.get(f"/v1/agent/members?{query}"), 400, body)


@pytest.mark.parametrize(
    "query", ["index=18446744073709551615", "wait=10s", "wait=1m30s", "stale", "stale=maybe"]
)
async def test_valid_query_options_are_accepted(world: SimAgents, api, query: str) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        assert (await client.get(f"/v1/agent/members?{query}")).status_code == 200


async def test_join_then_fail_then_force_leave(world: SimAgents, api) -> None:
    a = await world.add("a", dev=True)
    await world.add("b")
    async with api(a) as client:
        joined = await client.post("/v1/agent/join?address=127.1.0.2")
        assert joined.json() == {"num_joined": 1, "error": ""}
        view = (await client.get("/v1/agent/members")).json()
        assert member_statuses(view) == {"a.global": "alive", "b.global": "alive"}
        assert [m["Port"] for m in view["Members"]] == [4648, 4648]

        world.crash("b")
        assert world.run_until(lambda: a.server.serf.stats()["failed"] == "1", 60.0)
        view = (await client.get("/v1/agent/members")).json()
        assert member_statuses(view) == {"a.global": "alive", "b.global": "failed"}

        assert (await client.post("/v1/agent/force-leave?node=b.global")).status_code == 200
        view = (await client.get("/v1/agent/members")).json()
        assert member_statuses(view) == {"a.global": "alive", "b.global": "left"}


async def test_cached_body_follows_every_membership_change(world: SimAgents, api) -> None:
    """The members body is cached on the membership version: each change must show."""
    a = await world.add("a")
    await world.add("b")
    c = await world.add("c")

    async def statuses(pretty: bool = False) -> dict[str, str]:
        async with api(a) as client:
            path = "/v1/agent/members" + ("?pretty" if pretty else "")
            first, second = await client.get(path), await client.get(path)
        assert first.content == second.content
        return member_statuses(first.json())

    assert await statuses() == {"a.global": "alive"}
    await a.join([str(world.serf_addr("b")), str(world.serf_addr("c"))])
    assert await statuses() == {"a.global": "alive", "b.global": "alive", "c.global": "alive"}
    assert await statuses(pretty=True) == await statuses()
    world.crash("b")
    assert world.run_until(lambda: a.server.serf.stats()["failed"] == "1", 60.0)
    assert (await statuses())["b.global"] == "failed"
    await a.force_leave("b.global")
    assert (await statuses())["b.global"] == "left"
    await c.leave()
    assert world.run_until(lambda: a.server.serf.stats()["left"] == "2", 60.0)
    assert (await statuses())["c.global"] == "left"
    await a.force_leave("b.global", prune=True)
    assert "b.global" not in await statuses()


async def test_cached_body_sees_leaving_which_serf_sets_without_an_event(
    world: SimAgents, api
) -> None:
    a = await world.add("a")
    await world.add("b")
    await a.join([str(world.serf_addr("b"))])
    async with api(a) as client:
        assert member_statuses((await client.get("/v1/agent/members")).json())["b.global"] == (
            "alive"
        )
        # A newer leave intent about a known alive member (serf handleNodeLeaveIntent).
        serf = a.server.serf
        serf.table.on_leave_intent(serf.swim.now, LeaveIntent(serf.clock.time() + 10, "b.global"))
        view = (await client.get("/v1/agent/members")).json()
    assert member_statuses(view)["b.global"] == "leaving"
