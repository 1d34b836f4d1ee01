"""SerfCore's restore hooks: a restarted node's clocks and incarnation (serf.Create with a
snapshot; memberlist's incarnation, which we persist though memberlist does not).

serf.Create increments each clock once and then witnesses the snapshot's time, so a clock
reads max(1, saved + 1), and events/queries at or below the saved times are dropped as seen
(eventMinTime / queryMinTime = saved + 1). The local incarnation starts at saved + 1.
"""

from __future__ import annotations

import pytest

from gossip import SerfCore, UsageError
from gossip.messages import Dead, JoinIntent, Query, UserEvent
from gossip.types import NodeState
from tests.helpers.core import (
    Net,
    alive,
    drain_broadcasts,
    drain_events,
    entry,
    inject,
    make_core,
    member_events,
    status,
    user,
    view,
)

A, B = "10.0.0.1", "10.0.0.2"
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


def times(core: SerfCore) -> tuple[str, str, str]:
    stats = core.stats()
    return (stats["member_time"], stats["event_time"], stats["query_time"])


# ---- clocks -------------------------------------------------------------------------------------


def test_a_new_core_starts_at_one_and_incarnation_one() -> None:
    a = make_core("a", A)
    assert a.clock_times == (1, 1, 1)
    assert a.incarnation == 1
    assert view(a, "a") == (NodeState.ALIVE, 1)


@pytest.mark.parametrize(
    ("restored", "expected"),
    [
        pytest.param((0, 0, 0), (1, 1, 1), id="zero-is-a-new-node"),
        pytest.param((1, 1, 1), (2, 2, 2), id="one"),
        pytest.param((10, 20, 30), (11, 21, 31), id="each-clock-its-own"),
        pytest.param((U64, 5, 0), (0, 6, 1), id="uint64-wraps-as-go"),
    ],
)
def test_restored_clocks_are_witnessed_after_the_first_increment(
    restored: tuple[int, int, int], expected: tuple[int, int, int]
) -> None:
    a = make_core("a", A, restored_clocks=restored)
    assert a.clock_times == expected
    assert times(a) == tuple(str(t) for t in expected)


def test_restored_member_clock_makes_the_join_intent_newer_than_the_old_leave() -> None:
    """The old run left with a leave intent at LTime 41 (its clock then read 42); the
    snapshot holds 41 (Time() - 1) and the restarted node's join intent carries 42."""
    net = Net()
    net.add("a", A, restored_clocks=(41, 0, 0))
    net.add("b", B)
    inject(net["b"], 0.0, user(JoinIntent(3, "a")))
    assert net.join("a", "b").num_joined == 1
    net.run(2.0)
    carried = [m for p in net.sent("a", JoinIntent) for m in p.serf]
    assert JoinIntent(42, "a") in carried


@pytest.mark.parametrize(
    ("ltime", "news"),
    [
        pytest.param(19, False, id="older"),
        pytest.param(20, False, id="the-saved-time"),
        pytest.param(21, True, id="newer"),
    ],
)
def test_user_events_up_to_the_restored_event_clock_are_not_delivered_again(
    ltime: int, news: bool
) -> None:
    a = make_core("a", A, restored_clocks=(0, 20, 0))
    inject(a, 1.0, user(UserEvent(ltime, "deploy", b"v1")))
    assert a.stats()["event_queue"] == ("1" if news else "0")


@pytest.mark.parametrize(
    ("ltime", "news"),
    [
        pytest.param(30, False, id="the-saved-time"),
        pytest.param(31, True, id="newer"),
    ],
)
def test_queries_up_to_the_restored_query_clock_are_dropped(ltime: int, news: bool) -> None:
    a = make_core("a", A, restored_clocks=(0, 0, 30))
    inject(a, 1.0, user(Query(ltime, 7, b"", 0, "zz", None, 0, 0, 0, "q", b"")))
    assert a.stats()["query_queue"] == ("1" if news else "0")


@pytest.mark.parametrize(
    "clocks",
    [
        pytest.param((-1, 0, 0), id="negative"),
        pytest.param((0, U64 + 1, 0), id="beyond-uint64"),
    ],
)
def test_restored_clocks_must_be_uint64(clocks: tuple[int, int, int]) -> None:
    with pytest.raises(UsageError, match="uint64"):
        make_core("a", A, restored_clocks=clocks)


