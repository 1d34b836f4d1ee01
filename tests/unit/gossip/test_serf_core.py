"""The serf layer in virtual time: stats, intents and Lamport clocks, leave, force-leave,
reaping and reconnecting, tags (serf serf.go, lamport.go, messages.go).

The serf 0.9.4 sources (Debian's golang-github-hashicorp-serf-dev, serf/serf.go) are the
authority; where they surprise, the tests follow them and say so.
"""

from __future__ import annotations

import msgpack
import pytest

from gossip import (
    ForceLeaveCompleted,
    JoinCompleted,
    LeaveCompleted,
    MemberEventType,
    SerfCore,
    UsageError,
)
from gossip.codec import decode_serf, decode_stream, encode_serf, encode_stream
from gossip.messages import (
    Dead,
    JoinIntent,
    LeaveIntent,
    Ping,
    PushPull,
    SerfPushPull,
    UserMsg,
)
from gossip.types import NodeState, ip_to_bytes
from tests.helpers.core import (
    PROBER,
    QUIET,
    Net,
    alive,
    decode_errors,
    drain_broadcasts,
    drain_events,
    entry,
    inject,
    make_core,
    member,
    member_events,
    messages,
    piggyback,
    status,
    user,
    view,
)

A, B, C, Z = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.26"
EPS = 1e-6
TAGS = {"role": "server", "dc": "dc1"}


def serf_state(core: SerfCore, now: float) -> SerfPushPull:
    """The serf user state `core` would push: an empty push-pull pulls it out unchanged."""
    request = encode_stream(PushPull(False, (), b""), compress=False)
    reply = decode_stream(core.handle_stream(now, PROBER, request))
    state = decode_serf(reply.user_state)
    assert isinstance(state, SerfPushPull)
    return state


def status_ltime(core: SerfCore, name: str, now: float) -> int:
    return serf_state(core, now).status_ltimes[name]


def pair(**overrides: object) -> Net:
    net = Net()
    net.add("a", A, tags=TAGS, **overrides)
    net.add("b", B, **overrides)
    assert net.join("a", "b").num_joined == 1
    net.run(10.0)
    return net


def knowing(*names_ips: tuple[str, str], **overrides: object) -> SerfCore:
    """Core a that heard alive messages for the given nodes; nothing queued, no events."""
    a = make_core("a", A, **{**QUIET, **overrides})
    for name, ip in names_ips:
        inject(a, 1.0, alive(name, ip, 1))
    drain_broadcasts(a, 1.0)
    drain_events(a)
    return a


# ---- stats --------------------------------------------------------------------------------------


def test_stats_of_a_fresh_core() -> None:
    a = make_core("a", A, tags=TAGS)
    assert a.stats() == {
        "members": "1",
        "failed": "0",
        "left": "0",
        "health_score": "0",
        "member_time": "1",
        "event_time": "1",
        "query_time": "1",
        "intent_queue": "0",
        "event_queue": "0",
        "query_queue": "0",
        "encrypted": "false",
        "coordinate_resets": "0",
    }
    assert member_events(drain_events(a)) == [("member-join", "a")]  # memberlist's bootstrap


def test_stats_count_members_by_status() -> None:
    a = knowing(("b", B), ("c", C), ("d", "10.0.0.4"))
    inject(a, 2.0, Dead(1, "c", "x"))  # failed
    inject(a, 2.0, user(LeaveIntent(5, "d")), Dead(1, "d", "d"))  # leaving, then left
    inject(a, 2.0, user(LeaveIntent(6, "b")))  # leaving is counted in neither
    stats = a.stats()
    assert (stats["members"], stats["failed"], stats["left"]) == ("4", "1", "1")
    assert {m.name: str(m.status) for m in a.members()} == {
        "a": "alive",
        "b": "leaving",
        "c": "failed",
        "d": "left",
    }


# ---- join intent and Lamport clocks -------------------------------------------------------------


