"""Name conflict resolution by the `_serf_conflict` internal query, in virtual time (serf
0.9.4 serf.go: handleNodeConflict, resolveNodeConflict; internal_query.go: handleConflict).

Facts from the 0.9.4 sources these tests pin: the query uses serf's default parameters (no
filters, no ack, timeout GossipInterval * 16 * ceil(log10(NumMembers + 1))); answers are
counted when they decode as a conflict response (a nil Member counts, as a vote against);
we keep the name with `matching >= responses / 2 + 1`, so a tie and an empty result lose,
and losing means Shutdown().
"""

from __future__ import annotations

import pytest

from gossip import Address, SerfCore, SerfState
from gossip.events import ConflictResolved, NameConflictDetected, QueryReceived
from gossip.messages import Query, QueryResponse
from gossip.queries import QUERY_FLAG_ACK
from gossip.serf_codec import encode_conflict_response
from gossip.types import Member, ip_to_bytes
from tests.helpers.core import (
    PORT,
    QUIET,
    Net,
    addr,
    alive,
    decode_errors,
    drain_events,
    inject,
    make_core,
    piggyback,
    status,
    user,
)

A, B, C, Z = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.26"
EPS = 1e-6
LAN_TIMEOUT = 3.2
"""0.2 s GossipInterval * QueryTimeoutMult 16 * ceil(log10(n + 1)) for 1 <= n <= 9."""


def conflicted(core: SerfCore, now: float) -> Query:
    """Tell `core` that Z claims its name; return the `_serf_conflict` query it queued."""
    inject(core, now, alive(core.name, Z, 1))
    queries = [m for m in piggyback(core, now) if isinstance(m, Query)]
    assert len(queries) == 1, queries
    return queries[0]


def answer(q: Query, frm: str, ip: str | None, port: int = PORT, flags: int = 0) -> QueryResponse:
    """`frm`'s conflict response to `q`: the contested name at ip:port, or nil (ip None)."""
    member = None if ip is None else Member(q.source_node, ip, port)
    return QueryResponse(q.ltime, q.id, frm, flags, encode_conflict_response(member))


def resolved(core: SerfCore) -> list[ConflictResolved]:
    return [e for e in drain_events(core) if isinstance(e, ConflictResolved)]


# ---- a lone node ------------------------------------------------------------------------------


def test_the_query_is_serfs_default_query_and_no_answer_loses() -> None:
    a = make_core("a", A, **QUIET)
    drain_events(a)
    q = conflicted(a, 2.0)
    assert drain_events(a) == [NameConflictDetected("a", addr(A), addr(Z), True, True)]
    assert q == Query(
        ltime=1,
        id=q.id,
        addr=ip_to_bytes(A),
        port=PORT,
        source_node="a",
        filters=None,
        flags=0,
        relay_factor=0,
        timeout_ns=3_200_000_000,  # one live member: 0.2 s * 16 * ceil(log10(2))
        name="_serf_conflict",
        payload=b"a",
    )
    assert 0 <= q.id < 2**31  # serf: uint32(rand.Int31())
    assert a.stats()["query_time"] == "2"  # we processed our own query (LTime 1)
    assert a.datagrams_to_send() == []  # our own query is not answered by us
    a.handle_timer(2.0 + LAN_TIMEOUT - EPS)
    assert resolved(a) == []
    a.handle_timer(2.0 + LAN_TIMEOUT)
    assert resolved(a) == [ConflictResolved(False, 0, 0)]  # majority of nothing is 1
    assert a.state is SerfState.SHUTDOWN
    assert a.next_deadline() is None
    inject(a, 6.0, alive("b", B, 1))
    assert a.datagrams_to_send() == [] and a.members() == [a.local_member()]


