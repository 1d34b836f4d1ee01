"""`/v1/nodes` and `/v1/node/{id}` on simulated agents: the replicated node table in Nomad
0.7's shapes, blocking queries in virtual time, `X-Nomad-*` headers and `node:read`."""

from __future__ import annotations

import msgpack
import pytest

from agent.agent import Agent
from agent.launch.simulated import SimAgents
from agent.rpc.fsm import NodeRecord, NodeStatus
from tests.helpers.api import INDEX_HEADERS, assert_plain_error

pytestmark = pytest.mark.anyio

STUB_FIELDS = [
    "ID",
    "Datacenter",
    "Name",
    "NodeClass",
    "Version",
    "Drain",
    "Status",
    "StatusDescription",
    "CreateIndex",
    "ModifyIndex",
]


def node_id(agent: Agent) -> str:
    assert agent.client is not None
    return agent.client.node_id


async def test_a_dev_agent_lists_its_own_client(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True, datacenter="dc7")
    async with api(agent) as client:
        response = await client.get("/v1/nodes")
    assert response.status_code == 200
    [node] = response.json()
    assert list(node) == STUB_FIELDS
    assert node["ID"] == node_id(agent)
    assert (node["Name"], node["Datacenter"], node["Status"]) == ("a", "dc7", "ready")
    assert (node["NodeClass"], node["StatusDescription"], node["Drain"]) == ("", "", False)
    assert 0 < node["CreateIndex"] == node["ModifyIndex"]
    for header in INDEX_HEADERS:
        assert header in response.headers
    assert response.headers["X-Nomad-Index"] == str(node["ModifyIndex"])
    assert response.headers["X-Nomad-KnownLeader"] == "true"


