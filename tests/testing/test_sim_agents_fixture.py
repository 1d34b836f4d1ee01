"""The `sim_agents` fixture: real agents in virtual time behind real loopback HTTP sockets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from agent.testing import SimAgentsCluster
from tests.helpers.api import member_statuses

Factory = Callable[..., SimAgentsCluster]


def get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def http_statuses(cluster: SimAgentsCluster, name: str) -> dict[str, str]:
    status, body = get(f"{cluster.http(name)}/v1/agent/members")
    assert status == 200, body
    assert isinstance(body, dict)
    return member_statuses(body)


ALL_ALIVE = {"s1.global": "alive", "s2.global": "alive", "s3.global": "alive"}


def test_servers_and_clients_answer_on_their_own_addresses(
    sim_agents: Factory, agent_bind_base: str
) -> None:
    c = sim_agents(servers=3, clients=1)
    assert c.names == ["s1", "s2", "s3", "c1"]
    assert c.http("s1") == f"http://{agent_bind_base}:4646"
    for name in c.names:  # the client forwards /v1/agent/members to a server
        assert http_statuses(c, name) == ALL_ALIVE
    leaders = {c.leader(n) for n in ("s1", "s2", "s3")}
    assert len(leaders) == 1 and None not in leaders
    status, health = get(f"{c.http('c1')}/v1/agent/health")
    assert status == 200, health


def test_time_moves_only_when_the_test_runs_it(sim_agents: Factory) -> None:
    c = sim_agents(servers=3)
    c.kill("s3")
    before = c.now
    assert http_statuses(c, "s1")["s3.global"] == "alive"  # nobody noticed yet
    assert c.now == before
    c.run(0.5)
    assert c.now == before + 0.5
    assert c.run_until(lambda: _status(c, "s1", "s3.global") == "failed", 60.0)
    assert http_statuses(c, "s1")["s3.global"] == "failed"  # the state at that very moment
    assert c.statuses("s1")["s3.global"] == "failed"


def _status(c: SimAgentsCluster, observer: str, member: str) -> str:
    server = c.agent(observer).server
    assert server is not None
    return {m.name: m.status for m in server.members()}.get(member, "")


def test_a_killed_agent_answers_503_until_restarted(sim_agents: Factory) -> None:
    c = sim_agents(servers=3)
    c.kill("s2")
    status, body = get(f"{c.http('s2')}/v1/agent/self")
    assert status == 503 and "down" in str(body)
    c.restart("s2")
    status, _ = get(f"{c.http('s2')}/v1/agent/self")
    assert status == 200
    assert c.run_until(lambda: _status(c, "s1", "s2.global") == "alive", 30.0)
    assert c.statuses("s2") == ALL_ALIVE


def test_python_nomad_force_leaves_a_crashed_server(sim_agents: Factory) -> None:
    c = sim_agents(servers=3)
    client = c.nomad("s1")
    c.kill("s3")
    assert c.run_until(lambda: _status(c, "s1", "s3.global") == "failed", 60.0)
    client.agent.force_leave("s3.global")
    assert http_statuses(c, "s1")["s3.global"] == "left"


def test_force_leave_and_leave_through_the_handle(sim_agents: Factory) -> None:
    c = sim_agents(servers=3)
    c.leave("s3")
    assert c.statuses("s1")["s3.global"] == "left"
    c.kill("s2")
    c.run_until(lambda: _status(c, "s1", "s2.global") == "failed", 60.0)
    c.force_leave("s1", "s2")
    assert c.statuses("s1")["s2.global"] == "left"


def test_a_partition_fails_the_other_side_and_heal_brings_it_back(sim_agents: Factory) -> None:
    c = sim_agents(servers=3)
    c.partition(["s1", "s2"], ["s3"])
    assert c.run_until(
        lambda: (
            _status(c, "s1", "s3.global") == "failed" and _status(c, "s3", "s1.global") == "failed"
        ),
        60.0,
    )
    assert c.statuses("s2")["s1.global"] == "alive"  # the majority side still sees itself
    c.heal()
    assert c.run_until(
        lambda: (
            all(_status(c, o, "s3.global") == "alive" for o in ("s1", "s2"))
            and _status(c, "s3", "s1.global") == "alive"
        ),
        120.0,
    )


def test_the_same_seed_gives_the_same_cluster(sim_agents: Factory) -> None:
    def run(seed: int) -> tuple[float, str | None, str]:
        c = sim_agents(servers=2, clients=1, seed=seed)
        client = c.agent("c1").client
        assert client is not None
        leader = c.leader("s1")
        c.kill("s2")
        assert c.run_until(lambda: _status(c, "s1", "s2.global") == "failed", 60.0)
        return c.now, leader, client.node_id

    first, again, other = run(9), run(9), run(10)
    assert first[1] is not None
    assert first == again  # the same virtual moment, leader and drawn node ID
    assert first[2] != other[2]  # and the seed is what decides them


def test_the_handle_refuses_a_cluster_without_servers(sim_agents: Factory) -> None:
    with pytest.raises(ValueError, match="at least one server"):
        sim_agents(servers=0, clients=1)


def test_unconverged_returns_before_any_election(sim_agents: Factory) -> None:
    c = sim_agents(servers=3, converged=False)
    assert c.leader("s1") is None
    assert c.run_until(lambda: c.leader("s1") is not None, 60.0)
    assert c.call(lambda: c.agent("s2").server is not None)
