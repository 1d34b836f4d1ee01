"""The memberlist layer driven by hand in virtual time: probes, serving probes, push-pull, join.

aioquic style: pick `now`, feed one core one input, assert the exact datagrams (decoded),
stream requests, deadlines and events. The rules are memberlist 0.2.2's (state.go, net.go,
awareness.go, suspicion.go); the function each test pins is named in its docstring.
"""

from __future__ import annotations

import pytest

from gossip import Address, JoinCompleted, SerfCore, UsageError, Versions
from gossip.codec import decode_serf, decode_stream, encode_stream
from gossip.messages import (
    AckResp,
    Alive,
    Dead,
    IndirectPing,
    NackResp,
    Ping,
    PushNodeState,
    PushPull,
    SerfPushPull,
    Suspect,
)
from gossip.types import NodeState, ip_to_bytes
from tests.helpers.core import (
    PORT,
    PROBER,
    QUIET,
    Net,
    addr,
    alive,
    decode_errors,
    drain_broadcasts,
    drain_events,
    entry,
    inject,
    make_core,
    member_events,
    messages,
    of,
    piggyback,
    refused,
    score,
    status,
    suspect_of,
    view,
)

A, B, C, D, E, F = (f"10.0.0.{i}" for i in range(1, 7))
EPS = 1e-6
"""Slack for deadlines computed by two float paths (t + 1.0 vs. the ticker's phase + k)."""


Spec = tuple[str, str] | tuple[str, str, Versions | None]


def quiet_net(*specs: Spec, **overrides: object) -> Net:
    """Nodes that joined every earlier node, settled until their broadcasts are all sent."""
    net = Net()
    for spec in specs:
        name, ip, *rest = spec
        net.add(name, ip, versions=rest[0] if rest else None, **{**QUIET, **overrides})
    names = [spec[0] for spec in specs]
    for i, name in enumerate(names[1:], start=1):  # everyone: gossip is off here
        assert net.join(name, *names[:i]).num_joined == i
    net.run(12.0)
    for name in net.cores:
        assert {m.name for m in net[name].members()} == {s[0] for s in specs}
    return net


@pytest.fixture
def pair() -> Net:
    return quiet_net(("a", A), ("b", B))


def ping_from_a(seq: int, node: str = "b") -> Ping:
    return Ping(seq, node, ip_to_bytes(A), PORT, "a")


# ---- the probe cycle (state.go: probe, probeNode) -----------------------------------------------


def test_probe_pings_the_target_with_our_source_fields(pair: Net) -> None:
    t, sent = pair.probe("a", "b")
    assert sent.dst == addr(B)
    [ping] = sent.messages  # nothing left to piggyback after settling
    assert ping == Ping(ping.seq_no, "b", ip_to_bytes(A), PORT, "a")
    # the direct-ack wait is ProbeTimeout, the first deadline of the probe
    assert pair["a"].next_deadline() == t + 0.5
    assert pair.streams("a") == []


def test_ack_before_probe_timeout_ends_the_probe(pair: Net) -> None:
    t, sent = pair.probe("a", "b")
    pair.give([sent], t + 0.1)
    [ack] = pair.take("b")
    assert ack.dst == addr(A)
    assert ack.messages == [AckResp(sent.messages[0].seq_no)]
    pair.give([ack], t + 0.2)
    # no indirect pings, no TCP fallback: the probe is over
    assert pair["a"].next_deadline() > t + 0.5
    assert pair.run_core("a", t + 0.9) == []
    assert pair.streams("a") == []
    assert score(pair["a"]) == 0
    assert view(pair["a"], "b") == (NodeState.ALIVE, 1)


def test_successful_probe_lowers_the_health_score(pair: Net) -> None:
    a = pair["a"]
    inject(a, pair.now, Suspect(1, "a", "b"))  # refuting raises the score to 1
    assert score(a) == 1
    t, sent = pair.probe("a", "b")
    pair.give([sent], t)
    pair.give(pair.take("b"), t)
    assert score(a) == 0