def test_successful_join_broadcasts_a_join_intent_with_the_member_clock() -> None:
    net = Net()
    a = net.add("a", A)
    b = net.add("b", B)
    assert net.join("a", "b").num_joined == 1
    # JoinIntent{LTime: clock.Time() = 1}, witnessed: the clock moves to 2
    assert a.stats()["member_time"] == "2"
    assert a.stats()["intent_queue"] == "1"
    assert status_ltime(a, "a", net.now) == 1
    net.run(2.0)
    carried = [m for p in net.sent("a", JoinIntent) for m in p.serf]
    assert JoinIntent(1, "a") in carried
    assert status_ltime(b, "a", net.now) == 1
    assert b.stats()["member_time"] == "2"  # witnessed on receipt


def test_join_after_leave_is_refused_with_serfs_plain_error() -> None:
    """serf.go Join: fmt.Errorf("Serf can't Join after Leave or Shutdown"), no multierror."""
    a = make_core("a", A)
    a.leave(1.0)
    a.handle_timer(3.0)
    token = a.join(4.0, [PROBER])
    [done] = [e for e in drain_events(a) if isinstance(e, JoinCompleted)]
    assert (done.token, done.num_joined) == (token, 0)
    assert done.errors == ("Serf can't Join after Leave or Shutdown",)
    assert done.error == "Serf can't Join after Leave or Shutdown"
    assert a.streams_to_open() == []


@pytest.mark.parametrize(
    ("seen", "clock"),
    [
        pytest.param([0], 1, id="older-than-clock"),
        pytest.param([1], 2, id="equal-moves-past"),
        pytest.param([5], 6, id="newer-jumps"),
        pytest.param([5, 3], 6, id="never-goes-back"),
        pytest.param([5, 6, 6], 7, id="repeat"),
        pytest.param([(1 << 64) - 1], 0, id="uint64-wraps-as-go"),
    ],
)
def test_intents_are_witnessed(seen: list[int], clock: int) -> None:
    """LamportClock.Witness: if t >= current then current = t + 1 (a Go uint64)."""
    a = make_core("a", A)
    for i, t in enumerate(seen):
        inject(a, 1.0, user(JoinIntent(t, f"unknown{i}")))
    assert a.stats()["member_time"] == str(clock)


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        pytest.param((10, 20, 30), ("10", "20", "30"), id="remote-minus-one"),
        pytest.param((1, 1, 1), ("1", "1", "1"), id="one-is-not-news"),
        pytest.param((0, 0, 0), ("1", "1", "1"), id="zero"),
    ],
)
def test_push_pull_witnesses_the_remote_clocks_minus_one(
    remote: tuple[int, int, int], expected: tuple[str, str, str]
) -> None:
    a = make_core("a", A)
    state = SerfPushPull(ltime=remote[0], event_ltime=remote[1], query_ltime=remote[2])
    request = PushPull(False, (), encode_serf(state))
    a.handle_stream(1.0, PROBER, encode_stream(request, compress=True))
    stats = a.stats()
    assert (stats["member_time"], stats["event_time"], stats["query_time"]) == expected


def test_join_through_push_pull_witnesses_the_seeds_clock() -> None:
    net = Net()
    a = net.add("a", A)
    b = net.add("b", B)
    inject(b, 0.0, user(JoinIntent(9, "someone")))  # b's clock: 10
    net.join("a", "b")
    # a witnessed 10 - 1 = 9 (clock 10), then announced itself at 10 (clock 11)
    assert a.stats()["member_time"] == "11"
    assert status_ltime(a, "a", net.now) == 10


# ---- intents: ordering, buffering, rebroadcast (serf.go: handleNodeJoinIntent, ...LeaveIntent) ---


def with_b_at(ltime: int) -> SerfCore:
    """Core a knowing b, whose last applied intent has LTime `ltime`."""
    a = knowing(("b", B))
    inject(a, 1.0, user(JoinIntent(ltime, "b")))
    drain_broadcasts(a, 1.0)
    assert status_ltime(a, "b", 1.0) == ltime
    return a


