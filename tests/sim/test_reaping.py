"""Reaping: failed after ReconnectTimeout, left after TombstoneTimeout, one reap event each."""

from __future__ import annotations

from tests.helpers.sim import all_see, eventually, first_event, joined_cluster


def test_failed_member_is_reaped_after_reconnect_timeout() -> None:
    c = joined_cluster(3, seed=51, reconnect_timeout=60.0)
    c.kill("n3")
    eventually(c, lambda: all_see(c, ["n3"], "failed", ["n1", "n2"]), 60.0, "n3 failed")
    failed_at = first_event(c, "member-failed", "n3")
    assert failed_at is not None
    eventually(c, lambda: "n3" not in c.statuses("n1"), 120.0, "n3 reaped")
    reaped_at = first_event(c, "member-reap", "n3")
    assert reaped_at is not None
    # ReconnectTimeout, checked every ReapInterval (15 s)
    assert 60.0 < reaped_at - failed_at <= 60.0 + 15.0 + 1.0
    reaps = [e for e in c.events if e[2] == "member-reap" and e[3] == "n3" and e[1] == "n1"]
    assert len(reaps) == 1


def test_left_member_is_reaped_after_tombstone_timeout() -> None:
    c = joined_cluster(3, seed=52, tombstone_timeout=45.0)
    c.leave("n2")
    eventually(c, lambda: all_see(c, ["n2"], "left", ["n1", "n3"]), 10.0, "n2 left")
    eventually(c, lambda: "n2" not in c.statuses("n1"), 90.0, "n2 reaped")
    assert c.stats("n1")["left"] == "0"
    assert c.stats("n1")["members"] == "2"
