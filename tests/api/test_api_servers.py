"""GET/PUT/POST /v1/agent/servers (Nomad agent_endpoint.go `listServers`, `updateServers`):
server-only 501, the list sorted as strings, replacement, missing and unresolvable addresses,
IPv6. Nomad 0.7's rules: names are resolved, nothing is pinged."""

from __future__ import annotations

import pytest

from agent.launch.simulated import SimAgents
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio


async def test_server_only_is_501(world: SimAgents, api) -> None:
    agent = await world.add("s")
    async with api(agent) as client:
        assert_plain_error(await client.get("/v1/agent/servers"), 501, "Invalid method")


async def test_dev_agent_lists_its_rpc_advertise_address(world: SimAgents, api) -> None:
    agent = await world.add("d", dev=True, ports={"rpc": 5647})
    async with api(agent) as client:
        response = await client.get("/v1/agent/servers")
    assert (response.status_code, response.json()) == (200, ["127.1.0.1:5647"])


async def test_client_without_servers_is_empty_list(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        response = await client.get("/v1/agent/servers")
    assert (response.status_code, response.text) == (200, "[]")


async def test_replace_and_sorted_as_strings(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True, "servers": ["10.0.0.1"]})
    async with api(agent) as client:
        assert (await client.get("/v1/agent/servers")).json() == ["10.0.0.1:4647"]
        query = "address=10.0.0.9&address=10.0.0.10:4000&address=10.0.0.9:4647"
        response = await client.post(f"/v1/agent/servers?{query}")
        assert (response.status_code, response.content) == (200, b"")
        assert (await client.get("/v1/agent/servers")).json() == [
            "10.0.0.10:4000",
            "10.0.0.9:4647",
        ]


async def test_delete_is_405(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        assert_plain_error(await client.delete("/v1/agent/servers"), 405, "Invalid method")


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_missing_address_is_400(world: SimAgents, api, method: str) -> None:
    agent = await world.add("d", dev=True)
    async with api(agent) as client:
        response = await client.request(method, "/v1/agent/servers?addres=1.2.3.4")
    assert_plain_error(response, 400, "missing server address")


async def test_set_then_get_exactly_those(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    query = "address=127.0.0.1:4647&address=127.0.0.2:4647&address=127.0.0.3:4647"
    async with api(agent) as client:
        assert (await client.put(f"/v1/agent/servers?{query}")).status_code == 200
        got = (await client.get("/v1/agent/servers")).json()
    assert got == ["127.0.0.1:4647", "127.0.0.2:4647", "127.0.0.3:4647"]


async def test_names_resolve_to_ips_with_the_default_rpc_port(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        assert (await client.post("/v1/agent/servers?address=two.example")).status_code == 200
        assert (await client.get("/v1/agent/servers")).json() == ["127.1.0.2:4647"]


async def test_unresolvable_only_is_400_multierror(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True, "servers": ["10.0.0.1"]})
    async with api(agent) as client:
        response = await client.post("/v1/agent/servers?address=no.such.host.invalid")
        assert_plain_error(
            response,
            400,
            "1 error occurred:\n\t* lookup no.such.host.invalid: no such host\n\n",
        )
        assert (await client.get("/v1/agent/servers")).json() == ["10.0.0.1:4647"]


async def test_bad_port_is_reported(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        response = await client.post("/v1/agent/servers?address=1.2.3.4:http&address=x:99999")
    assert response.status_code == 400
    assert response.text.startswith("2 errors occurred:\n\t* strconv.ParseUint")


async def test_good_plus_unresolvable_keeps_the_good_one(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        query = "address=nope&address=1.2.3.4"
        assert (await client.post(f"/v1/agent/servers?{query}")).status_code == 200
        assert (await client.get("/v1/agent/servers")).json() == ["1.2.3.4:4647"]


async def test_present_but_empty_address_is_not_missing(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        assert (await client.post("/v1/agent/servers?address=")).status_code == 200
        assert (await client.get("/v1/agent/servers")).json() == [":4647"]


async def test_ipv6_servers_are_bracketed(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True})
    async with api(agent) as client:
        query = "address=[::1]:4000&address=fe80::1"
        assert (await client.post(f"/v1/agent/servers?{query}")).status_code == 200
        assert (await client.get("/v1/agent/servers")).json() == ["[::1]:4000", "[fe80::1]:4647"]


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_server_only_is_501_even_without_address(world: SimAgents, api, method: str) -> None:
    agent = await world.add("s")
    async with api(agent) as client:
        for path in ("/v1/agent/servers?address=x", "/v1/agent/servers"):
            assert_plain_error(await client.request(method, path), 501, "Invalid method")