def test_unanswered_ping_gets_indirect_pings_and_a_tcp_fallback_at_probe_timeout() -> None:
    # c understands protocol 4 (nacks), d only 3: the Nack flag follows each helper's PMax
    net = quiet_net(
        ("a", A), ("b", B), ("c", C, Versions(protocol_max=4)), ("d", D, Versions(protocol_max=3))
    )
    t, sent = net.probe("a", "b")  # lost
    seq = sent.messages[0].seq_no
    assert net.run_core("a", t + 0.5 - EPS) == []
    out = net.run_core("a", t + 0.5)
    indirect = {p.dst: p.messages for p in out}
    assert indirect, "no helper was asked"
    assert set(indirect) <= {addr(C), addr(D)}  # never the target or ourselves
    for dst, msgs in indirect.items():
        assert msgs == [
            IndirectPing(seq, ip_to_bytes(B), PORT, "b", dst == addr(C), ip_to_bytes(A), PORT, "a")
        ]
    [fallback] = net.streams("a")
    assert fallback.dst == addr(B)
    assert decode_stream(fallback.data) == Ping(seq, "b", ip_to_bytes(A), PORT, "a")
    assert fallback.timeout == pytest.approx(0.5, abs=EPS)  # ends with the probe, at t + 1


def test_indirect_pings_go_to_up_to_indirect_checks_distinct_peers() -> None:
    net = quiet_net(("a", A), ("b", B), ("c", C), ("d", D), ("e", E), ("f", F))
    t, _ = net.probe("a", "b")
    out = net.run_core("a", t + 0.5)
    dsts = [p.dst for p in out]
    assert len(dsts) == 3 == len(set(dsts))
    assert set(dsts) <= {addr(C), addr(D), addr(E), addr(F)}


@pytest.mark.parametrize("news", ["suspect", "dead"])
def test_indirect_pings_skip_peers_that_are_not_alive(news: str) -> None:
    net = quiet_net(("a", A), ("b", B), ("c", C), ("d", D))
    t, _ = net.probe("a", "b")
    msg = Suspect(1, "d", "c") if news == "suspect" else Dead(1, "d", "c")
    inject(net["a"], t + 0.1, msg)
    net.take("a")
    out = net.run_core("a", t + 0.5)
    assert addr(D) not in {p.dst for p in out}
    assert {p.dst for p in out} <= {addr(C)}


def test_failed_probe_suspects_the_target_and_raises_the_health_score(pair: Net) -> None:
    a = pair["a"]
    t, sent = pair.probe("a", "b")  # lost
    pair.run_core("a", t + 0.5)
    [fallback] = pair.streams("a")
    assert pair.run_core("a", t + 1.0 - EPS) == []
    assert view(a, "b") == (NodeState.ALIVE, 1)
    pair.fail("a", fallback, t + 1.0 - EPS, "i/o timeout")
    out = pair.run_core("a", t + 1.0 + EPS)
    assert view(a, "b") == (NodeState.SUSPECT, 1)
    assert score(a) == 1  # no nack-capable helper: +1
    # the suspicion is queued for dissemination: it rides on our next ack
    assert suspect_of(piggyback(a, pair.now), "b") == [Suspect(1, "b", "a")]
    # the next probe of the suspect carries the accusation (buddy system), CRC-wrapped for PMax 5;
    # it may start as this probe ends (a buffered tick) or on a later tick
    buddy = out[0] if out else pair.probe("a", "b")[1]
    assert buddy.dst == addr(B)
    assert buddy.data[0] == 0x0C
    ping, suspect = buddy.messages
    assert isinstance(ping, Ping) and ping.node == "b" and ping.seq_no != sent.messages[0].seq_no
    assert suspect == Suspect(1, "b", "a")