INTENT_ROWS = {
    # (intents fed in order, b's status after, b's status LTime after, last one re-broadcast)
    "join-equal-ignored": ([JoinIntent(4, "b")], "alive", 4, False),
    "join-older-ignored": ([JoinIntent(3, "b")], "alive", 4, False),
    "join-newer-applied": ([JoinIntent(5, "b")], "alive", 5, True),
    "leave-equal-ignored": ([LeaveIntent(4, "b")], "alive", 4, False),
    "leave-older-ignored": ([LeaveIntent(2, "b")], "alive", 4, False),
    "leave-newer-applied": ([LeaveIntent(5, "b")], "leaving", 5, True),
    "leaving-back-to-alive": ([LeaveIntent(5, "b"), JoinIntent(6, "b")], "alive", 6, True),
    "leaving-stays-on-equal-join": ([LeaveIntent(5, "b"), JoinIntent(5, "b")], "leaving", 5, False),
}


@pytest.mark.parametrize(
    ("intents", "after", "ltime", "rebroadcast"), INTENT_ROWS.values(), ids=INTENT_ROWS.keys()
)
def test_intent_ordering_by_status_ltime(
    intents: list[LeaveIntent | JoinIntent], after: str, ltime: int, rebroadcast: bool
) -> None:
    a = with_b_at(4)
    for intent in intents[:-1]:
        inject(a, 2.0, user(intent))
    drain_broadcasts(a, 2.0)
    inject(a, 2.0, user(intents[-1]))
    assert status(a, "b") == after
    assert status_ltime(a, "b", 2.0) == ltime
    assert piggyback(a, 2.0) == ([intents[-1]] if rebroadcast else [])
    assert a.stats()["intent_queue"] == ("1" if rebroadcast else "0")


def test_rebroadcast_intent_is_the_received_bytes_unchanged() -> None:
    a = with_b_at(4)
    # serf's own field order is sorted; this one is not, and carries a field we do not know
    body = msgpack.packb({"Node": "b", "Prune": False, "LTime": 7, "Extra": 1})
    payload = b"\x00" + body
    inject(a, 2.0, UserMsg(payload))
    assert status(a, "b") == "leaving"
    inject(a, 2.0, Ping(1, "a", ip_to_bytes("10.9.9.9"), 7946, "p"))
    [ack] = a.datagrams_to_send()
    assert UserMsg(payload) in messages(ack.data)


def test_leave_intent_about_ourselves_is_refuted_with_a_newer_join_intent() -> None:
    a = knowing(("b", B))
    inject(a, 2.0, user(LeaveIntent(5, "a")))
    assert status(a, "a") == "alive"
    # witnessed 5 -> clock 6; JoinIntent{LTime: 6}; witnessed -> clock 7
    assert piggyback(a, 2.0) == [JoinIntent(6, "a")]  # the leave itself is not passed on
    assert a.stats()["member_time"] == "7"
    assert status_ltime(a, "a", 2.0) == 6


def test_stale_leave_intent_about_ourselves_is_ignored() -> None:
    a = knowing(("b", B))
    inject(a, 2.0, user(LeaveIntent(6, "a")))  # refuted at 7
    drain_broadcasts(a, 2.0)
    inject(a, 2.0, user(LeaveIntent(7, "a")))
    assert piggyback(a, 2.0) == []
    assert status(a, "a") == "alive"


BUFFER_ROWS = {
    # (intents about z before z is known, z's status when it appears, its status LTime)
    "leave-buffered": ([LeaveIntent(7, "z")], "leaving", 7),
    "join-buffered": ([JoinIntent(7, "z")], "alive", 7),
    "newest-wins-leave": ([JoinIntent(7, "z"), LeaveIntent(8, "z")], "leaving", 8),
    "newest-wins-join": ([LeaveIntent(7, "z"), JoinIntent(8, "z")], "alive", 8),
    "older-join-not-stored": ([LeaveIntent(8, "z"), JoinIntent(7, "z")], "leaving", 8),
}


