"""`/v1/operator/raft/configuration` and `DELETE /v1/operator/raft/peer` on simulated servers:
the raft stub's real configuration, Nomad's errors, and `operator` ACLs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent.agent import Agent
from agent.launch.simulated import SimAgents
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio

ELECTION_TIMEOUT = 30.0


async def three_servers(world: SimAgents, **values: Any) -> list[Agent]:
    """s1-s3 with bootstrap_expect 3, joined through s1, once one of them leads."""
    agents = [
        await world.add(name, server={"enabled": True, "bootstrap_expect": 3}, **values)
        for name in ("s1", "s2", "s3")
    ]
    for agent in agents[1:]:
        result = await agent.join([str(world.serf_addr("s1"))])
        assert result.num_joined == 1
    assert world.run_until(lambda: leader_of(agents) is not None, ELECTION_TIMEOUT)
    assert world.run_until(
        lambda: all(len(a.server.raft.configuration) == 3 for a in agents if a.server),
        ELECTION_TIMEOUT,
    )
    return agents


def leader_of(agents: list[Agent]) -> Agent | None:
    return next((a for a in agents if a.server is not None and a.server.raft.is_leader), None)


def rpc_of(agent: Agent) -> str:
    return agent.listeners.rpc.advertise


async def test_the_configuration_names_every_server_and_the_leader(world: SimAgents, api) -> None:
    agents = await three_servers(world)
    leader = leader_of(agents)
    assert leader is not None
    async with api(agents[1]) as client:
        response = await client.get("/v1/operator/raft/configuration")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["Servers", "Index"]
    servers = {s["Address"]: s for s in body["Servers"]}
    assert set(servers) == {rpc_of(a) for a in agents}
    for agent in agents:
        entry = servers[rpc_of(agent)]
        assert list(entry) == ["ID", "Node", "Address", "Leader", "Voter"]
        assert entry["ID"] == rpc_of(agent)
        assert entry["Node"] == f"{agent.settings.node_name}.global"
        assert entry["Leader"] is (agent is leader)
        assert entry["Voter"] is True
    assert body["Index"] == agents[1].server.raft.log.configuration_index  # type: ignore[union-attr]
    assert body["Index"] >= 1


async def test_removing_a_crashed_peer_shrinks_the_configuration(world: SimAgents, api) -> None:
    agents = await three_servers(world)
    leader = leader_of(agents)
    assert leader is not None
    victim = next(a for a in agents if a is not leader)
    world.crash(victim.settings.node_name)
    # While serf shows it alive the leader's reconcile adds it straight back, as Nomad's does.
    victim_name = f"{victim.settings.node_name}.global"
    assert leader.server is not None
    members = leader.server.members
    assert world.run_until(
        lambda: any(m.name == victim_name and m.status == "failed" for m in members()), 60.0
    )
    async with api(leader) as client:
        response = await client.delete(f"/v1/operator/raft/peer?address={rpc_of(victim)}")
        assert (response.status_code, response.text) == (200, "")
        world.run(2.0)
        config = (await client.get("/v1/operator/raft/configuration")).json()
        peers = (await client.get("/v1/status/peers")).json()
    remaining = {rpc_of(a) for a in agents if a is not victim}
    assert {s["Address"] for s in config["Servers"]} == remaining
    assert set(peers) == remaining


async def test_unknown_and_missing_addresses_are_nomads_errors(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        unknown = await client.delete("/v1/operator/raft/peer?address=127.9.9.9:4647")
        missing = await client.delete("/v1/operator/raft/peer")
        wrong_method = await client.get("/v1/operator/raft/peer?address=x")
        config = await client.post("/v1/operator/raft/configuration")
    assert_plain_error(
        unknown, 500, 'address "127.9.9.9:4647" was not found in the Raft configuration'
    )
    assert_plain_error(missing, 400, "Must specify ?address with IP:port of peer to remove")
    assert_plain_error(wrong_method, 405, "Invalid method")
    assert_plain_error(config, 405, "Invalid method")
    assert agent.server is not None and len(agent.server.raft.configuration) == 1


async def test_the_last_voter_is_not_removed(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.delete(f"/v1/operator/raft/peer?address={rpc_of(agent)}")
    assert response.status_code == 500
    assert agent.server is not None and len(agent.server.raft.configuration) == 1


def auth(secret: str | None) -> dict[str, str]:
    return {} if secret is None else {"X-Nomad-Token": secret}


async def token_with(client: httpx.AsyncClient, mgmt: str, name: str, rules: str) -> str:
    policy = await client.post(
        f"/v1/acl/policy/{name}", json={"Name": name, "Rules": rules}, headers=auth(mgmt)
    )
    assert policy.status_code == 200, policy.text
    token = await client.post(
        "/v1/acl/token",
        json={"Name": name, "Type": "client", "Policies": [name]},
        headers=auth(mgmt),
    )
    assert token.status_code == 200, token.text
    return str(token.json()["SecretID"])


async def test_operator_read_lists_and_operator_write_removes(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True, acl={"enabled": True})
    address = "127.9.9.9:4647"  # not a peer: a permitted removal answers Nomad's 500
    async with api(agent) as client:
        mgmt = (await client.post("/v1/acl/bootstrap")).json()["SecretID"]
        reader = await token_with(client, mgmt, "op-read", 'operator { policy = "read" }')
        writer = await token_with(client, mgmt, "op-write", 'operator { policy = "write" }')
        agent_only = await token_with(client, mgmt, "agent-w", 'agent { policy = "write" }')
        config = "/v1/operator/raft/configuration"
        peer = f"/v1/operator/raft/peer?address={address}"
        for secret in (None, agent_only):
            assert_plain_error(
                await client.get(config, headers=auth(secret)), 403, "Permission denied"
            )
        for secret in (None, agent_only, reader):
            response = await client.delete(peer, headers=auth(secret))
            assert_plain_error(response, 403, "Permission denied")
        for secret in (reader, writer, mgmt):
            assert (await client.get(config, headers=auth(secret))).status_code == 200
        for secret in (writer, mgmt):
            response = await client.delete(peer, headers=auth(secret))
            assert response.status_code == 500
            assert "was not found in the Raft configuration" in response.text
