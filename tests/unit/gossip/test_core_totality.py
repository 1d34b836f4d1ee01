"""Totality of the cores' inputs: a core accepts any input without raising, except the errors
it documents for caller misuse.

Whatever bytes arrive, `handle_datagram`, `handle_stream` and `handle_stream_result` never
raise; a datagram that yields no usable message leaves the member table, incarnations and
stats alone and is counted. Caller misuse (time going backwards, a join without seeds)
raises at once and changes nothing: a twin core that never saw the bad call behaves the same.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip import Address, JoinCompleted, SerfCore, UsageError
from gossip.codec import (
    compress_frame,
    decode_packet,
    decode_stream,
    encode,
    encode_serf,
    encode_stream,
)
from gossip.messages import (
    AckResp,
    Dead,
    ErrResp,
    IndirectPing,
    JoinIntent,
    LeaveIntent,
    NackResp,
    Ping,
    PushNodeState,
    PushPull,
    Query,
    SerfMessage,
    SerfPushPull,
    Suspect,
    UserEvent,
    UserMsg,
)
from gossip.types import NodeState, ip_to_bytes
from tests.helpers.core import (
    PORT,
    PROBER,
    VSN,
    Net,
    addr,
    alive,
    decode_errors,
    drain_events,
    inject,
    packet,
    snapshot,
    user,
)

ALIVE = NodeState.ALIVE

A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"
NAMES = ("a", "b", "c")
SOURCES = (addr(A), addr(B), addr(C), PROBER, addr("::1", 1))


def live_set() -> Net:
    """Three joined cores after a few quiet seconds (~5 ms to build: one per example)."""
    net = Net()
    for name, ip in zip(NAMES, (A, B, C), strict=True):
        net.add(name, ip, tags={"role": name})
    net.join("b", "a")
    net.join("c", "a")
    net.run(12.0)
    return net


def _corpora() -> tuple[list[bytes], list[bytes]]:
    """Valid datagrams and stream messages: captured from a live set, plus hand-made ones."""
    net = live_set()
    datagrams = [p.data for p in net.packets]
    streams = [x.request.data for x in net.exchanges] + [
        x.reply for x in net.exchanges if x.reply is not None
    ]
    gossip = [
        encode(alive("x", "10.0.0.9", 3, meta=b"\xff\x81\xa1k\xa1v")),
        encode(Suspect(1, "b", "c")),
        encode(Dead(1, "c", "b")),
        encode(user(JoinIntent(3, "b"))),
        encode(user(LeaveIntent(4, "c", True))),
        encode(IndirectPing(9, ip_to_bytes(C), PORT, "c", True, ip_to_bytes(B), PORT, "b")),
        encode(NackResp(9)),
        encode(AckResp(9, b"\x01payload")),
    ]
    compound = packet(
        alive("x", "10.0.0.9", 3),
        Suspect(1, "b", "c"),
        user(JoinIntent(3, "b")),
        Ping(1, "a", ip_to_bytes(B), PORT, "b"),
    )
    crc = b"\x0c" + zlib.crc32(compress_frame(compound)).to_bytes(4, "big")
    datagrams += [*gossip, compound, compress_frame(compound), crc + compress_frame(compound)]
    streams += [
        encode_stream(Ping(3, "a", ip_to_bytes(B), PORT, "b"), compress=False),
        encode_stream(ErrResp("boom"), compress=False),
        encode_stream(UserMsg(b"\x01\x82\xa5LTime\x05\xa4Node\xa1b"), compress=True),
    ]
    pushes = [decode_stream(s) for s in streams if isinstance(decode_stream(s), PushPull)]
    streams += [encode_stream(p, compress=False) for p in pushes]
    return datagrams, streams


DATAGRAMS, STREAMS = _corpora()
assert len(DATAGRAMS) > 20 and len(STREAMS) > 4


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A valid message with 1-4 mutations: bit flips, cuts, new type bytes, splices."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "retype", "splice", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            data = data[:at]
        elif op == "retype" and data:
            data[draw(st.sampled_from([0, at]))] = draw(st.integers(0, 15))
        elif op == "splice":
            other = draw(st.sampled_from(corpus))
            data = data[:at] + other[draw(st.integers(0, len(other))) :]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


def sane(core: SerfCore) -> None:
    stats = core.stats()
    assert all(v.isdigit() for k, v in stats.items() if k != "encrypted")
    names = [m.name for m in core.members()]
    assert len(names) == len(set(names)) == int(stats["members"])
    assert 0 <= int(stats["health_score"]) <= 7


# ---- datagrams ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=300),
    who=st.sampled_from(NAMES),
    src=st.sampled_from(SOURCES),
)
def test_arbitrary_datagrams_never_raise(data: bytes, who: str, src: Address) -> None:
    net = live_set()
    core = net[who]
    before, errors = snapshot(core), decode_errors(core)
    core.handle_datagram(net.now + 0.01, src, data)
    decoded = decode_packet(data)
    if not decoded.messages:
        assert snapshot(core) == before
        assert decode_errors(core) == errors + decoded.errors
    sane(core)


@settings(max_examples=250, deadline=None)
@given(
    data=mutated(DATAGRAMS),
    who=st.sampled_from(NAMES),
    src=st.sampled_from(SOURCES),
)
def test_mutated_datagrams_never_raise(data: bytes, who: str, src: Address) -> None:
    net = live_set()
    core = net[who]
    errors = decode_errors(core)
    core.handle_datagram(net.at(net.now + 0.01), src, data)
    assert decode_errors(core) >= errors
    sane(core)
    net.run(net.now + 2.0)  # and the set keeps running on whatever the packet changed
    for name in NAMES:
        sane(net[name])


MALFORMED = {
    "empty": b"",
    "unknown-type": b"\x63\x80",
    "ping-not-a-map": b"\x00\x93\x01\x02\x03",
    "ping-missing-seq": b"\x00\x81\xa4Node\xa1a",
    "ping-bad-msgpack": b"\x00\xc1",
    "crc-mismatch": b"\x0c\x00\x00\x00\x00" + encode(Ping(1, "a")),
    "compound-cut-table": b"\x07\x03\x00\x05",
    "compound-part-past-end": b"\x07\x01\x00\xff\x00",
    "compress-garbage": b"\x09\x82\xa4Algo\x00\xa3Buf\xa3xyz",
    "compress-unknown-algo": b"\x09\x82\xa4Algo\x07\xa3Buf\xa0",
    "alive-five-byte-vsn": encode(alive("x", "10.0.0.9", 2, vsn=b"")).replace(
        b"\xa3Vsn\xa0", b"\xa3Vsn\xa5\x01\x05\x02\x02\x05"
    ),
    "alive-three-byte-addr": encode(alive("x", "10.0.0.9", 2)).replace(
        b"\xa4Addr\xa4\x0a\x00\x00\x09", b"\xa4Addr\xa3\x0a\x00\x00"
    ),
    "ping-with-bad-source-addr": encode(Ping(1, "a", b"\x01\x02\x03", PORT, "z")),
    "suspect-incarnation-too-big": b"\x03\x83\xa4From\xa1z\xabIncarnation\xcf"
    + (1 << 40).to_bytes(8, "big")
    + b"\xa4Node\xa1b",
    "stream-only-push-pull": b"\x06\x80",
    "nested-crc": b"\x07\x01\x00\x06" + b"\x0c\x00\x00\x00\x00\x00",
    "serf-garbage": encode(UserMsg(b"\x00\xc1")),
    "serf-unknown-type": encode(UserMsg(b"\x42\x80")),
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_datagram_is_counted_and_changes_nothing(data: bytes) -> None:
    net = live_set()
    a = net["a"]
    before, errors = snapshot(a), decode_errors(a)
    deadline = a.next_deadline()
    a.handle_datagram(net.now + 0.01, addr(B), data)
    assert snapshot(a) == before
    assert decode_errors(a) > errors
    assert a.datagrams_to_send() == [] and a.streams_to_open() == []
    assert drain_events(a) == []
    assert a.next_deadline() == deadline


def test_a_bad_part_does_not_hide_the_good_ones() -> None:
    net = live_set()
    a = net["a"]
    bad = b"\x00\xc1"
    good = encode(alive("x", "10.0.0.9", 1))
    a.handle_datagram(
        net.now, addr(B), b"\x07\x02" + b"\x00\x02" + len(good).to_bytes(2, "big") + bad + good
    )
    assert "x" in {m.name for m in a.members()}
    assert decode_errors(a) == 1


# ---- streams ------------------------------------------------------------------------------------


def check_reply(reply: bytes | None) -> None:
    if reply is not None:
        assert isinstance(decode_stream(reply), PushPull | AckResp | ErrResp)


@settings(max_examples=120, deadline=None)
@given(data=st.binary(max_size=300), who=st.sampled_from(NAMES))
def test_arbitrary_streams_never_raise(data: bytes, who: str) -> None:
    net = live_set()
    check_reply(net[who].handle_stream(net.now + 0.01, addr(B), data))
    sane(net[who])


@settings(max_examples=150, deadline=None)
@given(data=mutated(STREAMS), who=st.sampled_from(NAMES))
def test_mutated_streams_never_raise(data: bytes, who: str) -> None:
    net = live_set()
    check_reply(net[who].handle_stream(net.at(net.now + 0.01), addr(B), data))
    sane(net[who])
    net.run(net.now + 2.0)
    for name in NAMES:
        sane(net[name])


@settings(max_examples=120, deadline=None)
@given(reply=st.one_of(st.binary(max_size=300), mutated(STREAMS), st.none()))
def test_any_join_reply_completes_the_join(reply: bytes | None) -> None:
    net = live_set()
    d = net.add("d", "10.0.0.4")
    token = d.join(net.now, [addr(A)])
    [request] = d.streams_to_open()
    d.handle_stream_result(net.now + 0.1, request.token, reply, None if reply else "EOF")
    [done] = [e for e in drain_events(d) if isinstance(e, JoinCompleted)]
    assert done.token == token and done.num_joined in (0, 1)
    assert (done.num_joined == 1) == (not done.errors)
    sane(d)


def test_unknown_stream_token_is_ignored() -> None:
    net = live_set()
    a = net["a"]
    before = snapshot(a)
    a.handle_stream_result(net.now, 987654, b"\x06garbage", None)
    a.handle_stream_result(net.now, 987655, None, "EOF")
    assert snapshot(a) == before
    assert drain_events(a) == []


# ---- caller misuse ------------------------------------------------------------------------------


def twins() -> tuple[Net, Net]:
    return live_set(), live_set()


def same_future(left: SerfCore, right: SerfCore, now: float) -> None:
    """Both cores behave identically from here on."""
    for core in (left, right):
        core.handle_timer(now)
    assert [(d.dst, d.data) for d in left.datagrams_to_send()] == [
        (d.dst, d.data) for d in right.datagrams_to_send()
    ]
    assert left.next_deadline() == right.next_deadline()
    assert drain_events(left) == drain_events(right)
    assert snapshot(left) == snapshot(right)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda core, t: core.handle_timer(t), id="handle_timer"),
        pytest.param(lambda core, t: core.handle_datagram(t, PROBER, b"\x00\x80"), id="datagram"),
        pytest.param(
            lambda core, t: core.handle_stream(
                t, PROBER, encode_stream(Ping(1, "a"), compress=False)
            ),
            id="stream",
        ),
        pytest.param(lambda core, t: core.handle_stream_result(t, 99, None, "EOF"), id="result"),
        pytest.param(lambda core, t: core.leave(t), id="leave"),
        pytest.param(lambda core, t: core.set_tags(t, {"new": "tags"}), id="set_tags"),
        pytest.param(lambda core, t: core.force_leave(t, "b"), id="force_leave"),
    ],
)
def test_time_going_backwards_raises_and_changes_nothing(
    call: Callable[[SerfCore, float], object],
) -> None:
    net, twin = twins()
    a = net["a"]
    now = net.now + 1.0
    a.handle_timer(now)
    twin["a"].handle_timer(now)
    for core in (a, twin["a"]):
        core.datagrams_to_send(), drain_events(core)
    before = snapshot(a)
    with pytest.raises(ValueError, match="time can't go backwards"):
        call(a, now - 0.5)
    assert snapshot(a) == before
    assert a.datagrams_to_send() == [] and a.streams_to_open() == []
    same_future(a, twin["a"], now + 3.0)


def test_early_handle_timer_is_a_no_op() -> None:
    net, twin = twins()
    a = net["a"]
    due = a.next_deadline()
    assert due is not None and due > net.now
    a.handle_timer(net.now + (due - net.now) / 2)
    assert a.datagrams_to_send() == [] and a.streams_to_open() == []
    assert a.next_deadline() == due
    same_future(a, twin["a"], due + 3.0)


def test_join_without_seeds_is_a_usage_error_and_changes_nothing() -> None:
    net, twin = twins()
    a = net["a"]
    before = snapshot(a)
    with pytest.raises(UsageError):
        a.join(net.now, [])
    assert snapshot(a) == before
    assert a.streams_to_open() == [] and drain_events(a) == []
    same_future(a, twin["a"], net.now + 3.0)


def inbound_join_then_old_event(core: SerfCore, now: float) -> str:
    """Someone joins us with EventLTime 10, then an event at LTime 5 arrives: queued?"""
    joiner = PushNodeState("o", ip_to_bytes("10.0.0.8"), PORT, b"\xff\x80", 1, ALIVE, VSN)
    state = SerfPushPull(ltime=1, status_ltimes={"o": 0}, event_ltime=10, query_ltime=1)
    request = encode_stream(PushPull(True, (joiner,), encode_serf(state)), compress=True)
    assert isinstance(decode_stream(core.handle_stream(now, addr("10.0.0.8"), request)), PushPull)
    inject(core, now, user(UserEvent(5, "deploy", b"v1")))
    return core.stats()["event_queue"]


def test_inbound_join_does_not_drop_older_user_events() -> None:
    """eventJoinIgnore is only set while *we* run Join(ignoreOld=true)."""
    net = live_set()
    assert inbound_join_then_old_event(net["a"], net.now) == "1"


def test_failed_join_call_does_not_leave_ignore_old_behind() -> None:
    """A join refused with UsageError must not leave eventJoinIgnore set behind it."""
    net = live_set()
    a = net["a"]
    with pytest.raises(UsageError):
        a.join(net.now, [])
    assert inbound_join_then_old_event(a, net.now) == "1"


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param(JoinIntent((1 << 64) - 1, "zz"), id="member-clock"),
        pytest.param(UserEvent((1 << 64) - 1, "ev", b""), id="event-clock"),
        pytest.param(
            Query((1 << 64) - 1, 1, b"", 0, "zz", None, 0, 0, 0, "q", b""), id="query-clock"
        ),
    ],
)
def test_largest_lamport_time_does_not_break_push_pull(msg: SerfMessage) -> None:
    """A valid u64 LTime of 2**64-1 must keep every later push-pull encodable (Go: uint64)."""
    net = live_set()
    a = net["a"]
    inject(a, net.now, user(msg))
    request = encode_stream(PushPull(False, (), b""), compress=True)
    check_reply(a.handle_stream(net.now, addr(B), request))


def test_leave_intent_about_us_with_the_largest_ltime_does_not_raise() -> None:
    """Witnessed and refuted: the refuting join intent must still encode."""
    net = live_set()
    a = net["a"]
    a.handle_datagram(net.now, addr(B), encode(user(LeaveIntent((1 << 64) - 1, "a"))))
    assert [m.name for m in a.members() if str(m.status) == "alive"] == ["a", "b", "c"]
