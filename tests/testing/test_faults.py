"""Faults do what they say, and their Python says the same: a replay script depends on it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.sim import SimCluster
from agent.testing import (
    Block,
    FaultKind,
    FaultPlan,
    ForceLeave,
    Heal,
    Kill,
    Latency,
    Leave,
    Loss,
    Partition,
    Pause,
    Restart,
    Step,
    build_sim_cluster,
)

NODES = ["n1", "n2", "n3", "n4"]

EVERY_KIND = FaultPlan(
    (
        Step(0.0, Loss(0.05)),
        Step(2.0, Latency(0.01, 0.001)),
        Step(2.0, Pause("n2", 3.0)),
        Step(5.0, Kill("n3")),
        Step(30.0, ForceLeave("n1", "n3", prune=False)),
        Step(1.0, Partition((("n1",), ("n2", "n4")), symmetric=False)),
        Step(10.0, Heal()),
        Step(0.0, Block("n4", "n1")),
        Step(10.0, Heal()),
        Step(0.0, Kill("n4")),
        Step(5.0, Restart("n4", join=("n1",))),
        Step(5.0, Leave("n2")),
    ),
    settle=20.0,
)


def cluster(seed: int) -> SimCluster:
    return build_sim_cluster(seed=seed, nodes=NODES)


def test_the_example_plan_has_every_kind() -> None:
    assert EVERY_KIND.kinds() == set(FaultKind)
    assert EVERY_KIND.duration == pytest.approx(90.0)


def test_the_code_of_a_plan_replays_it_exactly(sim_seed: int) -> None:
    played = cluster(sim_seed)
    EVERY_KIND.run(played)
    replayed = cluster(sim_seed)
    exec("\n".join(EVERY_KIND.code("c")), {"c": replayed, "replace": replace})
    assert replayed.trace_digest() == played.trace_digest()
    assert replayed.now == played.now


def test_faults_act_on_the_cluster(sim_seed: int) -> None:
    c = cluster(sim_seed)
    EVERY_KIND.run(c)
    assert c.live_nodes() == ["n1", "n4"]  # n2 left and shut down, n3 killed
    assert c.node("n4").restarts == 1
    assert c.network.conditions.loss == 0.05
    assert c.network.conditions.latency_min == 0.01
    assert c.statuses("n1")["n2"] == "left"
    assert c.statuses("n1")["n3"] == "left"  # force-left while down


def test_partition_code_keeps_the_groups_and_direction() -> None:
    fault = Partition((("a", "b"), ("c",)), symmetric=False)
    assert fault.code("x") == "x.partition(['a', 'b'], ['c'], symmetric=False)"
    assert Restart("a").code() == "c.restart('a')"
    assert Restart("a", ("b",)).code() == "c.restart('a'); c.join('a', ['b'])"


@pytest.mark.parametrize(
    "make",
    [lambda: Loss(1.5), lambda: Loss(-0.1), lambda: Latency(-1.0), lambda: Step(-1.0, Heal())],
)
def test_bad_values_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_faults_are_frozen_values() -> None:
    assert Kill("a") == Kill("a") and hash(Kill("a")) == hash(Kill("a"))
    with pytest.raises(AttributeError):
        Kill("a").node = "b"  # type: ignore[misc]


def test_agent_testing_imports_without_hypothesis_or_pytest() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agent.testing; "
        "print(sorted({'hypothesis', 'pytest', 'nomad'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