async def test_one_node_by_id_and_an_unknown_one(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        found = await client.get(f"/v1/node/{node_id(agent)}")
        missing = await client.get("/v1/node/00000000-0000-0000-0000-000000000000")
        nested = await client.get(f"/v1/node/{node_id(agent)}/allocations")
    assert found.status_code == 200
    body = found.json()
    assert (body["ID"], body["Name"], body["Status"]) == (node_id(agent), "a", "ready")
    assert body["Attributes"] == {} and body["Resources"] is None
    assert found.headers["X-Nomad-Index"] == str(body["ModifyIndex"])
    assert_plain_error(missing, 404, "node not found")
    assert nested.status_code == 404


async def test_prefix_filters_by_id(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        hit = await client.get(f"/v1/nodes?prefix={node_id(agent)[:4]}")
        miss = await client.get("/v1/nodes?prefix=zz")
    assert [n["ID"] for n in hit.json()] == [node_id(agent)]
    assert miss.json() == []


async def test_a_blocking_query_returns_when_a_node_registers(world: SimAgents, api) -> None:
    server = await world.add("a", dev=True)
    rpc = server.listeners.rpc.advertise
    async with api(server) as client:
        first = await client.get("/v1/nodes")
        index = int(first.headers["X-Nomad-Index"])
        joining = await world.add("c", client={"enabled": True, "servers": [rpc]})
        started = world.now
        response = await client.get(f"/v1/nodes?index={index}&wait=60s")
    assert response.status_code == 200
    assert world.now - started < 60.0  # it returned on the change, not the timeout
    assert int(response.headers["X-Nomad-Index"]) > index
    assert {n["ID"] for n in response.json()} == {node_id(server), node_id(joining)}


async def test_a_blocking_query_times_out_after_wait(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        index = int((await client.get("/v1/nodes")).headers["X-Nomad-Index"])
        started = world.now
        response = await client.get(f"/v1/nodes?index={index}&wait=5s")
    assert response.status_code == 200
    assert world.now - started == pytest.approx(5.0, abs=0.01)
    assert response.headers["X-Nomad-Index"] == str(index)


async def test_a_silent_client_goes_down_and_its_modify_index_moves(world: SimAgents, api) -> None:
    server = await world.add("a", dev=True)
    rpc = server.listeners.rpc.advertise
    c = await world.add("c", client={"enabled": True, "servers": [rpc]})
    world.run(2.0)
    world.crash("c")
    async with api(server) as client:
        before = (await client.get(f"/v1/node/{node_id(c)}")).json()
        assert before["Status"] == "ready"
        # TTL (< 20 s for a small cluster) + 10 s grace: the blocking query sees the change.
        response = await client.get(f"/v1/node/{node_id(c)}?index={before['ModifyIndex']}&wait=2m")
    after = response.json()
    assert after["Status"] == "down"
    assert after["CreateIndex"] == before["CreateIndex"] < after["ModifyIndex"]


async def test_bad_query_options_and_methods(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        assert_plain_error(await client.get("/v1/nodes?index=x"), 400, "Invalid index")
        assert_plain_error(await client.get("/v1/nodes?wait=x"), 400, "Invalid wait time")
        assert_plain_error(await client.post("/v1/nodes"), 405, "Invalid method")


async def test_node_read_is_required_with_acls(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True, acl={"enabled": True})
    async with api(agent) as client:
        mgmt = (await client.post("/v1/acl/bootstrap")).json()["SecretID"]
        tokens = {}
        for name, rules in (
            ("nr", 'node { policy = "read" }'),
            ("ar", 'agent { policy = "read" }'),
        ):
            await client.post(
                f"/v1/acl/policy/{name}",
                json={"Name": name, "Rules": rules},
                headers={"X-Nomad-Token": mgmt},
            )
            made = await client.post(
                "/v1/acl/token",
                json={"Name": name, "Type": "client", "Policies": [name]},
                headers={"X-Nomad-Token": mgmt},
            )
            tokens[name] = made.json()["SecretID"]
        paths = ("/v1/nodes", f"/v1/node/{node_id(agent)}")
        for path in paths:
            assert_plain_error(await client.get(path), 403, "Permission denied")
            denied = await client.get(path, headers={"X-Nomad-Token": tokens["ar"]})
            assert_plain_error(denied, 403, "Permission denied")
            for secret in (tokens["nr"], mgmt):
                allowed = await client.get(path, headers={"X-Nomad-Token": secret})
                assert allowed.status_code == 200


async def test_a_follower_answers_from_its_replica_with_its_last_contact(
    world: SimAgents, api
) -> None:
    servers = [
        await world.add(name, server={"enabled": True, "bootstrap_expect": 2})
        for name in ("s1", "s2")
    ]
    await servers[1].join([str(world.serf_addr("s1"))])
    assert world.run_until(
        lambda: any(s.server is not None and s.server.raft.is_leader for s in servers), 30.0
    )
    follower = next(s for s in servers if s.server is not None and not s.server.raft.is_leader)
    rpcs = [s.listeners.rpc.advertise for s in servers]
    c = await world.add("c", client={"enabled": True, "servers": rpcs})
    assert follower.server is not None
    state = follower.server.rpc.state
    assert world.run_until(lambda: node_id(c) in state.nodes, 30.0)
    world.run(0.3)  # between two leader heartbeats
    async with api(follower) as client:
        response = await client.get("/v1/nodes")
    assert [n["ID"] for n in response.json()] == [node_id(c)]
    assert response.headers["X-Nomad-KnownLeader"] == "true"
    # Milliseconds since the leader's last contact: within one heartbeat interval (100 ms).
    assert 0 < int(response.headers["X-Nomad-LastContact"]) <= 100


async def test_no_leader_is_reported_in_the_headers(world: SimAgents, api) -> None:
    agent = await world.add("s", server={"enabled": True, "bootstrap_expect": 3})
    async with api(agent) as client:
        response = await client.get("/v1/nodes")
    assert (response.status_code, response.json()) == (200, [])
    assert response.headers["X-Nomad-KnownLeader"] == "false"
    assert response.headers["X-Nomad-Index"] == "0"


def test_node_entries_written_before_the_datacenter_field_still_decode() -> None:
    """A data dir's raft log from before this field keeps its node table."""
    old = msgpack.packb(["node", "id-1", "c1", "ready"])
    assert NodeRecord.decode(old) == NodeRecord("id-1", "c1", NodeStatus.READY, "")
    new = NodeRecord("id-1", "c1", NodeStatus.DOWN, "dc2")
    assert NodeRecord.decode(new.encode()) == new
    assert NodeRecord.decode(msgpack.packb(["node", "id", "c", "ready", "dc", "extra"])) is None