def test_resolution_disabled_only_reports() -> None:
    a = make_core("a", A, enable_name_conflict_resolution=False, **QUIET)
    drain_events(a)
    inject(a, 2.0, alive("a", Z, 1))
    assert drain_events(a) == [NameConflictDetected("a", addr(A), addr(Z), True, False)]
    assert [m for m in piggyback(a, 2.0) if isinstance(m, Query)] == []
    assert a.stats()["query_queue"] == "0"
    a.handle_timer(100.0)
    assert a.state is SerfState.ALIVE and resolved(a) == []


def test_a_conflict_about_another_node_is_only_reported() -> None:
    a = make_core("a", A, **QUIET)
    inject(a, 1.0, alive("b", B, 1))
    drain_events(a)
    inject(a, 2.0, alive("b", Z, 2))
    assert drain_events(a) == [NameConflictDetected("b", addr(B), addr(Z), False, True)]
    assert a.stats()["query_queue"] == "0"
    assert (a.name_conflicts, status(a, "b")) == (1, "alive")


# ---- tallying (serf resolveNodeConflict) --------------------------------------------------------

TALLY_ROWS = {
    "one-for": (1, 1, True),
    "one-against": (0, 1, False),
    "tie-loses": (1, 2, False),
    "two-of-two": (2, 2, True),
    "two-of-three": (2, 3, True),
    "two-of-four-is-a-tie": (2, 4, False),
    "three-of-four": (3, 4, True),
}


@pytest.mark.parametrize(("matching", "responses", "won"), TALLY_ROWS.values(), ids=TALLY_ROWS)
def test_majority_of_answers_keeps_the_name(matching: int, responses: int, won: bool) -> None:
    a = make_core("a", A, **QUIET)
    q = conflicted(a, 2.0)
    for i in range(responses):
        ip = A if i < matching else C
        inject(a, 2.5, user(answer(q, f"n{i}", ip)))
    a.handle_timer(2.0 + LAN_TIMEOUT)
    assert resolved(a) == [ConflictResolved(won, matching, responses)]
    assert a.state is (SerfState.ALIVE if won else SerfState.SHUTDOWN)


def test_answers_count_once_per_responder_and_only_until_the_deadline() -> None:
    a = make_core("a", A, **QUIET)
    q = conflicted(a, 2.0)
    deadline = 2.0 + LAN_TIMEOUT
    for msg in (
        answer(q, "x", A),  # counted, matching
        answer(q, "x", C),  # a second answer from x: ignored
        answer(q, "v", None),  # nil member: counted, not matching
        answer(q, "w", C, port=PORT + 1),  # counted, not matching
        answer(q, "y", A, flags=QUERY_FLAG_ACK),  # an ack we did not ask for: ignored
        QueryResponse(q.ltime, q.id + 1, "y", 0, answer(q, "y", A).payload),  # other ID
        QueryResponse(q.ltime + 1, q.id, "y", 0, answer(q, "y", A).payload),  # other query
        QueryResponse(q.ltime, q.id, "m", 0, b"\x05\x80"),  # not a conflict response
        QueryResponse(q.ltime, q.id, "n", 0, b"\x06\xc1"),  # a conflict response, malformed
    ):
        inject(a, 3.0, user(msg))
    inject(a, deadline, user(answer(q, "u", "::ffff:" + A)))  # at the deadline: still in time
    a.handle_timer(deadline)
    assert resolved(a) == [ConflictResolved(False, 2, 4)]  # 2 < 4 // 2 + 1
    assert decode_errors(a) == 2  # the two bad payloads, counted when tallied


def test_an_answer_after_the_deadline_is_too_late() -> None:
    a = make_core("a", A, **QUIET)
    q = conflicted(a, 2.0)
    inject(a, 3.0, user(answer(q, "x", A)))
    late = 2.0 + LAN_TIMEOUT + EPS  # the driver runs the timer late: the answer still misses
    inject(a, late, user(answer(q, "y", C)))
    a.handle_timer(late)
    assert resolved(a) == [ConflictResolved(True, 1, 1)]
    inject(a, late + 1.0, user(answer(q, "z", C)))  # no longer running: dropped quietly
    assert (a.state, decode_errors(a)) == (SerfState.ALIVE, 0)