def test_probe_waits_for_the_tcp_fallback_before_suspecting(pair: Net) -> None:
    t, _ = pair.probe("a", "b")
    pair.run_core("a", t + 0.5)
    [fallback] = pair.streams("a")
    pair.run_core("a", t + 1.0 + EPS)
    assert view(pair["a"], "b") == (NodeState.ALIVE, 1)  # the driver has not answered yet
    pair.fail("a", fallback, t + 1.0 + EPS, "i/o timeout")
    assert view(pair["a"], "b") == (NodeState.SUSPECT, 1)


def test_probe_gives_up_on_a_tcp_fallback_the_driver_never_reports(pair: Net) -> None:
    t, _ = pair.probe("a", "b")
    pair.run_core("a", t + 0.5)
    [_fallback] = pair.streams("a")
    pair.run_core("a", t + 1.0 + EPS)
    assert view(pair["a"], "b") == (NodeState.ALIVE, 1)
    # no result ever comes: a ProbeTimeout after the probe's end it counts as failed
    pair.run_core("a", t + 1.5 + 2 * EPS)
    assert view(pair["a"], "b") == (NodeState.SUSPECT, 1)


def test_tcp_fallback_ack_saves_the_target(pair: Net) -> None:
    a = pair["a"]
    inject(a, pair.now, Suspect(1, "a", "b"))
    assert score(a) == 1
    t, sent = pair.probe("a", "b")  # UDP lost, TCP works
    pair.run_core("a", t + 0.5)
    [fallback] = pair.streams("a")
    ex = pair.exchange("a", fallback, t + 0.6)
    assert decode_stream(ex.reply) == AckResp(sent.messages[0].seq_no)
    pair.run_core("a", t + 2.0 + EPS)  # health 1: the probe ends at t + 2
    assert view(a, "b") == (NodeState.ALIVE, 1)
    assert score(a) == 0  # counted as a success


@pytest.mark.parametrize(
    ("versions", "overrides"),
    [
        pytest.param(Versions(protocol_max=2), {}, id="target-pmax-2"),
        pytest.param(None, {"disable_tcp_pings": True}, id="tcp-pings-disabled"),
    ],
)
def test_no_tcp_fallback(versions: Versions | None, overrides: dict[str, object]) -> None:
    net = quiet_net(("a", A), ("b", B, versions), **overrides)
    t, _ = net.probe("a", "b")
    net.run_core("a", t + 0.5)
    assert net.streams("a") == []
    net.run_core("a", t + 1.0 + EPS)
    assert view(net["a"], "b") == (NodeState.SUSPECT, 1)  # nothing to wait for


def test_ack_relayed_by_a_helper_ends_the_probe_well() -> None:
    net = quiet_net(("a", A), ("b", B), ("c", C))
    t, sent = net.probe("a", "b")  # lost
    seq = sent.messages[0].seq_no
    [req] = net.run_core("a", t + 0.5)
    assert req.dst == addr(C)
    net.give([req], t + 0.5)
    [relay_ping] = net.take("c")
    [ping] = relay_ping.messages
    assert relay_ping.dst == addr(B)
    assert ping == Ping(ping.seq_no, "b", ip_to_bytes(C), PORT, "c")  # the helper's own ping
    net.give([relay_ping], t + 0.6)
    net.give(net.take("b"), t + 0.6)
    [relayed] = net.take("c")
    assert relayed.dst == addr(A)
    assert relayed.messages == [AckResp(seq)]  # our SeqNo, not the helper's
    net.give([relayed], t + 0.7)
    net.run_core("a", t + 1.0 + EPS)
    assert view(net["a"], "b") == (NodeState.ALIVE, 1)
    assert score(net["a"]) == 0