@pytest.mark.parametrize(("intents", "appears", "ltime"), BUFFER_ROWS.values(), ids=BUFFER_ROWS)
def test_intents_about_unknown_nodes_are_buffered(
    intents: list[LeaveIntent | JoinIntent], appears: str, ltime: int
) -> None:
    a = knowing(("b", B))
    for intent in intents:
        inject(a, 2.0, user(intent))
    assert status(a, "z") is None and a.stats()["members"] == "2"
    drain_events(a)
    inject(a, 3.0, alive("z", Z, 1))
    assert status(a, "z") == appears
    assert status_ltime(a, "z", 3.0) == ltime
    assert member_events(drain_events(a)) == [("member-join", "z")]


def test_buffered_intent_is_passed_on_once() -> None:
    a = knowing(("b", B))
    inject(a, 2.0, user(LeaveIntent(7, "z")))
    assert piggyback(a, 2.0) == [LeaveIntent(7, "z")]
    drain_broadcasts(a, 2.0)
    inject(a, 2.0, user(LeaveIntent(7, "z")))
    inject(a, 2.0, user(LeaveIntent(6, "z")))
    assert piggyback(a, 2.0) == []


@pytest.mark.parametrize(
    ("appears_at", "appears"), [(16.0, "leaving"), (31.0, "alive")], ids=["kept", "expired"]
)
def test_buffered_intents_expire_on_a_reap_tick(appears_at: float, appears: str) -> None:
    # RecentIntentTimeout 20 s, checked every ReapInterval (15 s): 14 s old at 15, 29 s at 30
    net = Net()
    a = net.add("a", A, **{**QUIET, "reap_interval": 15.0, "recent_intent_timeout": 20.0})
    net.inject("a", 1.0, user(LeaveIntent(7, "z")))
    net.run(appears_at)
    net.inject("a", appears_at, alive("z", Z, 1))
    assert status(a, "z") == appears


# ---- graceful leave (serf.go: Leave; memberlist.go: Leave) --------------------------------------


def test_graceful_leave_timeline() -> None:
    net = pair()
    a, b = net["a"], net["b"]
    token = a.leave(net.now)
    start = net.now
    assert status(a, "a") == "leaving"
    net.run(start + 10.0)
    intents = [p.at for p in net.sent("a", LeaveIntent, since=start)]
    deads = [p.at for p in net.sent("a", Dead, since=start)]
    # the intent (LTime 2 = the member clock after the join) goes out RetransmitMult * 1 = 4 times
    assert [m for p in net.sent("a", LeaveIntent, since=start) for m in p.serf] == [
        LeaveIntent(2, "a")
    ] * 4
    # then memberlist's dead-about-ourselves (From = us: "left"), again 4 times
    assert [
        m for p in net.sent("a", Dead, since=start) for m in p.messages if isinstance(m, Dead)
    ] == [Dead(1, "a", "a")] * 4
    assert min(deads) > max(intents)
    # LeavePropagateDelay: done exactly 1 s after the last dead message went out
    done = [(at, e) for at, n, e in net.events if n == "a" and isinstance(e, LeaveCompleted)]
    assert done == [(pytest.approx(max(deads) + 1.0, abs=1e-9), LeaveCompleted(token, None))]
    # the peer saw leaving, then left: never failed
    assert net.member_events("b", since=start) == [("member-leave", "a")]
    assert status(b, "a") == "left"
    assert status(a, "a") == "left"
    assert a.stats()["member_time"] == "3"


def test_leave_of_a_lone_node_still_waits_the_propagate_delay() -> None:
    a = make_core("a", A)
    drain_events(a)
    token = a.leave(5.0)
    assert member_events(drain_events(a)) == [("member-leave", "a")]  # our own, as serf
    a.handle_timer(6.0 - EPS)
    assert [e for e in drain_events(a) if isinstance(e, LeaveCompleted)] == []
    assert a.leave(6.0 - EPS) != token
    assert [e.error for e in drain_events(a) if isinstance(e, LeaveCompleted)] == [
        "Leave already in progress"
    ]
    a.handle_timer(6.0)
    assert [e for e in drain_events(a) if isinstance(e, LeaveCompleted)] == [
        LeaveCompleted(token, None)
    ]
    assert a.datagrams_to_send() == []
    again = a.leave(7.0)
    assert [e for e in drain_events(a) if isinstance(e, LeaveCompleted)] == [
        LeaveCompleted(again, None)
    ]


