"""memberlist's incarnation rules as tables (state.go: aliveNode, suspectNode, deadNode, refute).

Each row starts from a core "a" that knows "x" alive at incarnation 5, feeds it one or two
datagrams, then checks x's (state, incarnation), whether the news was re-broadcast (it rides
on a's next ack) and the serf member events. Name conflicts and `DeadNodeReclaimTime` too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gossip import Address, SerfCore, Versions
from gossip.codec import encode_tags
from gossip.events import NameConflictDetected
from gossip.messages import Alive, Dead, PacketMessage, Suspect
from gossip.types import NodeState, ip_to_bytes
from tests.helpers.core import (
    PORT,
    QUIET,
    VSN,
    Net,
    alive,
    drain_broadcasts,
    drain_events,
    entry,
    inject,
    make_core,
    member,
    member_events,
    piggyback,
    score,
    status,
    view,
)

A, X, Y = "10.0.0.1", "10.0.0.24", "10.0.0.25"
ALIVE, SUSPECT, DEAD, LEFT = NodeState.ALIVE, NodeState.SUSPECT, NodeState.DEAD, NodeState.LEFT
OUR_META = encode_tags({})
EPS = 1e-6


def knowing_x(inc: int = 5, **overrides: object) -> SerfCore:
    """Core a, with x alive at `inc` in its table, nothing queued, no events pending."""
    a = make_core("a", A, **{**QUIET, **overrides})
    inject(a, 1.0, alive("x", X, inc))
    drain_broadcasts(a, 1.0)
    drain_events(a)
    return a


@dataclass(frozen=True)
class Row:
    msgs: tuple[PacketMessage, ...]
    """Fed one datagram each, in order; the last one is the news under test."""
    view: tuple[NodeState, int] | None
    rebroadcast: bool
    events: list[tuple[str, str]] = field(default_factory=list)
    addr: str | None = None
    at: float = 2.0


def check(a: SerfCore, row: Row, name: str) -> None:
    for msg in row.msgs[:-1]:
        inject(a, row.at, msg)
    drain_broadcasts(a, row.at)
    drain_events(a)
    inject(a, row.at, row.msgs[-1])
    assert view(a, name) == row.view
    relayed = piggyback(a, row.at)
    assert relayed == ([row.msgs[-1]] if row.rebroadcast else [])
    assert member_events(drain_events(a)) == row.events
    if row.addr is not None:
        assert entry(a, name).address.host == row.addr
        assert member(a, name).addr == row.addr


# ---- alive --------------------------------------------------------------------------------------

ALIVE_ROWS = {
    "older-ignored": Row((alive("x", X, 4),), (ALIVE, 5), False),
    "equal-ignored": Row((alive("x", X, 5),), (ALIVE, 5), False),
    "newer-accepted": Row((alive("x", X, 6),), (ALIVE, 6), True),
    "newer-meta-is-an-update": Row(
        (alive("x", X, 6, meta=encode_tags({"k": "v"})),),
        (ALIVE, 6),
        True,
        [("member-update", "x")],
    ),
    "other-address-is-a-conflict": Row((alive("x", Y, 6),), (ALIVE, 5), False, addr=X),
    "vsn-pmin-0-ignored": Row(
        (alive("x", X, 6, vsn=bytes([0, 5, 2, 2, 5, 4])),), (ALIVE, 5), False
    ),
    "vsn-pmax-0-ignored": Row(
        (alive("x", X, 6, vsn=bytes([1, 0, 2, 2, 5, 4])),), (ALIVE, 5), False
    ),
    "vsn-pmin-above-pmax-ignored": Row(
        (alive("x", X, 6, vsn=bytes([3, 2, 2, 2, 5, 4])),), (ALIVE, 5), False
    ),
    "suspect-back-to-alive-is-silent": Row(
        (Suspect(5, "x", "y"), alive("x", X, 6)), (ALIVE, 6), True
    ),
    "dead-back-to-alive-rejoins": Row(
        (Dead(5, "x", "y"), alive("x", X, 6)), (ALIVE, 6), True, [("member-join", "x")]
    ),
    "dead-equal-incarnation-ignored": Row((Dead(5, "x", "y"), alive("x", X, 5)), (DEAD, 5), False),
    "dead-name-from-other-address-is-a-conflict": Row(
        (Dead(5, "x", "y"), alive("x", Y, 9)), (DEAD, 5), False, addr=X
    ),
    "left-name-from-other-address-accepted": Row(
        (Dead(5, "x", "x"), alive("x", Y, 5)), (ALIVE, 5), True, [("member-join", "x")], addr=Y
    ),
    # updatesNode skips the incarnation gate altogether, as in Go: the incarnation goes down
    "left-name-moves-even-with-older-incarnation": Row(
        (Dead(5, "x", "x"), alive("x", Y, 2)), (ALIVE, 2), True, [("member-join", "x")], addr=Y
    ),
}


@pytest.mark.parametrize("row", ALIVE_ROWS.values(), ids=ALIVE_ROWS.keys())
def test_alive_about_a_known_node(row: Row) -> None:
    check(knowing_x(5), row, "x")


def test_conflicting_alive_does_not_touch_serf_either() -> None:
    a = knowing_x(5)
    inject(a, 2.0, alive("x", Y, 6, meta=encode_tags({"new": "tags"})))
    assert member(a, "x").tags == {} and member(a, "x").addr == X
    # Only the report serf logs as "Name conflict for 'x' both ... are claiming".
    conflict = NameConflictDetected("x", Address(X, PORT), Address(Y, PORT), False, True)
    assert drain_events(a) == [conflict]


UNKNOWN_ROWS = {
    "added": Row((alive("n", Y, 1),), (ALIVE, 1), True, [("member-join", "n")]),
    "bad-vsn-not-added": Row((alive("n", Y, 1, vsn=bytes([0, 5, 2, 2, 5, 4])),), None, False),
    "empty-vsn-added": Row((alive("n", Y, 1, vsn=b""),), (ALIVE, 1), True, [("member-join", "n")]),
    # incarnation 0 fails the gate after the entry was created (Dead): a silent placeholder
    "incarnation-0-leaves-a-dead-placeholder": Row((alive("n", Y, 0),), (DEAD, 0), False),
}


@pytest.mark.parametrize("row", UNKNOWN_ROWS.values(), ids=UNKNOWN_ROWS.keys())
def test_alive_about_an_unknown_node(row: Row) -> None:
    a = knowing_x(5)
    check(a, row, "n")
    if row.view == (ALIVE, 1):
        expected = Versions(*row.msgs[-1].vsn) if row.msgs[-1].vsn else Versions(0, 0, 0, 0, 0, 0)
        assert member(a, "n").versions == expected
    elif row.view is not None:
        assert member(a, "n") is None


@pytest.mark.parametrize(
    ("age", "accepted"), [(10.0, False), (10.0 + 1e-3, True)], ids=["at-reclaim", "after-reclaim"]
)
def test_dead_name_moves_after_dead_node_reclaim_time(age: float, accepted: bool) -> None:
    a = knowing_x(5, dead_node_reclaim_time=10.0)
    inject(a, 2.0, Dead(5, "x", "y"))
    inject(a, 2.0 + age, alive("x", Y, 6))
    assert view(a, "x") == ((ALIVE, 6) if accepted else (DEAD, 5))
    assert entry(a, "x").address.host == (Y if accepted else X)


# ---- news about ourselves: refute ---------------------------------------------------------------

OTHER_META = encode_tags({"other": "meta"})

SELF_ROWS = {
    # (message about a, our incarnation afterwards: 1 = nothing happened)
    "alive-same-ignored": (alive("a", A, 1, meta=OUR_META), 1),
    "alive-older-ignored": (alive("a", A, 0, meta=OTHER_META), 1),
    "alive-equal-other-meta-refuted": (alive("a", A, 1, meta=OTHER_META), 2),
    "alive-equal-other-vsn-refuted": (alive("a", A, 1, vsn=bytes([1, 5, 2, 2, 5, 5])), 2),
    "alive-newer-refuted": (alive("a", A, 7, meta=OUR_META), 8),
    "suspect-refuted": (Suspect(1, "a", "x"), 2),
    "suspect-higher-refuted-above-it": (Suspect(5, "a", "x"), 6),
    # our next incarnation would be 2, which only ties the accusation: skip to 3
    "suspect-at-our-next-incarnation-refuted-above-it": (Suspect(2, "a", "x"), 3),
    "dead-at-our-next-incarnation-refuted-above-it": (Dead(2, "a", "x"), 3),
    "suspect-older-ignored": (Suspect(0, "a", "x"), 1),
    "dead-refuted": (Dead(1, "a", "x"), 2),
    "dead-from-ourselves-refuted-while-not-leaving": (Dead(3, "a", "a"), 4),
    "dead-older-ignored": (Dead(0, "a", "x"), 1),
}


@pytest.mark.parametrize(("msg", "incarnation"), SELF_ROWS.values(), ids=SELF_ROWS.keys())
def test_news_about_ourselves(msg: PacketMessage, incarnation: int) -> None:
    a = knowing_x(5)
    inject(a, 2.0, msg)
    assert view(a, "a") == (ALIVE, incarnation)
    refuted = incarnation > 1
    assert score(a) == (1 if refuted else 0)
    expected = [Alive(incarnation, "a", ip_to_bytes(A), PORT, OUR_META, VSN)] if refuted else []
    assert piggyback(a, 2.0) == expected
    assert status(a, "a") == "alive"
    assert drain_events(a) == []


AFTER_LEAVE_ROWS = {
    "alive-newer": alive("a", A, 7, meta=OUR_META),
    "alive-equal-other-meta": alive("a", A, 1, meta=OTHER_META),
    "suspect": Suspect(1, "a", "x"),
    "dead": Dead(1, "a", "x"),
}


@pytest.mark.parametrize("msg", AFTER_LEAVE_ROWS.values(), ids=AFTER_LEAVE_ROWS.keys())
def test_no_refutation_once_our_memberlist_has_left(msg: PacketMessage) -> None:
    """memberlist Leave sets `leave`: aliveNode ignores news of us, deadNode refutes only while
    not leaving, suspectNode ignores a node that is not alive (we are left). So a member's
    incarnation never rises after its memberlist left, which ClusterStateMachine's
    left_is_final_unless_rejoined relies on when it lets a higher incarnation revive one."""
    a = knowing_x(5)
    a.swim.leave(2.0, 5.0, lambda at, error: None)
    drain_broadcasts(a, 2.0)
    drain_events(a)
    inject(a, 2.5, msg)
    assert view(a, "a") == (LEFT, 1)
    assert a.incarnation == 1 and score(a) == 0
    assert piggyback(a, 2.5) == []


def test_every_refutation_beats_the_accusation_and_raises_health() -> None:
    a = knowing_x(5)
    # an accusation older than our incarnation is stale and ignored (no health penalty)
    for accused, expected in [(1, 2), (2, 3), (10, 11), (10, 11), (11, 12), (3, 12)]:
        inject(a, 2.0, Suspect(accused, "a", "x"))
        assert view(a, "a") == (ALIVE, expected)
    assert score(a) == 4


# ---- suspect ------------------------------------------------------------------------------------

SUSPECT_ROWS = {
    "older-ignored": Row((Suspect(4, "x", "y"),), (ALIVE, 5), False),
    "equal-accepted": Row((Suspect(5, "x", "y"),), (SUSPECT, 5), True),
    "newer-accepted": Row((Suspect(7, "x", "y"),), (SUSPECT, 7), True),
    "unknown-ignored": Row((Suspect(1, "nobody", "y"),), (ALIVE, 5), False),
    "dead-ignored": Row((Dead(5, "x", "y"), Suspect(6, "x", "y")), (DEAD, 5), False),
    "left-ignored": Row((Dead(5, "x", "x"), Suspect(6, "x", "y")), (LEFT, 5), False),
}


@pytest.mark.parametrize("row", SUSPECT_ROWS.values(), ids=SUSPECT_ROWS.keys())
def test_suspect_about_another_node(row: Row) -> None:
    a = knowing_x(5)
    check(a, row, "x")
    assert entry(a, "nobody") is None
    assert (
        status(a, "x")
        == {ALIVE: "alive", SUSPECT: "alive", DEAD: "failed", LEFT: "failed"}[row.view[0]]
    )


# ---- dead ---------------------------------------------------------------------------------------

DEAD_ROWS = {
    "older-ignored": Row((Dead(4, "x", "y"),), (ALIVE, 5), False),
    "equal-is-dead": Row((Dead(5, "x", "y"),), (DEAD, 5), True, [("member-failed", "x")]),
    "newer-is-dead": Row((Dead(6, "x", "y"),), (DEAD, 6), True, [("member-failed", "x")]),
    # memberlist says left, but without a leave intent serf still calls it a failure
    "from-itself-is-left": Row((Dead(5, "x", "x"),), (LEFT, 5), True, [("member-failed", "x")]),
    "suspect-to-dead": Row(
        (Suspect(5, "x", "y"), Dead(5, "x", "y")), (DEAD, 5), True, [("member-failed", "x")]
    ),
    "already-dead-ignored": Row((Dead(5, "x", "y"), Dead(6, "x", "z")), (DEAD, 5), False),
    "already-left-ignored": Row((Dead(5, "x", "x"), Dead(6, "x", "z")), (LEFT, 5), False),
    "unknown-ignored": Row((Dead(1, "nobody", "y"),), (ALIVE, 5), False),
}


@pytest.mark.parametrize("row", DEAD_ROWS.values(), ids=DEAD_ROWS.keys())
def test_dead_about_another_node(row: Row) -> None:
    a = knowing_x(5)
    check(a, row, "x")
    assert entry(a, "nobody") is None


# ---- suspicion timers (suspicion.go, state.go: suspectNode) -------------------------------------


def suspicion_net(fakes: int) -> Net:
    """Core a plus `fakes` live fake peers x1..xN (they ack a's probes), all known to a."""
    net = Net()
    a = net.add("a", A, **QUIET)
    for i in range(1, fakes + 1):
        ip = f"10.0.1.{i}"
        net.add_fake(f"x{i}", ip)
        inject(a, 0.0, alive(f"x{i}", ip, 1))
    net.run(2.0)
    return net


def dead_at(net: Net, name: str, start: float, expected: float) -> None:
    """`name` is still suspect just before `expected` and dead at it."""
    a = net["a"]
    assert view(a, name) == (SUSPECT, 1)
    net.run(expected - EPS)
    assert view(a, name) == (SUSPECT, 1), f"declared dead before {expected - start} s"
    net.run(expected)
    assert view(a, name) == (DEAD, 1)
    assert status(a, name) == "failed"


@pytest.mark.parametrize(
    ("fakes", "timeout"),
    [
        pytest.param(2, 4.0, id="n3-k0-min"),  # n - 2 < SuspicionMult - 2: no confirmations
        pytest.param(3, 24.0, id="n4-k2-max"),  # k = 2: starts at 6 * min
        pytest.param(9, 24.0, id="n10-k2-max"),  # log10(10) = 1: still 4 s / 24 s
    ],
)
def test_suspicion_timeout_without_confirmations(fakes: int, timeout: float) -> None:
    net = suspicion_net(fakes)
    net.inject("a", 2.0, Suspect(1, "x1", "x2"))
    dead_at(net, "x1", 2.0, 2.0 + timeout)
    # the verdict is ours, and it is disseminated
    assert Dead(1, "x1", "a") in piggyback(net["a"], net.now)


def test_distinct_confirmations_shorten_the_suspicion() -> None:
    net = suspicion_net(4)  # n = 5: k = 2, min 4 s, max 24 s
    a = net["a"]
    net.inject("a", 2.0, Suspect(1, "x1", "x2"))
    drain_broadcasts(a, 2.0)
    net.inject("a", 3.0, Suspect(1, "x1", "x3"))  # first confirmation: 24 - ln2/ln3*20 = 11.381
    assert piggyback(a, 3.0) == [Suspect(1, "x1", "x3")]  # counted news is re-broadcast
    drain_broadcasts(a, 3.0)
    for repeat in (Suspect(1, "x1", "x3"), Suspect(1, "x1", "x2"), Suspect(0, "x1", "x4")):
        net.inject("a", 4.0, repeat)  # same confirmer, the accuser, an older incarnation
        assert piggyback(a, 4.0) == []
    dead_at(net, "x1", 2.0, 2.0 + 11.381)


def test_k_confirmations_bring_the_suspicion_down_to_min() -> None:
    net = suspicion_net(5)  # n = 6: k = 2
    a = net["a"]
    net.inject("a", 2.0, Suspect(1, "x1", "x2"))
    net.inject("a", 3.0, Suspect(1, "x1", "x3"))
    net.inject("a", 5.0, Suspect(1, "x1", "x4"))  # second of k = 2: total = min = 4 s
    drain_broadcasts(a, 5.0)
    net.inject("a", 5.5, Suspect(1, "x1", "x5"))  # beyond k: neither counted nor re-broadcast
    assert piggyback(a, 5.5) == []
    dead_at(net, "x1", 2.0, 6.0)


def test_confirmation_past_the_shortened_deadline_fires_at_once() -> None:
    net = suspicion_net(4)
    a = net["a"]
    net.inject("a", 2.0, Suspect(1, "x1", "x2"))
    net.inject("a", 3.0, Suspect(1, "x1", "x3"))
    net.run(7.0)
    net.inject("a", 7.0, Suspect(1, "x1", "x4"))  # total 4 s: the deadline (6.0) is already behind
    assert a.next_deadline() <= 7.0
    net.run(7.0)
    assert view(a, "x1") == (DEAD, 1)


def test_refuting_alive_clears_the_suspicion_timer() -> None:
    net = suspicion_net(2)
    a = net["a"]
    net.inject("a", 2.0, Suspect(1, "x1", "x2"))
    net.inject("a", 3.0, alive("x1", "10.0.1.1", 2))
    net.run(40.0)
    assert view(a, "x1") == (ALIVE, 2)
    assert status(a, "x1") == "alive"


def test_suspicion_about_a_stale_state_does_not_kill_a_renewed_one() -> None:
    """The timer only fires if the node is still suspect under the same state change."""
    net = suspicion_net(2)
    a = net["a"]
    net.inject("a", 2.0, Suspect(1, "x1", "x2"))
    net.inject("a", 3.0, alive("x1", "10.0.1.1", 2))
    net.inject("a", 5.0, Suspect(2, "x1", "x2"))  # a new suspicion: 4 s from 5.0, not from 2.0
    net.run(9.0 - EPS)
    assert view(a, "x1") == (SUSPECT, 2)
    net.run(9.0)
    assert view(a, "x1") == (DEAD, 2)


def test_refutation_at_the_uint32_limit_stays_on_the_wire() -> None:
    net = Net()
    a = net.add("a", A)
    net.add("b", "10.0.0.2")
    net.join("a", "b")
    net.inject("a", 1.0, Suspect(0xFFFF_FFFF, "a", "b"))
    assert view(a, "a")[1] <= 0xFFFF_FFFF
    net.add("c", "10.0.0.3")
    assert net.join("a", "c", now=2.0).num_joined == 1