@pytest.mark.parametrize(
    ("nacks_delivered", "expected_score"),
    [
        pytest.param(2, 0, id="both-nacked"),
        pytest.param(1, 1, id="one-nack-missing"),
        pytest.param(0, 2, id="both-missing"),
    ],
)
def test_missing_nacks_raise_the_health_score(nacks_delivered: int, expected_score: int) -> None:
    # ProbeTimeout 0.4 s so a helper's nack (0.4 s after it is asked) beats the probe's end at 1 s;
    # IndirectChecks 2 of 4 eligible helpers, all nack-capable
    net = quiet_net(
        ("a", A), ("b", B), ("c", C), ("d", D), ("e", E), ("f", F),
        probe_timeout=0.4,
        indirect_checks=2,
    )  # fmt: skip
    t, _ = net.probe("a", "b")
    reqs = net.run_core("a", t + 0.4)
    helpers = [net.names[p.dst] for p in reqs]
    assert len(set(helpers)) == 2 and "b" not in helpers
    assert all(p.messages[0].nack for p in reqs)
    [fallback] = net.streams("a")
    net.give(reqs, t + 0.4)
    nacks = []
    for helper in helpers:
        net.take(helper)  # their pings to b are lost
        out = net.run_core(helper, t + 0.8 + EPS)
        nacks += [p for p in out if of(NackResp, p.messages)]
    assert len(nacks) == 2
    assert all(p.dst == addr(A) for p in nacks)
    net.give(nacks[:nacks_delivered], t + 0.9)
    net.fail("a", fallback, t + 0.9, "i/o timeout")
    net.run_core("a", t + 1.0 + EPS)
    assert view(net["a"], "b") == (NodeState.SUSPECT, 1)
    assert score(net["a"]) == expected_score


def test_probe_deadline_scales_with_health_but_the_ack_wait_does_not(pair: Net) -> None:
    a = pair["a"]
    inject(a, pair.now, Suspect(1, "a", "b"))
    inject(a, pair.now, Suspect(2, "a", "b"))
    assert score(a) == 2
    t, _ = pair.probe("a", "b")  # lost
    assert a.next_deadline() == t + 0.5  # ProbeTimeout is never scaled
    pair.run_core("a", t + 0.5)
    [fallback] = pair.streams("a")
    assert fallback.timeout == pytest.approx(2.5, abs=EPS)  # the probe ends at t + 1 * (2 + 1)
    # the ticks at t + 1 and t + 2 fall while the probe runs: no new ping
    assert pair.run_core("a", t + 3.0 - EPS) == []
    assert view(a, "b") == (NodeState.ALIVE, 1)
    pair.fail("a", fallback, t + 3.0 - EPS, "i/o timeout")
    pair.run_core("a", t + 3.0 + EPS)
    assert view(a, "b") == (NodeState.SUSPECT, 1)
    assert score(a) == 3


def test_health_score_is_clamped_to_awareness_max_multiplier_minus_one() -> None:
    a = make_core("a", A, **QUIET)
    for inc in range(1, 12):
        inject(a, float(inc), Suspect(inc, "a", "x"))
    assert score(a) == 7
    assert a.stats()["health_score"] == "7"


# ---- serving probes (net.go: handlePing, handleIndirectPing, handleAck, handleNack) -------------


@pytest.fixture
def b() -> SerfCore:
    core = make_core("b", B, **QUIET)
    drain_broadcasts(core, 0.5)  # its own startup alive
    return core


def test_ping_for_another_name_is_not_answered(b: SerfCore) -> None:
    inject(b, 1.0, Ping(7, "someone-else", ip_to_bytes(A), PORT, "a"))
    assert b.datagrams_to_send() == []


@pytest.mark.parametrize(
    ("ping", "reply_to"),
    [
        pytest.param(Ping(7, "b", ip_to_bytes(C), 5555, "c"), addr(C, 5555), id="source-fields"),
        pytest.param(Ping(7, "b"), PROBER, id="packet-source"),
        pytest.param(Ping(7, ""), PROBER, id="no-node-name"),
        pytest.param(Ping(7, "b", ip_to_bytes(C), 0, "c"), PROBER, id="source-port-zero"),
    ],
)
def test_ping_is_acked_to_its_source(b: SerfCore, ping: Ping, reply_to: Address) -> None:
    inject(b, 1.0, ping)
    [out] = b.datagrams_to_send()
    assert out.dst == reply_to
    assert messages(out.data) == [AckResp(7)]