# ---- incarnation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restored", "first"),
    [
        pytest.param(0, 1, id="new-node"),
        pytest.param(7, 8, id="one-above"),
        pytest.param(U32, 0, id="uint32-wraps"),
    ],
)
def test_the_local_incarnation_starts_above_the_restored_one(restored: int, first: int) -> None:
    a = make_core("a", A, restored_incarnation=restored)
    assert a.incarnation == first
    assert view(a, "a") == (NodeState.ALIVE, first)


@pytest.mark.parametrize("restored", [-1, U32 + 1])
def test_restored_incarnation_must_be_uint32(restored: int) -> None:
    with pytest.raises(UsageError, match="uint32"):
        make_core("a", A, restored_incarnation=restored)


def test_incarnation_tracks_refutes_and_tag_updates() -> None:
    a = make_core("a", A)
    a.set_tags(1.0, {"x": "1"})
    assert a.incarnation == 2
    inject(a, 2.0, Dead(5, "a", "b"))  # refuted with 6
    assert a.incarnation == 6 == view(a, "a")[1]


def failed_peer(old_incarnation: int) -> SerfCore:
    """Core b, which knew a (at `old_incarnation`) and saw it die."""
    b = make_core("b", B)
    inject(b, 1.0, alive("a", A, old_incarnation))
    inject(b, 2.0, Dead(old_incarnation, "a", "c"))
    drain_broadcasts(b, 2.0)
    drain_events(b)
    assert view(b, "a") == (NodeState.DEAD, old_incarnation)
    assert status(b, "a") == "failed"
    return b


def test_a_restored_nodes_first_alive_beats_its_old_dead_record() -> None:
    b = failed_peer(5)
    restarted = make_core("a", A, restored_incarnation=5)
    inject(b, 3.0, entry(restarted, "a").to_alive())
    assert view(b, "a") == (NodeState.ALIVE, 6)
    assert status(b, "a") == "alive"
    assert member_events(drain_events(b)) == [("member-join", "a")]


def test_without_a_restore_the_first_alive_is_ignored() -> None:
    """Why we persist the incarnation: memberlist's restarted node says 1, which is old news."""
    b = failed_peer(5)
    fresh = make_core("a", A)
    inject(b, 3.0, entry(fresh, "a").to_alive())
    assert view(b, "a") == (NodeState.DEAD, 5)
    assert status(b, "a") == "failed"


@pytest.mark.parametrize("restore", [True, False], ids=["restored", "fresh"])
def test_restart_rejoins_as_alive_in_one_push_pull_only_when_restored(restore: bool) -> None:
    """Whole cores: a's incarnation grows to 4, a dies, b marks it failed (its dead record
    is still in b's memberlist table). Restarted with what a snapshot holds, a is alive at
    b as soon as its join's push-pull is answered; restarted fresh, b still has it dead
    until a hears the accusation and refutes."""
    net = Net()
    a = net.add("a", A)
    net.add("b", B)
    assert net.join("a", "b").num_joined == 1
    net.run(5.0)
    for i in range(3):
        a.set_tags(net.now, {"i": str(i)})
    net.run(10.0)
    old_incarnation, old_clocks = a.incarnation, a.clock_times
    assert old_incarnation == 4
    net.down.add("a")
    net.run(20.0)
    assert status(net["b"], "a") == "failed"
    assert view(net["b"], "a") == (NodeState.DEAD, 4)
    if restore:
        saved = (old_clocks[0] - 1, old_clocks[1] - 1, old_clocks[2] - 1)
        restarted = net.restart("a", restored_clocks=saved, restored_incarnation=4)
        assert restarted.clock_times == old_clocks
    else:
        net.restart("a")
    assert net.join("a", "b").num_joined == 1
    if restore:
        assert view(net["b"], "a") == (NodeState.ALIVE, 5)
        assert status(net["b"], "a") == "alive"
    else:
        assert view(net["b"], "a") == (NodeState.DEAD, 4)
        assert status(net["b"], "a") == "failed"