def test_one_resolution_at_a_time() -> None:
    a = make_core("a", A, **QUIET)
    drain_events(a)
    q = conflicted(a, 2.0)
    inject(a, 2.5, alive("a", Z, 1))  # reported again while the query runs
    assert [type(e) for e in drain_events(a)] == [NameConflictDetected, NameConflictDetected]
    assert [m for m in piggyback(a, 2.5) if isinstance(m, Query)] == [q]  # still the one
    inject(a, 3.0, user(answer(q, "x", A)))
    a.handle_timer(2.0 + LAN_TIMEOUT)
    assert resolved(a) == [ConflictResolved(True, 1, 1)]
    assert a.name_conflicts == 2
    inject(a, 6.0, alive("a", Z, 1))  # a report after the vote starts a new one
    # (the first query is still in its retransmits, next to the new one)
    assert sorted(m.ltime for m in piggyback(a, 6.0) if isinstance(m, Query)) == [1, 2]


# ---- whole clusters -----------------------------------------------------------------------------


def cluster(*names_ips: tuple[str, str]) -> Net:
    net = Net()
    for name, ip in names_ips:
        net.add(name, ip)
    first = names_ips[0][0]
    for name, _ in names_ips[1:]:
        assert net.join(name, first).num_joined == 1
    net.run(10.0)
    return net


def test_the_rightful_owner_keeps_its_name() -> None:
    net = cluster(("a", A), ("b", B), ("c", C))
    start = net.at(12.0)
    net.inject("b", start, alive("b", Z, 1))  # an impostor's claim reaches b
    net.run(start + 10.0)
    [(at, won)] = [(t, e) for t, n, e in net.events if n == "b" and isinstance(e, ConflictResolved)]
    assert won == ConflictResolved(True, 2, 2)
    assert at == pytest.approx(start + LAN_TIMEOUT)  # 3 live members: ceil(log10(4)) = 1
    answers = [p for n in ("a", "c") for p in net.sent(n, QueryResponse, since=start)]
    assert {p.dst for p in answers} == {addr(B)}
    assert net["b"].state is SerfState.ALIVE
    for n in ("a", "c"):  # they answered, and delivered nothing
        assert not any(isinstance(e, QueryReceived) for e in net.events_of(n))


def test_the_impostor_loses_and_shuts_down() -> None:
    """The real b (a fake peer here) is known to a and c; a second process named b at Z
    joins: it hears of b at B, asks, is told B twice, and quits."""
    net = Net()
    real_b = net.add_fake("b", B)
    for name, ip in (("a", A), ("c", C)):
        net.add(name, ip)
        net.inject(name, 0.0, alive("b", B, 1))
    assert net.join("c", "a").num_joined == 1
    net.run(5.0)
    impostor = net.add("b", Z)  # takes the name in the Net's books; the fake stays at B
    start = net.at(6.0)
    assert net.join("b", "a").num_joined == 1
    net.run(start + 10.0)
    assert next(e for e in net.events_of("b") if isinstance(e, NameConflictDetected)) == (
        NameConflictDetected("b", addr(Z), real_b, True, True)
    )
    assert [e for e in net.events_of("b") if isinstance(e, ConflictResolved)] == [
        ConflictResolved(False, 0, 2)
    ]
    assert impostor.state is SerfState.SHUTDOWN
    seen_by_a = [e for e in net.events_of("a", since=start) if isinstance(e, NameConflictDetected)]
    assert seen_by_a[0] == NameConflictDetected("b", real_b, Address(Z, PORT), False, True)
    assert (status(net["a"], "b"), status(net["c"], "b")) == ("alive", "alive")
    assert {m.addr for n in ("a", "c") for m in net[n].members() if m.name == "b"} == {B}