@pytest.mark.parametrize("port", [PORT, 0], ids=["port", "port-0-means-ours"])
def test_indirect_ping_relays_the_targets_ack_with_the_original_seq(b: SerfCore, port: int) -> None:
    inject(b, 1.0, IndirectPing(42, ip_to_bytes(C), port, "c", True, ip_to_bytes(A), PORT, "a"))
    [out] = b.datagrams_to_send()
    assert out.dst == addr(C)
    [ping] = messages(out.data)
    assert ping == Ping(ping.seq_no, "c", ip_to_bytes(B), PORT, "b")
    inject(b, 1.2, AckResp(ping.seq_no), src=addr(C))
    [relayed] = b.datagrams_to_send()
    assert relayed.dst == addr(A)
    assert messages(relayed.data) == [AckResp(42)]
    b.handle_timer(5.0)  # no nack after an ack
    assert not [d for d in b.datagrams_to_send() if of(NackResp, messages(d.data))]


@pytest.mark.parametrize("nack", [True, False])
def test_indirect_ping_without_an_ack_nacks_after_probe_timeout(b: SerfCore, nack: bool) -> None:
    inject(b, 1.0, IndirectPing(42, ip_to_bytes(C), PORT, "c", nack, ip_to_bytes(A), PORT, "a"))
    b.datagrams_to_send()
    b.handle_timer(1.5 - EPS)
    assert b.datagrams_to_send() == []
    b.handle_timer(1.5)
    out = b.datagrams_to_send()
    if nack:
        [d] = out
        assert d.dst == addr(A)
        assert messages(d.data) == [NackResp(42)]
    else:
        assert out == []
    # the relay is forgotten: a late ack is not forwarded
    inject(b, 1.6, AckResp(1), src=addr(C))
    assert b.datagrams_to_send() == []


def test_indirect_ping_without_source_fields_answers_the_packet_source(b: SerfCore) -> None:
    inject(b, 1.0, IndirectPing(42, ip_to_bytes(C), PORT, "c", True))
    b.datagrams_to_send()
    b.handle_timer(1.5)
    [d] = b.datagrams_to_send()
    assert d.dst == PROBER


def test_ack_with_an_unknown_seq_no_is_ignored(pair: Net) -> None:
    a = pair["a"]
    t, sent = pair.probe("a", "b")
    seq = sent.messages[0].seq_no
    before = (decode_errors(a), a.stats())
    inject(a, t + 0.1, AckResp(seq + 1000), src=addr(B))
    assert (decode_errors(a), a.stats()) == before
    pair.run_core("a", t + 0.5)  # still waiting for the real ack: helpers / fallback follow
    assert len(pair.streams("a")) == 1


def test_tcp_ping_is_acked_and_a_misaddressed_one_is_not(b: SerfCore) -> None:
    reply = b.handle_stream(1.0, addr(A), encode_stream(ping_from_a(9), compress=True))
    assert decode_stream(reply) == AckResp(9)
    assert b.handle_stream(1.0, addr(A), encode_stream(ping_from_a(9, "x"), compress=True)) is None


# ---- push-pull and join (state.go: pushPull, net.go: sendAndReceiveState) -----------------------


