"""python-nomad's status, regions, operator, node and metrics calls against simulated agents
served on real loopback sockets (127.0.0.81+), ACL denials included.

The agents run on a `LoopThread`; python-nomad blocks in the test's thread, and virtual time
moves only when the test (or an agent command, such as a blocking query) runs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import nomad
import nomad.api.exceptions as nomad_errors
import pytest

from agent.launch.loop_thread import LoopThread
from agent.launch.sim_http import SimAgentsHttp
from agent.launch.simulated import SimAgents

BASE = "127.0.0.81"
SERVERS = ("s1", "s2", "s3")

Served = tuple[LoopThread, SimAgents, SimAgentsHttp]


@pytest.fixture
def served(sim_seed: int) -> Iterator[Served]:
    """Three servers (bootstrap_expect 3) with a leader, and a client registered with them."""
    thread = LoopThread()
    world = SimAgents(seed=sim_seed)
    http = SimAgentsHttp(world, bind_base=BASE, port=4646)

    async def build() -> None:
        for name in SERVERS:
            await world.add(name, server={"enabled": True, "bootstrap_expect": 3})
        for name in SERVERS[1:]:
            await world.agents[name].join([str(world.serf_addr("s1"))])
        servers = [world.agents[n].listeners.rpc.advertise for n in SERVERS]
        await world.add("c", client={"enabled": True, "servers": servers})
        client = world.agents["c"].client
        assert client is not None
        assert world.run_until(lambda: client.rpc.registered, 60.0)
        assert world.run_until(
            lambda: all(replicated(world, n, client.node_id) for n in SERVERS), 30.0
        )
        for name in (*SERVERS, "c"):
            http.serve(name)
        await http.start()

    try:
        thread.call(build)
        yield thread, world, http
    finally:
        thread.call(http.close)
        thread.close()


def replicated(world: SimAgents, name: str, node_id: str) -> bool:
    """Whether server `name` has applied the node's registration (followers learn the commit
    on the leader's next heartbeat)."""
    server = world.agents[name].server
    return server is not None and node_id in server.rpc.state.nodes


def api_of(http: SimAgentsHttp, name: str, token: str | None = None) -> nomad.Nomad:
    address = http.addresses[name]
    return nomad.Nomad(host=address.host, port=address.port, timeout=30, token=token)


def leader_name(world: SimAgents) -> str:
    return next(
        n for n in SERVERS if (s := world.agents[n].server) is not None and s.raft.is_leader
    )


def test_status_leader_peers_and_regions(served: Served) -> None:
    _, world, http = served
    leader = world.agents[leader_name(world)].listeners.rpc.advertise
    rpcs = {world.agents[n].listeners.rpc.advertise for n in SERVERS}
    for name in SERVERS:
        client = api_of(http, name)
        assert client.status.leader.get_leader() == leader
        assert set(client.status.peers.get_peers()) == rpcs
        assert client.regions.get_regions() == ["global"]


def test_operator_configuration_and_peer_removal(served: Served) -> None:
    thread, world, http = served
    leader = leader_name(world)
    client = api_of(http, leader)
    config = client.operator.get_configuration()
    assert {s["Node"] for s in config["Servers"]} == {f"{n}.global" for n in SERVERS}
    assert [s["Leader"] for s in config["Servers"]].count(True) == 1
    victim = next(n for n in SERVERS if n != leader)
    victim_rpc = world.agents[victim].listeners.rpc.advertise
    server = world.agents[leader].server
    assert server is not None
    thread.call_soon(lambda: world.crash(victim))
    assert thread.call_soon(
        lambda: world.run_until(
            lambda: any(
                m.name == f"{victim}.global" and m.status == "failed" for m in server.members()
            ),
            60.0,
        )
    )
    assert client.operator.delete_peer(victim_rpc) is True
    thread.call_soon(lambda: world.run(2.0))
    after = client.operator.get_configuration()
    assert victim_rpc not in {s["Address"] for s in after["Servers"]}
    assert after["Index"] > config["Index"]
    with pytest.raises(nomad_errors.BaseNomadException) as raised:
        client.operator.delete_peer("127.9.9.9:4647")
    assert "was not found in the Raft configuration" in raised.value.nomad_resp.text


def test_nodes_and_node(served: Served) -> None:
    _, world, http = served
    c = world.agents["c"].client
    assert c is not None
    client = api_of(http, "s2")
    nodes = client.nodes.get_nodes()
    assert [(n["ID"], n["Name"], n["Status"]) for n in nodes] == [(c.node_id, "c", "ready")]
    assert client.nodes.get_nodes(prefix=c.node_id[:6])[0]["ID"] == c.node_id
    node = client.node.get_node(c.node_id)
    assert (node["ID"], node["Datacenter"]) == (c.node_id, "dc1")
    with pytest.raises(nomad_errors.URLNotFoundNomadException):
        client.node.get_node("00000000-0000-0000-0000-000000000000")


def test_metrics(served: Served) -> None:
    _, _, http = served
    metrics = api_of(http, "s1").metrics.get_metrics()
    names = {g["Name"] for g in metrics["Gauges"]} | {c["Name"] for c in metrics["Counters"]}
    assert {"nomad.serf.members", "nomad.raft.term", "nomad.memberlist.probe.sent"} <= names


def test_acl_denials_through_python_nomad(sim_seed: int) -> None:
    thread = LoopThread()
    world = SimAgents(seed=sim_seed)
    http = SimAgentsHttp(world, bind_base="127.0.0.85", port=4646)

    async def build() -> None:
        await world.add("a", dev=True, acl={"enabled": True})
        http.serve("a")
        await http.start()

    try:
        thread.call(build)
        anonymous = api_of(http, "a")
        root = anonymous.acl.generate_bootstrap()["SecretID"]
        management = api_of(http, "a", token=root)
        for call in (
            anonymous.operator.get_configuration,
            anonymous.nodes.get_nodes,
            lambda: anonymous.operator.delete_peer("127.9.9.9:4647"),
        ):
            with pytest.raises(nomad_errors.URLNotAuthorizedNomadException):
                call()
        assert anonymous.status.leader.get_leader()  # status needs no token in Nomad 0.7
        assert len(management.nodes.get_nodes()) == 1
        assert len(management.operator.get_configuration()["Servers"]) == 1
    finally:
        thread.call(http.close)
        thread.close()