def test_dead_message_before_the_leave_intent_shows_failed_then_left() -> None:
    """serf.go `Leave`: if the dead message overtakes the leave intent, peers show failed,
    then left."""
    a = knowing(("b", B))
    inject(a, 2.0, Dead(1, "b", "b"))
    assert status(a, "b") == "failed"
    inject(a, 2.1, user(LeaveIntent(5, "b")))
    assert status(a, "b") == "left"
    assert member_events(drain_events(a)) == [("member-failed", "b"), ("member-leave", "b")]
    assert (a.stats()["failed"], a.stats()["left"]) == ("0", "1")


def test_shutdown_stops_everything() -> None:
    net = pair()
    a = net["a"]
    a.shutdown(net.now)
    assert a.next_deadline() is None
    inject(a, net.now + 1.0, Ping(5, "a"))
    assert a.datagrams_to_send() == []
    request = encode_stream(PushPull(False, (), b""), compress=False)
    assert a.handle_stream(net.now + 1.0, PROBER, request) is None
    a.join(net.now + 1.0, [net.addrs["b"]])
    token = a.leave(net.now + 1.0)
    events = [e for e in drain_events(a) if isinstance(e, JoinCompleted | LeaveCompleted)]
    assert events[0].error == "Serf can't Join after Leave or Shutdown"
    assert events[1] == LeaveCompleted(token, "Leave called after Shutdown")
    assert a.streams_to_open() == []


def test_left_node_ignores_alive_messages_about_itself() -> None:
    a = make_core("a", A)
    a.leave(1.0)
    inject(a, 1.5, alive("a", A, 9))
    assert view(a, "a") == (NodeState.LEFT, 1)


# ---- force-leave (serf.go: forceLeave, handleNodeLeaveIntent, handlePrune) ----------------------


def failed_b(*extra: tuple[str, str]) -> SerfCore:
    a = knowing(("b", B), *extra)
    inject(a, 2.0, Dead(1, "b", "x"))
    assert status(a, "b") == "failed"
    drain_events(a)
    drain_broadcasts(a, 2.0)
    return a


def test_force_leave_of_a_failed_member_makes_it_left() -> None:
    a = failed_b()
    assert (a.stats()["failed"], a.stats()["left"]) == ("1", "0")
    token = a.force_leave(3.0, "b")
    events = drain_events(a)
    assert member_events(events) == [("member-leave", "b")]
    assert events[-1] == ForceLeaveCompleted(token, None)  # nobody alive to tell: done at once
    assert status(a, "b") == "left"
    assert (a.stats()["failed"], a.stats()["left"]) == ("0", "1")
    assert a.stats()["intent_queue"] == "0"
    assert a.stats()["member_time"] == "2"  # LTime 1 sent, then the clock incremented


def test_force_leave_with_prune_erases_the_member() -> None:
    a = failed_b()
    token = a.force_leave(3.0, "b", prune=True)
    events = drain_events(a)
    assert member_events(events) == [("member-leave", "b"), ("member-reap", "b")]
    assert events[-1] == ForceLeaveCompleted(token, None)
    assert status(a, "b") is None
    assert (a.stats()["members"], a.stats()["failed"], a.stats()["left"]) == ("1", "0", "0")


def test_force_leave_of_an_unknown_name_changes_no_member() -> None:
    a = knowing(("b", B))
    token = a.force_leave(3.0, "ghost")
    assert [m.name for m in a.members()] == ["a", "b"]
    # b is alive, so the intent is broadcast and waited for: done when sent 4 times
    for _ in range(3):
        assert piggyback(a, 3.0) == [LeaveIntent(1, "ghost")]
        assert drain_events(a) == []
    assert piggyback(a, 3.0) == [LeaveIntent(1, "ghost")]
    assert drain_events(a) == [ForceLeaveCompleted(token, None)]
    inject(a, 4.0, alive("ghost", Z, 1))  # if it shows up within RecentIntentTimeout ...
    assert status(a, "ghost") == "leaving"


