"""The `sim_cluster` fixture: Nomad servers as serf nodes, plain nodes, joined or not, seeded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.sim import SimCluster
from agent.testing import build_sim_cluster, seed_for

Factory = Callable[..., SimCluster]


def test_default_is_three_converged_nomad_servers(sim_cluster: Factory, sim_seed: int) -> None:
    c = sim_cluster()
    assert c.seed == sim_seed
    assert [n.name for n in c.nodes] == ["s1", "s2", "s3"]
    for name in ("s1", "s2", "s3"):
        assert c.statuses(name) == {"s1": "alive", "s2": "alive", "s3": "alive"}
    tags = c.node("s2").tags
    assert tags["role"] == "nomad" and tags["region"] == "global" and tags["expect"] == "3"
    assert c.now == 0.0  # converged without simulating the joins


def test_a_single_server_bootstraps_itself(sim_cluster: Factory) -> None:
    c = sim_cluster(servers=1)
    assert c.node("s1").tags["bootstrap"] == "1" and "expect" not in c.node("s1").tags


def test_plain_nodes_carry_no_tags(sim_cluster: Factory) -> None:
    c = sim_cluster(nodes=["a", "b"])
    assert [n.name for n in c.nodes] == ["a", "b"]
    assert c.node("a").tags == {} and c.converged()


def test_unconverged_nodes_are_not_joined(sim_cluster: Factory) -> None:
    c = sim_cluster(servers=2, converged=False)
    assert c.statuses("s1") == {"s1": "alive"}
    c.join("s2", ["s1"])
    assert c.statuses("s1") == {"s1": "alive", "s2": "alive"}


def test_clients_are_refused_with_the_reason(sim_cluster: Factory) -> None:
    with pytest.raises(ValueError, match=r"clients do not gossip.*sim_agents"):
        sim_cluster(clients=2)


def test_knobs_and_profile_reach_serf(sim_cluster: Factory) -> None:
    c = sim_cluster(profile="wan", reconnect_timeout=123.0)
    assert c.profile == "wan" and c.config.reconnect_timeout == 123.0


def test_an_explicit_seed_wins(sim_cluster: Factory) -> None:
    assert sim_cluster(seed=42).seed == 42


def test_the_default_seed_is_the_crc_of_the_node_id(
    sim_seed: int, request: pytest.FixtureRequest
) -> None:
    assert sim_seed == seed_for(request.node.nodeid)


def test_seed_for_is_stable_and_distinguishes_tests() -> None:
    import zlib

    assert seed_for("tests/x.py::test_y") == zlib.crc32(b"tests/x.py::test_y")
    assert seed_for("tests/x.py::test_y") != seed_for("tests/x.py::test_z")


@pytest.mark.sim_seed(1234)
def test_the_marker_pins_a_seed(sim_seed: int, request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--sim-seed") is None:
        assert sim_seed == 1234


def test_same_seed_same_run() -> None:
    def run(seed: int) -> str:
        c = build_sim_cluster(seed=seed, servers=4)
        c.kill("s3")
        c.run(30.0)
        return c.trace_digest()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_the_replay_command_quotes_parametrized_ids() -> None:
    from agent.testing import replay_command

    command = replay_command("tests/x.py::test_y[a b-1]", 7)
    assert command == "python -m pytest 'tests/x.py::test_y[a b-1]' --sim-seed=7"
