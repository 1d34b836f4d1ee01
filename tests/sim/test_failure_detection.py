"""Crash detection: completeness, no false positives, refutation, restarts."""

from __future__ import annotations

import pytest

from gossip.messages import Suspect
from gossip.timing import suspicion_timeout
from gossip.types import NodeState
from tests.helpers.sim import all_see, eventually, first_event, joined_cluster

LAN_PROBE_INTERVAL = 1.0
LAN_SUSPICION_MULT = 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_crashed_node_is_failed_everywhere_in_bounded_time(seed: int) -> None:
    n = 6
    c = joined_cluster(n, seed=seed)
    killed_at = c.now
    c.kill("n4")
    survivors = [f"n{i}" for i in range(1, n + 1) if i != 4]
    min_timeout = suspicion_timeout(LAN_SUSPICION_MULT, n, LAN_PROBE_INTERVAL)
    max_timeout = 6 * min_timeout
    # detection (a probe round over n nodes) + max suspicion + dissemination
    bound = n * LAN_PROBE_INTERVAL + max_timeout + 5.0
    eventually(c, lambda: all_see(c, ["n4"], "failed", survivors), bound, "n4 failed everywhere")
    first = first_event(c, "member-failed", "n4", since=killed_at)
    assert first is not None
    # never declared dead before the minimum suspicion timeout has run
    assert first - killed_at >= min_timeout, c.describe_failure()


def test_no_false_positives_without_faults() -> None:
    c = joined_cluster(8, seed=21)
    c.run(300.0)
    assert not [e for e in c.events if e[2] == "member-failed"], c.describe_failure()
    assert all(c.stats(f"n{i}")["health_score"] == "0" for i in range(1, 9))


def test_restarted_node_comes_back_alive_with_new_incarnation() -> None:
    c = joined_cluster(4, seed=8)
    c.kill("n2")
    eventually(c, lambda: all_see(c, ["n2"], "failed", ["n1", "n3", "n4"]), 60.0, "n2 failed")
    c.restart("n2")
    assert c.join("n2", ["n1"]) == 1
    names = ["n1", "n2", "n3", "n4"]
    eventually(c, lambda: all_see(c, names, "alive"), 90.0, "n2 alive again")


def test_restart_while_suspected_refutes_with_higher_incarnation() -> None:
    c = joined_cluster(4, seed=9)
    table = c.node("n1").core.swim.membership.node_map
    before = table["n3"].incarnation
    c.kill("n3")
    eventually(c, lambda: table["n3"].state == NodeState.SUSPECT, 30.0, "n1 suspects n3")
    c.restart("n3")
    assert c.join("n3", ["n1"]) == 1
    names = ["n1", "n2", "n3", "n4"]
    eventually(c, lambda: table["n3"].incarnation > before, 10.0, "n3's refutation reaches n1")
    assert table["n3"].state == NodeState.ALIVE
    eventually(c, lambda: all_see(c, names, "alive"), 60.0, "all alive")
    assert first_event(c, "member-failed", "n3") is None, c.describe_failure()


def test_suspected_live_node_refutes_with_higher_incarnation() -> None:
    c = joined_cluster(5, seed=10)
    node = c.node("n1").core.swim.membership
    old_inc = node.node_map["n2"].incarnation
    # n1 accuses n2 (as if a probe had failed); n2 hears it and refutes.
    node.apply_suspect(c.now, Suspect(old_inc, "n2", "n1"))
    c.node("n1").process.flush()
    eventually(
        c,
        lambda: (
            node.node_map["n2"].incarnation > old_inc
            and node.node_map["n2"].state == NodeState.ALIVE
        ),
        10.0,
        "refutation reaches n1",
    )
    c.run(30.0)
    assert all_see(c, ["n2"], "alive")