def test_join_dials_seeds_one_after_another() -> None:
    a = make_core("a", A)
    b = make_core("b", B)
    token = a.join(1.0, [addr(D), addr(B), addr(E)])
    [first] = a.streams_to_open()
    assert first.dst == addr(D)
    assert first.timeout == 10.0  # TCPTimeout
    request = decode_stream(first.data)
    assert isinstance(request, PushPull) and request.join is True
    assert [n.name for n in request.nodes] == ["a"]
    assert request.nodes[0] == PushNodeState(
        "a", ip_to_bytes(A), PORT, b"\xff\x80", 1, NodeState.ALIVE, Versions().to_vsn()
    )
    state = decode_serf(request.user_state)
    assert isinstance(state, SerfPushPull) and state.ltime == 1
    assert state.status_ltimes == {"a": 0}
    assert a.streams_to_open() == []  # one at a time
    a.handle_stream_result(1.5, first.token, None, refused(addr(D)))
    [second] = a.streams_to_open()
    assert second.dst == addr(B)
    reply = b.handle_stream(2.0, addr(A), second.data)
    a.handle_stream_result(2.0, second.token, reply)
    [third] = a.streams_to_open()
    assert third.dst == addr(E)
    assert not [e for e in drain_events(a) if isinstance(e, JoinCompleted)]
    a.handle_stream_result(3.0, third.token, None, "dial tcp 10.0.0.5:7946: i/o timeout")
    done = [e for e in drain_events(a) if isinstance(e, JoinCompleted)]
    assert done == [
        JoinCompleted(
            token,
            1,
            (
                "Failed to join 10.0.0.4: dial tcp 10.0.0.4:7946: connect: connection refused",
                "Failed to join 10.0.0.5: dial tcp 10.0.0.5:7946: i/o timeout",
            ),
        )
    ]
    assert done[0].error is None  # serf drops the errors when anything joined


@pytest.mark.parametrize(
    ("seeds", "text"),
    [
        pytest.param(
            [D],
            "1 error occurred:\n\t* Failed to join 10.0.0.4: dial tcp 10.0.0.4:7946: "
            "connect: connection refused\n\n",
            id="one",
        ),
        pytest.param(
            [D, E],
            "2 errors occurred:\n\t* Failed to join 10.0.0.4: dial tcp 10.0.0.4:7946: "
            "connect: connection refused\n\t* Failed to join 10.0.0.5: dial tcp "
            "10.0.0.5:7946: connect: connection refused\n\n",
            id="two",
        ),
    ],
)
def test_join_where_every_seed_fails_reports_a_multierror(seeds: list[str], text: str) -> None:
    net = Net()
    a = net.add("a", A)
    token = a.join(1.0, [addr(ip) for ip in seeds])
    net.flush(1.0)
    [done] = [e for e in net.events_of("a") if isinstance(e, JoinCompleted)]
    assert done.token == token and done.num_joined == 0
    assert done.error == text
    assert a.stats()["intent_queue"] == "0"  # no join intent without a join
    assert [m.name for m in a.members()] == ["a"]


def test_join_counts_every_seed_that_answered() -> None:
    net = Net()
    for name, ip in (("a", A), ("b", B), ("c", C)):
        net.add(name, ip)
    net.join("b", "c")
    done = net.join("a", "b", "c")
    assert (done.num_joined, done.errors, done.error) == (2, (), None)


def test_join_refuses_an_incompatible_delegate_version() -> None:
    # protocol-5 serf seed vs. a joiner that only understands serf <= 4 (state.go
    # verifyProtocol; Debian's serf 0.8.2 agent refused such a joiner on loopback)
    net = Net()
    j = net.add("j", A, versions=Versions(delegate_max=4, delegate_cur=4))
    x = net.add("x", "10.0.0.9", versions=Versions(delegate_max=5, delegate_cur=5))
    done = net.join("j", "x")
    assert done.num_joined == 0
    assert done.errors == (
        "Failed to join 10.0.0.9: Node 'x' delegate protocol version (5) is incompatible: [2, 4]",
    )
    assert done.error == f"1 error occurred:\n\t* {done.errors[0]}\n\n"
    [ex] = net.exchanges
    assert isinstance(decode_stream(ex.reply), PushPull)  # the seed answered, then refused too
    assert [m.name for m in j.members()] == ["j"]
    assert [m.name for m in x.members()] == ["x"]
    assert j.stats()["intent_queue"] == "0"


def test_join_refuses_an_incompatible_memberlist_version() -> None:
    net = Net()
    net.add("j", A, versions=Versions(protocol_min=3, protocol_cur=3))
    net.add("x", "10.0.0.9")
    done = net.join("j", "x")
    assert done.errors == (
        "Failed to join 10.0.0.9: Node 'x' protocol version (2) is incompatible: [3, 5]",
    )