def test_force_leave_of_the_only_other_alive_member_is_not_broadcast() -> None:
    """serf quirk: the local change comes first, so 'any alive member?' is already false."""
    net = pair()
    a, b = net["a"], net["b"]
    token = a.force_leave(net.now, "b")
    assert [e for e in net.events_of("a") if isinstance(e, ForceLeaveCompleted)] == [
        ForceLeaveCompleted(token, None)
    ]
    assert status(a, "b") == "leaving"
    assert a.stats()["intent_queue"] == "0"
    start = net.now
    net.run(start + 10.0)
    assert net.sent("a", LeaveIntent, since=start) == []
    assert status(b, "b") == "alive"
    assert status(a, "b") == "leaving"  # sticky until a newer join intent


def test_force_leave_of_a_leaving_member_with_prune_waits_six_seconds() -> None:
    a = knowing(("b", B))
    inject(a, 2.0, user(LeaveIntent(3, "b")))
    assert status(a, "b") == "leaving"
    drain_events(a)
    a.force_leave(10.0, "b", prune=True)
    a.handle_timer(16.0 - EPS)  # BroadcastTimeout 5 s + LeavePropagateDelay 1 s
    assert status(a, "b") == "leaving"
    a.handle_timer(16.0)
    assert status(a, "b") is None
    assert member_events(drain_events(a)) == [("member-reap", "b")]


def three() -> Net:
    net = Net()
    for name, ip in (("a", A), ("b", B), ("c", C)):
        net.add(name, ip)
    net.join("b", "a")
    net.join("c", "a")
    net.run(10.0)
    for name in net.cores:
        assert {m.name for m in net[name].members() if str(m.status) == "alive"} == {"a", "b", "c"}
    return net


def test_force_leave_of_a_failed_member_reaches_the_others() -> None:
    net = three()
    net.down.add("b")
    net.run(30.0)
    assert status(net["a"], "b") == status(net["c"], "b") == "failed"
    token = net["a"].force_leave(net.now, "b")
    start = net.now
    assert [e for e in net.events_of("a", since=start) if isinstance(e, ForceLeaveCompleted)] == []
    net.run(start + 6.0)
    sends = [p.at for p in net.sent("a", LeaveIntent, since=start)]
    assert len(sends) == 4
    done = [
        at
        for at, n, e in net.events
        if n == "a" and at >= start and isinstance(e, ForceLeaveCompleted)
    ]
    assert done == [max(sends)]  # completes as the last transmission retires it
    assert [e for e in net.events_of("a", since=start) if isinstance(e, ForceLeaveCompleted)] == [
        ForceLeaveCompleted(token, None)
    ]
    assert status(net["c"], "b") == "left"
    assert ("member-leave", "b") in net.member_events("c", since=start)


def test_force_leave_of_a_reachable_member_is_refuted() -> None:
    net = three()
    a, b, c = net["a"], net["b"], net["c"]
    net.inject("b", net.now, user(JoinIntent(20, "zz")))  # b's clock runs ahead: 21
    before = status_ltime(a, "b", net.now)
    a.force_leave(net.now, "b")
    assert status(a, "b") == "leaving"
    net.run(net.now + 10.0)
    assert status(a, "b") == status(b, "b") == status(c, "b") == "alive"
    assert status_ltime(a, "b", net.now) > before + 1
    assert status_ltime(a, "b", net.now) == status_ltime(c, "b", net.now)


# ---- reaping and reconnecting (serf.go: handleReap, reap, reconnect) ----------------------------


REAP = {
    "reconnect_timeout": 40.0,
    "tombstone_timeout": 70.0,
    "reap_interval": 15.0,
    "reconnect_interval": 1e6,
    "gossip_nodes": 0,
    "push_pull_interval": 0.0,
}


