"""The hypothesis strategies draw what they promise: valid names, small tags, plans that apply."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.testing import ClusterShape, FaultKind, FaultPlan, build_sim_cluster
from agent.testing.faults import ForceLeave, Kill, Leave, Restart
from agent.testing.strategies import (
    cluster_shapes,
    fault_plans,
    node_name_lists,
    node_names,
    nomad_tags,
    tags,
)

NAMES = ("n1", "n2", "n3", "n4")


@given(node_names())
def test_node_names_look_like_host_names(name: str) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9-]*", name) and len(name) <= 24


@given(node_name_lists(min_size=2, max_size=5))
def test_name_lists_are_distinct(names: list[str]) -> None:
    assert 2 <= len(names) <= 5 and len(set(names)) == len(names)


@given(tags())
def test_tags_fit_serf_meta(drawn: dict[str, str]) -> None:
    assert len(drawn) <= 4 and all(k for k in drawn)
    assert sum(len(k) + len(v) for k, v in drawn.items()) < 512


@given(nomad_tags())
def test_nomad_tags_name_a_nomad_server(drawn: dict[str, str]) -> None:
    assert drawn["role"] == "nomad" and int(drawn["port"]) >= 1024
    assert ("bootstrap" in drawn) != ("expect" in drawn)


@given(cluster_shapes(max_servers=4, max_clients=2))
def test_shapes_name_servers_and_clients(shape: ClusterShape) -> None:
    assert 1 <= shape.servers <= 4 and 0 <= shape.clients <= 2
    assert shape.gossip_names == shape.server_names
    assert shape.client_names == tuple(f"c{i}" for i in range(1, shape.clients + 1))


def _replay_states(plan: FaultPlan) -> None:
    """Walk the plan as the strategy promises: who runs and who is down at each step."""
    live, down = set(NAMES), set()
    for step in plan:
        fault = step.fault
        if isinstance(fault, Kill | Leave):
            assert fault.node in live
            live.discard(fault.node)
            if isinstance(fault, Kill):
                down.add(fault.node)
        elif isinstance(fault, Restart):
            assert fault.node in down and set(fault.join) <= live
            down.discard(fault.node)
            live.add(fault.node)
        elif isinstance(fault, ForceLeave):
            assert fault.node in down and fault.observer in live
            down.discard(fault.node)
        assert live, "a plan keeps at least one node running"


@settings(max_examples=60)
@given(fault_plans(NAMES, max_steps=10))
def test_plans_respect_the_state_they_build(plan: FaultPlan) -> None:
    assert len(plan) <= 10
    _replay_states(plan)


@settings(max_examples=15)
@given(plan=fault_plans(NAMES, max_steps=6, gaps=(0.0, 2.0, 10.0)), seed=st.integers(0, 99))
def test_every_drawn_plan_applies_to_a_cluster(plan: FaultPlan, seed: int) -> None:
    c = build_sim_cluster(seed=seed, nodes=NAMES)
    plan.run(c)  # raises on a fault the cluster cannot take
    assert c.live_nodes()


@given(fault_plans(NAMES, kinds={FaultKind.PARTITION, FaultKind.HEAL}))
def test_kinds_limit_what_is_drawn(plan: FaultPlan) -> None:
    assert plan.kinds() <= {FaultKind.PARTITION, FaultKind.HEAL}


def test_each_kind_is_reachable() -> None:
    from hypothesis import find

    for kind in FaultKind:
        plan = find(fault_plans(NAMES, max_steps=6), lambda p, k=kind: k in p.kinds())
        assert kind in plan.kinds()