@pytest.mark.parametrize("join", [True, False])
def test_push_pull_responder_sends_its_whole_table_and_echoes_join(join: bool) -> None:
    b = make_core("b", B)
    inject(b, 1.0, alive("c", C, 3), alive("y", "10.0.0.25", 2), alive("z", "10.0.0.26", 4))
    inject(b, 1.0, Dead(2, "y", "c"), Dead(4, "z", "z"))
    table = {(e.name, e.state, e.incarnation) for e in map(lambda n: entry(b, n), "bcyz")}
    me = PushNodeState("a", ip_to_bytes(A), PORT, b"", 1, NodeState.ALIVE, Versions().to_vsn())
    request = PushPull(join, (me,), b"")
    reply = decode_stream(b.handle_stream(2.0, addr(A), encode_stream(request, compress=True)))
    assert isinstance(reply, PushPull)
    assert reply.join is join
    assert {(n.name, n.state, n.incarnation) for n in reply.nodes} == table  # before merging a
    assert isinstance(decode_serf(reply.user_state), SerfPushPull)
    assert status(b, "a") == "alive"  # and then merged ours


@pytest.mark.parametrize(
    ("remote_state", "expected"),
    [
        pytest.param(NodeState.ALIVE, (NodeState.ALIVE, 3), id="alive-applied"),
        pytest.param(NodeState.SUSPECT, (NodeState.SUSPECT, 3), id="suspect-suspected"),
        pytest.param(NodeState.DEAD, (NodeState.SUSPECT, 3), id="dead-only-suspected"),
        pytest.param(NodeState.LEFT, (NodeState.LEFT, 3), id="left-applied"),
    ],
)
def test_push_pull_merge_rules(remote_state: NodeState, expected: tuple[NodeState, int]) -> None:
    """mergeState: a peer's dead (or suspect) entry only makes us suspect, From = us."""
    b = make_core("b", B)
    inject(b, 1.0, alive("c", C, 2))
    drain_events(b)
    remote = (
        PushNodeState(
            "a", ip_to_bytes(A), PORT, b"\xff\x80", 1, NodeState.ALIVE, Versions().to_vsn()
        ),
        PushNodeState("c", ip_to_bytes(C), PORT, b"\xff\x80", 3, remote_state, Versions().to_vsn()),
    )
    b.handle_stream(2.0, addr(A), encode_stream(PushPull(False, remote, b""), compress=True))
    assert view(b, "c") == expected
    if remote_state in (NodeState.SUSPECT, NodeState.DEAD):
        assert suspect_of(piggyback(b, 2.0), "c") == [Suspect(3, "c", "b")]


def test_periodic_push_pull_goes_to_a_live_peer_without_the_join_flag() -> None:
    net = Net()
    net.add("a", A, push_pull_interval=30.0)
    net.add("b", B, push_pull_interval=30.0)
    net.join("a", "b")
    start = len(net.exchanges)
    net.run(61.0)  # first round within [30, 60) after the random stagger
    rounds = [x for x in net.exchanges[start:] if isinstance(x.message, PushPull)]
    assert rounds
    assert all(x.message.join is False for x in rounds)
    assert {x.request.dst for x in rounds if x.src == "a"} <= {addr(B)}


def test_join_without_seeds_is_a_usage_error() -> None:
    a = make_core("a", A)
    with pytest.raises(UsageError):
        a.join(1.0, [])
    assert a.streams_to_open() == []


def test_alive_we_relay_keeps_its_fields() -> None:
    """aliveNode re-broadcasts the message itself, so its Vsn and Meta travel unchanged."""
    b = make_core("b", B)
    msg = alive("c", C, 5, meta=b"\xff\x81\xa1k\xa1v", vsn=bytes([1, 4, 2, 2, 5, 5]))
    inject(b, 1.0, msg)
    assert [m for m in piggyback(b, 1.0) if isinstance(m, Alive) and m.node == "c"] == [msg]
    assert member_events(drain_events(b)) == [("member-join", "b"), ("member-join", "c")]