@pytest.mark.parametrize(
    ("how", "reaped_at"),
    [
        # failed at 5.0; ReconnectTimeout 40: at 45 it is exactly 40 old (kept), reaped at 60
        pytest.param("failed", 60.0, id="failed-after-reconnect-timeout"),
        # left at 5.0; TombstoneTimeout 70: kept at 75, reaped at 90
        pytest.param("left", 90.0, id="left-after-tombstone-timeout"),
    ],
)
def test_reaping_on_reap_interval_ticks(how: str, reaped_at: float) -> None:
    net = Net()
    a = net.add("a", A, **REAP)
    net.add_fake("b", B)
    net.inject("a", 1.0, alive("b", B, 1))
    if how == "left":
        net.inject("a", 2.0, user(LeaveIntent(3, "b")))
    net.inject("a", 5.0, Dead(1, "b", "b" if how == "left" else "x"))
    assert status(a, "b") == how
    net.run(reaped_at - EPS)
    assert status(a, "b") == how
    net.run(reaped_at)
    assert status(a, "b") is None
    assert net.event_times("a", MemberEventType.REAP, "b") == [reaped_at]
    assert a.stats()["members"] == "1"


def test_force_left_member_is_reaped_a_tombstone_after_its_failure() -> None:
    """serf.go handleNodeLeaveIntent, case StatusFailed: leaveTime is not touched."""
    net = Net()
    a = net.add("a", A, **REAP)
    net.add_fake("b", B)
    net.inject("a", 1.0, alive("b", B, 1))
    net.inject("a", 5.0, Dead(1, "b", "x"))  # failed at 5.0
    net.run(20.0)
    a.force_leave(20.0, "b")  # left; tombstone 70 s from 5.0: kept at 75, reaped at 90
    net.run(90.0 - EPS)
    assert status(a, "b") == "left"
    net.run(90.0)
    assert status(a, "b") is None
    assert net.event_times("a", MemberEventType.REAP, "b") == [90.0]


def test_reconnect_dials_a_failed_member_but_never_a_left_one() -> None:
    net = Net()
    overrides = {"gossip_nodes": 0, "push_pull_interval": 0.0, "reconnect_interval": 30.0}
    a = net.add("a", A, **overrides)
    net.add("b", B, **overrides)
    net.join("a", "b")
    net.run(1.0)
    net.down.add("b")
    net.inject("a", 2.0, Dead(1, "b", "x"))
    for i, name in enumerate(("c", "d", "e")):  # three left members against one failed
        ip = f"10.0.0.{30 + i}"
        net.add_fake(name, ip)
        net.inject("a", 2.0, alive(name, ip, 1), user(LeaveIntent(10 + i, name)))
        net.inject("a", 2.0, Dead(1, name, name))
    assert [status(a, n) for n in "bcde"] == ["failed", "left", "left", "left"]
    start = len(net.exchanges)
    net.run(30.0 - EPS)
    assert net.exchanges[start:] == []
    net.run(121.0)
    # one failed, one alive (us): probability 1 / 1, so a dial on every ReconnectInterval tick
    dials = net.exchanges[start:]
    assert [d.at for d in dials] == [30.0, 60.0, 90.0, 120.0]
    assert {d.request.dst for d in dials} == {net.addrs["b"]}
    assert all(isinstance(d.message, PushPull) and d.message.join is True for d in dials)
    assert [e for e in net.events_of("a", since=2.0) if isinstance(e, JoinCompleted)] == []


def test_reconnect_brings_a_returning_member_back() -> None:
    net = Net()
    overrides = {"gossip_nodes": 0, "push_pull_interval": 0.0, "reconnect_interval": 30.0}
    a = net.add("a", A, **overrides)
    net.add("b", B, **overrides)
    net.join("a", "b")
    net.run(1.0)
    net.down.add("b")
    net.run(20.0)
    assert status(a, "b") == "failed"
    net.restart("b")  # a fresh process at b's address: it knows nobody and waits
    net.run(30.0 - EPS)
    assert status(a, "b") == "failed"
    net.run(33.0)
    # a's reconnect push-pull told b it was dead; b refuted, and a took it back
    assert status(a, "b") == "alive"
    [back] = net.event_times("a", MemberEventType.JOIN, "b")[1:]
    assert 30.0 <= back < 32.0
    assert a.stats()["intent_queue"] == "0"  # a reconnect is no serf Join: no join intent


