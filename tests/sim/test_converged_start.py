"""SimCluster.add_converged: a seeded cluster is in the state a finished join leaves.

The seeded start exists so benchmarks can skip the O(N^2) join storm; these tests check it
is a faithful shortcut: the same statuses, memberlist states, incarnations and Lamport
ordering as a cluster that really joined, and everything afterwards (crash detection, a later
joiner, a graceful leave) works as in a joined cluster.
"""

from __future__ import annotations

import pytest

from agent.sim import SimCluster
from gossip.timers import TimerKind
from gossip.types import NodeState

NAMES = [f"n{i}" for i in range(1, 9)]


def _joined() -> SimCluster:
    c = SimCluster(seed=3)
    for name in NAMES:
        c.add_node(name, {"role": "test"})
    for name in NAMES[1:]:
        c.join(name, ["n1"])
    assert c.run_until(c.converged, 60.0, poll=0.5), c.describe_failure()
    c.run(20.0)  # let the join's broadcasts drain
    return c


def _seeded() -> SimCluster:
    c = SimCluster(seed=3)
    c.add_converged(NAMES, {"role": "test"})
    return c


def _view(c: SimCluster, name: str) -> dict[str, tuple[str, NodeState, int, dict[str, str]]]:
    """Per member: serf status, memberlist state, incarnation, tags, as `name` sees them."""
    core = c.node(name).core
    table = core.swim.membership.node_map
    return {
        m.name: (m.status.value, table[m.name].state, table[m.name].incarnation, m.tags)
        for m in core.members()
    }


def test_seeded_views_match_joined_views() -> None:
    joined, seeded = _joined(), _seeded()
    assert seeded.converged()
    for name in NAMES:
        assert _view(seeded, name) == _view(joined, name), name


def test_seeded_serf_state_is_that_of_applied_join_intents() -> None:
    c = _seeded()
    cores = [c.node(name).core for name in NAMES]
    ltimes = {n: cores[0].table.states[n].status_ltime for n in NAMES}
    assert len(set(ltimes.values())) == len(NAMES)  # one join intent per member
    for core in cores:
        assert {n: m.status_ltime for n, m in core.table.states.items()} == ltimes
        assert core.clock.time() > max(ltimes.values())  # witnessed every intent
        assert not core.has_broadcasts() and not core.swim.broadcasts
        assert core.swim.membership.suspicions == {}


def test_seeded_push_pull_deadlines_spread_over_one_period() -> None:
    c = _seeded()
    at = [c.node(name).core.swim.deadlines.get(TimerKind.PUSH_PULL) for name in NAMES]
    assert all(a is not None and 0.0 <= a <= 30.0 for a in at)  # 8 nodes: unscaled 30 s
    assert len(set(at)) == len(at)


def test_seeded_cluster_detects_a_crash() -> None:
    c = _seeded()
    c.run(5.0)
    c.kill("n4")
    survivors = [n for n in NAMES if n != "n4"]
    assert c.run_until(
        lambda: all(c.statuses(n)["n4"] == "failed" for n in survivors), 60.0, poll=0.5
    ), c.describe_failure()
    assert c.converged()


def test_later_joiner_converges_with_a_seeded_cluster() -> None:
    c = _seeded()
    c.run(2.0)
    c.add_node("late", {"role": "test"})
    assert c.join("late", ["n5"]) == 1
    assert c.run_until(c.converged, 60.0, poll=0.5), c.describe_failure()
    assert set(c.statuses("n1")) == {*NAMES, "late"}
    assert set(c.statuses("late").values()) == {"alive"}


def test_graceful_leave_from_a_seeded_cluster_shows_left() -> None:
    c = _seeded()
    c.run(2.0)
    assert c.leave("n2") is None
    assert c.run_until(
        lambda: all(c.statuses(n)["n2"] == "left" for n in NAMES if n != "n2"), 30.0, poll=0.5
    ), c.describe_failure()


def test_seeded_runs_are_deterministic() -> None:
    digests = []
    for _ in range(2):
        c = _seeded()
        c.run(10.0)
        c.kill("n8")
        c.run(30.0)
        digests.append(c.trace_digest())
    assert digests[0] == digests[1]


def test_add_converged_refuses_taken_or_repeated_names() -> None:
    c = SimCluster(seed=1)
    c.add_node("a")
    with pytest.raises(ValueError, match="already exists"):
        c.add_converged(["b", "a"])
    with pytest.raises(ValueError, match="distinct"):
        c.add_converged(["b", "b"])
    assert [n.name for n in c.nodes] == ["a"]


def test_add_converged_leaves_existing_nodes_alone() -> None:
    c = SimCluster(seed=1)
    c.add_node("solo")
    c.add_converged(["a", "b", "c"])
    assert set(c.statuses("solo")) == {"solo"}
    assert set(c.statuses("a")) == {"a", "b", "c"}
