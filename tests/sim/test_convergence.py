"""Joining: clusters of several sizes converge, every view agrees, join reports like serf."""

from __future__ import annotations

import pytest

from agent.sim import SimCluster
from tests.helpers.sim import all_see, eventually, joined_cluster


@pytest.mark.parametrize("n", [3, 10, 25])
def test_join_converges_to_all_alive(n: int) -> None:
    c = joined_cluster(n, seed=n)
    names = [f"n{i}" for i in range(1, n + 1)]
    assert all_see(c, names, "alive")
    for name in names:
        stats = c.stats(name)
        assert stats["members"] == str(n), c.describe_failure()
        assert stats["failed"] == "0" and stats["left"] == "0"
    assert c.converged()


def test_tags_travel_with_membership() -> None:
    c = joined_cluster(3, seed=11)
    for observer in ("n1", "n2", "n3"):
        tags = {m.name: m.tags for m in c.members(observer)}
        assert tags["n2"] == {"role": "test", "id": "2"}


def test_join_of_unreachable_address_reports_error_and_zero() -> None:
    c = SimCluster(seed=3)
    c.add_node("n1")
    joined = c.join("n1", ["127.9.9.9:7946"])
    assert joined == 0
    error = c.node("n1").last_join.error
    assert error is not None
    assert error.startswith("1 error occurred:\n\t* Failed to join 127.9.9.9: ")
    assert error.endswith("\n\n")


def test_partial_join_counts_successes_and_hides_errors() -> None:
    c = SimCluster(seed=4)
    c.add_node("n1")
    c.add_node("n2")
    assert c.join("n2", ["n1", "127.9.9.9:7946"]) == 1
    assert c.node("n2").last_join.error is None


def test_join_intent_advances_member_clock() -> None:
    c = joined_cluster(2, seed=5)
    c.run(2.0)  # the join intent rides the next gossip rounds
    # n2's join broadcast a join intent with LTime 1; both clocks witnessed it (1 -> 2).
    assert int(c.stats("n1")["member_time"]) >= 2
    assert int(c.stats("n2")["member_time"]) >= 2


def test_late_joiner_learns_everyone_through_push_pull() -> None:
    c = joined_cluster(5, seed=6)
    c.add_node("late")
    assert c.join("late", ["n3"]) == 1
    names = [f"n{i}" for i in range(1, 6)] + ["late"]
    # the joiner has everyone from the one push-pull, before any gossip round
    assert all_see(c, names, "alive", ["late"]), c.describe_failure()
    eventually(c, lambda: all_see(c, names, "alive"), 30.0, "everyone learns the late joiner")