# ---- tags <-> meta (serf.go: encodeTags, decodeTags) --------------------------------------------


def test_tags_travel_as_meta() -> None:
    net = pair()
    a, b = net["a"], net["b"]
    assert entry(a, "a").meta == b"\xff\x82\xa2dc\xa3dc1\xa4role\xa6server"
    assert member(b, "a").tags == TAGS
    assert member(b, "b").tags == {}
    assert entry(b, "b").meta == b"\xff\x80"


@pytest.mark.parametrize(
    ("meta", "tags"),
    [
        pytest.param(b"web", {"role": "web"}, id="raw-role"),
        pytest.param(b"", {"role": ""}, id="empty"),
        pytest.param(b"\xff\x80", {}, id="empty-map"),
        pytest.param(b"\xff\x81\xa1k\xa1v", {"k": "v"}, id="map"),
    ],
)
def test_meta_decodes_to_tags(meta: bytes, tags: dict[str, str]) -> None:
    a = knowing()
    inject(a, 2.0, alive("m", Z, 1, meta=meta))
    assert member(a, "m").tags == tags


def test_set_tags_is_an_update_with_the_next_incarnation() -> None:
    net = pair()
    a, b = net["a"], net["b"]
    start = net.now
    a.set_tags(net.now, {"role": "client"})
    net.run(start + 3.0)
    assert member(b, "a").tags == {"role": "client"}
    assert view(b, "a") == (NodeState.ALIVE, 2)
    assert net.member_events("b", since=start) == [("member-update", "a")]


def test_tags_over_512_bytes_are_refused() -> None:
    big = {"k": "v" * 600}
    with pytest.raises(UsageError):
        make_core("a", A, tags=big)
    a = make_core("a", A, tags=TAGS)
    with pytest.raises(UsageError):
        a.set_tags(1.0, big)
    assert member(a, "a").tags == TAGS


def test_serf_layer_messages_of_unknown_type_are_counted_and_dropped() -> None:
    a = knowing(("b", B))
    before = a.stats()
    for payload in (b"\x09\x80", b"\x06", b"\x63junk", b"\x00\xc1"):
        inject(a, 2.0, UserMsg(payload))
    assert a.stats() == before
    # A relay (9) and a conflict answer (6) are serf's, just not acted on; the others are junk.
    assert (a.unsupported, decode_errors(a)) == (2, 2)


# ---- serf rules pinned to the 0.9.4 sources (details that surprise) ----------------------------


def test_leave_intent_about_a_leaving_member_keeps_its_status_ltime() -> None:
    """serf.go handleNodeLeaveIntent, `case StatusLeaving, StatusLeft:` only prunes and
    re-gossips; statusLTime stays, so a join intent newer than the leave that made the member
    leaving still revives it."""
    a = with_b_at(4)
    inject(a, 2.0, user(LeaveIntent(5, "b")))  # alive -> leaving, statusLTime 5
    inject(a, 2.0, user(LeaveIntent(9, "b")))  # leaving: re-gossiped, statusLTime stays 5
    assert status_ltime(a, "b", 2.0) == 5
    inject(a, 2.0, user(JoinIntent(7, "b")))  # 7 > 5: back to alive
    assert status(a, "b") == "alive"


def test_members_version_moves_with_every_visible_change_even_without_an_event() -> None:
    core = make_core("a", A)
    inject(core, 1.0, alive("b", B))
    assert status(core, "b") == "alive"
    before = core.members_version
    # alive -> leaving on a leave intent: serf emits no event, but members() changes
    inject(core, 2.0, user(LeaveIntent(5, "b")))
    assert status(core, "b") == "leaving"
    leaving = core.members_version
    assert leaving != before
    inject(core, 3.0, user(JoinIntent(6, "b")))  # leaving -> alive, again no event
    assert status(core, "b") == "alive"
    assert core.members_version != leaving
    unchanged = core.members_version
    inject(core, 4.0, user(JoinIntent(6, "b")))  # stale: nothing changes
    assert core.members_version == unchanged
