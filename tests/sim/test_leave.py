"""Graceful leave and force-leave, including serf's quirks (serf.go `Leave`, `forceLeave`,
`handleNodeLeaveIntent`)."""

from __future__ import annotations

from agent.sim import SimCluster
from tests.helpers.sim import all_see, eventually, first_event, joined_cluster


def test_graceful_leave_is_left_everywhere_never_failed() -> None:
    c = joined_cluster(5, seed=31)
    started = c.now
    assert c.leave("n3") is None
    took = c.now - started
    assert 1.0 <= took <= 5.0  # intent + dead broadcasts, then LeavePropagateDelay (1 s)
    others = ["n1", "n2", "n4", "n5"]
    eventually(c, lambda: all_see(c, ["n3"], "left", others), 10.0, "n3 left everywhere")
    assert first_event(c, "member-failed", "n3") is None, c.describe_failure()
    c.run(60.0)
    assert all_see(c, ["n3"], "left", others)
    assert all(c.stats(o)["left"] == "1" for o in others)


def test_leave_of_lonely_node_returns_at_once() -> None:
    c = SimCluster(seed=32)
    c.add_node("solo")
    assert c.leave("solo", shutdown=False) is None
    assert c.statuses("solo") == {"solo": "left"}


def test_second_leave_reports_serf_error() -> None:
    c = joined_cluster(3, seed=33)
    core = c.node("n2").core
    core.leave(c.now)
    token = core.leave(c.now)
    events = []
    while (e := core.next_event()) is not None:
        events.append(e)
    assert any(
        getattr(e, "token", None) == token and e.error == "Leave already in progress"
        for e in events
    )


def test_force_leave_of_failed_node_makes_it_left_everywhere() -> None:
    c = joined_cluster(5, seed=34)
    c.kill("n5")
    survivors = ["n1", "n2", "n3", "n4"]
    eventually(c, lambda: all_see(c, ["n5"], "failed", survivors), 60.0, "n5 failed")
    before = c.stats("n1")
    assert c.force_leave("n1", "n5") is None
    after = c.stats("n1")
    assert int(after["failed"]) == int(before["failed"]) - 1
    assert int(after["left"]) == int(before["left"]) + 1
    eventually(c, lambda: all_see(c, ["n5"], "left", survivors), 10.0, "n5 left everywhere")
    # no more reconnect attempts: nothing failed remains to retry
    assert all(c.node(s).core.table.failed == [] for s in survivors)
    c.run(120.0)
    assert all_see(c, ["n5"], "left", survivors)


def test_force_leave_prune_erases_failed_node() -> None:
    c = joined_cluster(4, seed=35)
    c.kill("n4")
    survivors = ["n1", "n2", "n3"]
    eventually(c, lambda: all_see(c, ["n4"], "failed", survivors), 60.0, "n4 failed")
    assert c.force_leave("n1", "n4", prune=True) is None
    eventually(
        c, lambda: all("n4" not in c.statuses(s) for s in survivors), 15.0, "n4 pruned everywhere"
    )
    assert first_event(c, "member-reap", "n4") is not None
    assert c.stats("n1")["members"] == "3"


def test_force_leave_of_live_node_is_refuted_back_to_alive() -> None:
    c = joined_cluster(4, seed=36)
    c.run(5.0)  # let the join intents spread, or the force-leave's LTime may tie with them
    time_before = int(c.stats("n3")["member_time"])
    assert c.force_leave("n1", "n3") is None
    names = ["n1", "n2", "n3", "n4"]
    eventually(c, lambda: all_see(c, ["n3"], "alive"), 10.0, "n3 refutes the force-leave")
    assert all_see(c, names, "alive")
    assert int(c.stats("n3")["member_time"]) > time_before


def test_force_leave_with_only_one_other_alive_member_sticks_at_leaving() -> None:
    # serf quirk: the local change happens first, so no alive member is left to tell.
    c = joined_cluster(2, seed=37)
    assert c.force_leave("n1", "n2") is None
    c.run(60.0)
    assert c.statuses("n1")["n2"] == "leaving"
    assert c.statuses("n2")["n2"] == "alive"


def test_force_leave_of_unknown_name_buffers_intent_only() -> None:
    c = joined_cluster(3, seed=38)
    assert c.force_leave("n1", "ghost") is None
    c.run(5.0)
    assert all("ghost" not in c.statuses(n) for n in ("n1", "n2", "n3"))
    assert "ghost" in c.node("n1").core.table.recent_intents
    c.run(330.0)  # RecentIntentTimeout (5 min), checked each ReapInterval
    assert "ghost" not in c.node("n1").core.table.recent_intents


def test_node_joining_after_force_leave_of_its_name_shows_leaving_then_alive() -> None:
    c = joined_cluster(3, seed=39)
    assert c.force_leave("n1", "ghost") is None
    c.run(2.0)
    c.add_node("ghost")
    assert c.join("ghost", ["n2"]) == 1
    saw_leaving = c.run_until(lambda: c.statuses("n1").get("ghost") == "leaving", 5.0)
    eventually(c, lambda: all_see(c, ["ghost"], "alive"), 15.0, "ghost alive after its join intent")
    assert saw_leaving or first_event(c, "member-join", "ghost") is not None
