"""The push-pull shortcuts give exactly what the plain reading of memberlist and serf gives.

A push-pull carries a whole table, so the merge skips work for entries that change nothing:
the version gate looks at distinct Vsn values, entries are decoded once per distinct bytes,
serf's join intents witness the clock once. Each test here runs a shortcut against a
straightforward reference on generated tables, including the awkward values (no Vsn, a
clock at 2**64 - 1, names that are not ASCII).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip.codec import decode_stream, encode_stream
from gossip.config import SerfConfig
from gossip.deadlines import DeadlineQueue
from gossip.errors import DecodeError
from gossip.lamport import U64, LamportClock
from gossip.member_state import MemberState
from gossip.membership import node_info
from gossip.messages import JoinIntent, LeaveIntent, PushNodeState, PushPull, SerfPushPull
from gossip.protocol import verify_protocol
from gossip.serf_codec import decode_serf, encode_serf
from gossip.serf_members import MemberTable
from gossip.serf_push_pull import PushPullState
from gossip.types import MemberStatus, NodeState
from gossip.user_events import EventRing
from tests.helpers.core import PROBER, make_core, view

# ---- the version gate ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    state: NodeState
    vsn: bytes


def reference_verify(local: list[Row], remote: list[Row]) -> str | None:
    """memberlist verifyProtocol read literally: ranges over alive entries, then every entry."""
    max_pmin = max_dmin = 0
    min_pmax = min_dmax = 255
    for e in (*remote, *local):
        if e.state == NodeState.ALIVE and len(e.vsn) >= 6:
            max_pmin, min_pmax = max(max_pmin, e.vsn[0]), min(min_pmax, e.vsn[1])
            max_dmin, min_dmax = max(max_dmin, e.vsn[3]), min(min_dmax, e.vsn[4])
    for e in (*remote, *local):
        pcur, dcur = (e.vsn[2], e.vsn[5]) if len(e.vsn) >= 6 else (0, 0)
        if not max_pmin <= pcur <= min_pmax:
            return (
                f"Node '{e.name}' protocol version ({pcur}) is incompatible: "
                f"[{max_pmin}, {min_pmax}]"
            )
        if not max_dmin <= dcur <= min_dmax:
            return (
                f"Node '{e.name}' delegate protocol version ({dcur}) is incompatible: "
                f"[{max_dmin}, {min_dmax}]"
            )
    return None


# A few Vsn values, as in a real cluster: mostly one, sometimes an upgrade in flight.
VSNS = [b"", bytes([1, 5, 2, 2, 5, 4]), bytes([1, 5, 5, 2, 5, 5]), bytes([2, 4, 3, 2, 4, 2])]
rows = st.lists(
    st.builds(
        Row,
        name=st.sampled_from(["a", "b", "c", "d", "e"]),
        state=st.sampled_from(list(NodeState)),
        vsn=st.sampled_from(VSNS) | st.binary(min_size=6, max_size=7),
    ),
    max_size=8,
)


@settings(max_examples=400, deadline=None)
@given(local=rows, remote=rows)
def test_version_gate_matches_the_literal_reading(local: list[Row], remote: list[Row]) -> None:
    assert verify_protocol(local, remote) == reference_verify(local, remote)


def test_version_gate_names_the_first_offender_remote_first() -> None:
    ok, new = VSNS[1], bytes([3, 5, 3, 3, 5, 3])  # `new` needs protocol 3+; `ok` speaks 2
    local = [Row("l1", NodeState.ALIVE, ok)]
    remote = [Row("r1", NodeState.ALIVE, ok), Row("r2", NodeState.ALIVE, new)]
    assert verify_protocol(local, remote) == (
        "Node 'r1' protocol version (2) is incompatible: [3, 5]"
    )


# ---- decoding table entries once per distinct bytes ----------------------------------------


def entry(name: str, incarnation: int, state: NodeState = NodeState.ALIVE) -> PushNodeState:
    return PushNodeState(name, b"\x0a\x00\x00\x01", 7946, b"", incarnation, state, VSNS[1])


def test_a_table_of_repeated_entries_decodes_to_the_same_values() -> None:
    nodes = (entry("a", 1), entry("b", 2), entry("a", 1), entry("c", 3, NodeState.SUSPECT))
    msg = PushPull(False, nodes, b"user")
    for data in (encode_stream(msg, compress=False), encode_stream(msg, compress=True)):
        assert decode_stream(data) == msg
        assert decode_stream(bytearray(data)) == msg  # a driver's buffer, not bytes


def test_a_bad_entry_fails_every_time_and_poisons_nothing() -> None:
    good = encode_stream(PushPull(False, (entry("a", 1),), b""), compress=False)
    bad_entry = msgpack.packb({"Name": "a", "State": 9}, use_bin_type=False)
    header = msgpack.packb({"Join": False, "Nodes": 1, "UserStateLen": 0}, use_bin_type=False)
    bad = b"\x06" + header + bad_entry
    for _ in range(2):  # an error is not memoised as an answer
        with pytest.raises(DecodeError):
            decode_stream(bad)
    assert decode_stream(good).nodes == (entry("a", 1),)


# ---- merging a table: each entry judged on its own ------------------------------------------


def test_every_entry_of_a_pushed_table_is_judged_by_its_own_state() -> None:
    """A mix of news and old news in one table: skipping the old must not skew the rest."""
    core = make_core("me", "10.0.0.1")
    rows = [entry(f"new{i}", 1) for i in range(4)]
    rows.insert(2, entry("left1", 3, NodeState.LEFT))  # unknown: nothing to mark left
    rows.append(entry("new0", 1))  # a repeat: old news by now
    rows.append(entry("sus", 2, NodeState.SUSPECT))  # unknown: a suspicion needs an entry
    rows.append(entry("new5", 7))
    request = encode_stream(PushPull(False, tuple(rows), b""), compress=False)
    core.handle_stream(1.0, PROBER, request)
    assert {f"new{i}": view(core, f"new{i}") for i in (0, 1, 2, 3, 5)} == {
        "new0": (NodeState.ALIVE, 1),
        "new1": (NodeState.ALIVE, 1),
        "new2": (NodeState.ALIVE, 1),
        "new3": (NodeState.ALIVE, 1),
        "new5": (NodeState.ALIVE, 7),
    }
    assert view(core, "left1") is None and view(core, "sus") is None
    # A second table: our entries are old news, one is left, one suspect.
    again = [entry(f"new{i}", 1) for i in range(4)]
    again[1] = entry("new1", 1, NodeState.LEFT)
    again[2] = entry("new2", 1, NodeState.DEAD)
    request = encode_stream(PushPull(False, tuple(again), b""), compress=False)
    core.handle_stream(2.0, PROBER, request)
    assert [view(core, f"new{i}") for i in range(4)] == [
        (NodeState.ALIVE, 1),
        (NodeState.LEFT, 1),
        (NodeState.SUSPECT, 1),  # a peer's dead only makes us suspect
        (NodeState.ALIVE, 1),
    ]


# ---- serf's StatusLTimes: checked in bulk -----------------------------------------------


def serf_push_pull_bytes(status: dict[object, object]) -> bytes:
    body = {"LTime": 1, "LeftMembers": [], "StatusLTimes": status}
    return b"\x02" + msgpack.packb(body, use_bin_type=False)


@pytest.mark.parametrize(
    "status",
    [
        pytest.param({"a": -1}, id="negative"),
        pytest.param({"a": True}, id="bool"),
        pytest.param({"a": "1"}, id="string-value"),
        pytest.param({1: 1}, id="int-key"),
        pytest.param({b"\xff\xfe": 1}, id="key-not-utf8"),
    ],
)
def test_a_bad_status_ltime_is_refused(status: dict[object, object]) -> None:
    with pytest.raises(DecodeError):
        decode_serf(serf_push_pull_bytes(status))


def test_status_ltimes_take_any_valid_utf8_name() -> None:
    decoded = decode_serf(serf_push_pull_bytes({"ünïcode": 3, "plain": U64}))
    assert isinstance(decoded, SerfPushPull)
    assert decoded.status_ltimes == {"ünïcode": 3, "plain": U64}


# ---- serf's merge: one witness for all the join intents ----------------------------------


def table_with(known: dict[str, tuple[MemberStatus, int]], clock_at: int) -> MemberTable:
    clock = LamportClock()
    if clock_at:
        clock.witness(clock_at - 1)
    table = MemberTable(
        SerfConfig(), name="me", clock=clock, deadlines=DeadlineQueue(), events=deque()
    )
    for i, (name, (status, ltime)) in enumerate(known.items()):
        member = MemberState(node_info(name, bytes([10, 0, 0, i + 1]), 7946, b"", b"", 1))
        member.status, member.status_ltime = status, ltime
        table.states[name] = member
    return table


def ring() -> EventRing:
    return EventRing(LamportClock(), 64)


def table_view(table: MemberTable) -> tuple[object, ...]:
    states = {n: (m.status, m.status_ltime) for n, m in table.states.items()}
    return table.clock.time(), states, dict(table.recent_intents), table.version


NAMES = ["a", "b", "c", "d"]
ltimes = st.sampled_from([0, 1, 5, 9, U64 - 1, U64]) | st.integers(0, 20)
known_members = st.dictionaries(
    st.sampled_from(NAMES),
    st.tuples(st.sampled_from([MemberStatus.ALIVE, MemberStatus.LEAVING]), ltimes),
)


@settings(max_examples=400, deadline=None)
@given(
    known=known_members,
    clock_at=st.sampled_from([0, 3, 30, U64]),
    remote=st.dictionaries(st.sampled_from([*NAMES, "new1", "new2"]), ltimes),
)
def test_serf_merge_equals_one_join_intent_per_member(
    known: dict[str, tuple[MemberStatus, int]], clock_at: int, remote: dict[str, int]
) -> None:
    merged = table_with(known, clock_at)
    reference = table_with(known, clock_at)
    wire = encode_serf(SerfPushPull(ltime=0, status_ltimes=remote))
    merger = PushPullState((merged.clock, LamportClock(), LamportClock()), merged, ring())
    merger.merge(1.0, wire, ignore_old=False)
    sent = decode_serf(wire)  # in wire order: where the clock wraps, order matters
    assert isinstance(sent, SerfPushPull)
    for name, ltime in sent.status_ltimes.items():  # serf MergeRemoteState, read literally
        reference.on_join_intent(1.0, JoinIntent(ltime, name))
    assert table_view(merged) == table_view(reference)


def test_serf_merge_still_applies_left_members_before_joins() -> None:
    table = table_with({"a": (MemberStatus.ALIVE, 4)}, 10)
    state = SerfPushPull(ltime=0, status_ltimes={"a": 6}, left_members=("a",))
    merger = PushPullState((table.clock, LamportClock(), LamportClock()), table, ring())
    merger.merge(1.0, encode_serf(state), ignore_old=False)
    reference = table_with({"a": (MemberStatus.ALIVE, 4)}, 10)
    reference.on_leave_intent(1.0, LeaveIntent(7, "a"))
    assert table_view(table) == table_view(reference)
    assert table.states["a"].status is MemberStatus.LEAVING
