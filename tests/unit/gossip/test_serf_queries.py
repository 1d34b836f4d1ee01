"""Queries on the receiving side: dedup, filters, acks, internal queries and their answers
(serf 0.9.4 serf.go: handleQuery; query.go: shouldProcessQuery; internal_query.go), plus the
payloads that ride inside queries (filters, conflict responses) against go-msgpack's bytes.

GO_* hex strings were produced by go-msgpack 0.5.5 (Debian golang-github-hashicorp-go-msgpack)
on go1.19 with serf 0.9.4's struct definitions (`Member`, `filterTag`, `filterNode`).
"""

from __future__ import annotations

import pytest

from gossip import SerfCore
from gossip.codec import decode_serf, encode_serf, encode_tags
from gossip.errors import DecodeError
from gossip.events import QueryReceived
from gossip.messages import Query, QueryResponse, UserMsg
from gossip.queries import QUERY_FLAG_ACK, QUERY_FLAG_NO_BROADCAST, default_query_timeout
from gossip.serf_codec import (
    ConflictAnswer,
    NodeFilter,
    TagFilter,
    decode_conflict_response,
    decode_filter,
    encode_conflict_response,
    encode_filter,
)
from gossip.types import Member, ip_to_bytes
from tests.helpers.core import (
    PORT,
    QUIET,
    addr,
    alive,
    decode_errors,
    drain_events,
    inject,
    make_core,
    messages,
    piggyback,
    serf_of,
    snapshot,
    user,
)

A, B, Q = "10.0.0.1", "10.0.0.2", "10.0.0.50"
ASKER = addr(Q)
"""Where the queries in this file ask to be answered (their Addr:Port)."""
TAGS = {"role": "server", "dc": "dc1"}
TIMEOUT_NS = 3_200_000_000


def query(
    ltime: int = 5,
    qid: int = 77,
    *,
    name: str = "deploy",
    payload: bytes = b"v2",
    flags: int = QUERY_FLAG_ACK,
    filters: tuple[bytes, ...] | None = None,
    timeout_ns: int = TIMEOUT_NS,
) -> Query:
    return Query(
        ltime, qid, ip_to_bytes(Q), PORT, "asker", filters, flags, 0, timeout_ns, name, payload
    )


def fresh(**overrides: object) -> SerfCore:
    """Core a with TAGS, knowing nobody; nothing queued, no events, no datagrams."""
    a = make_core("a", A, tags=TAGS, **{**QUIET, **overrides})
    drain_events(a)
    assert a.datagrams_to_send() == []
    return a


def replies(core: SerfCore) -> list[QueryResponse]:
    """The query responses `core` sent straight to ASKER (acks and answers)."""
    out = []
    for d in core.datagrams_to_send():
        assert d.dst == ASKER, d
        out += [m for m in serf_of(messages(d.data)) if isinstance(m, QueryResponse)]
    return out


def queued_queries(core: SerfCore, now: float) -> list[Query]:
    """The queries `core` re-gossips (pulled out through a ping's piggyback)."""
    return [m for m in piggyback(core, now) if isinstance(m, Query)]


def ack(q: Query) -> QueryResponse:
    return QueryResponse(q.ltime, q.id, "a", QUERY_FLAG_ACK, b"")


def nodes(*names: str) -> bytes:
    return encode_filter(NodeFilter(names))


def tag(name: str, expr: str) -> bytes:
    return encode_filter(TagFilter(name, expr))


# ---- filters on the receiving side (query.go: shouldProcessQuery) -------------------------------

FILTER_ROWS: dict[str, tuple[tuple[bytes, ...] | None, bool]] = {
    "no-filters": (None, True),
    "empty-filter-list": ((), True),
    "node-listed": ((nodes("x", "a"),), True),
    "node-not-listed": ((nodes("x", "y"),), False),
    "node-list-empty": ((nodes(),), False),
    "tag-match-anywhere": ((tag("role", "erv"),), True),  # Go MatchString is unanchored
    "tag-anchored-miss": ((tag("role", "^erv"),), False),
    "tag-anchored-hit": ((tag("role", "^server$"),), True),
    "tag-alternation": ((tag("dc", "^(dc2|dc1)$"),), True),
    "tag-ascii-digit-class": ((tag("dc", r"^dc\d$"),), True),
    "tag-missing-reads-empty": ((tag("rack", "^$"),), True),
    "tag-missing-no-match": ((tag("rack", "."),), False),
    "tag-regexp-does-not-compile": ((tag("role", "(serv"),), False),
    "all-must-match": ((nodes("a"), tag("role", "^client$")), False),
    "all-match": ((nodes("a"), tag("dc", "1$")), True),
}


@pytest.mark.parametrize(("filters", "ours"), FILTER_ROWS.values(), ids=FILTER_ROWS.keys())
def test_filters_decide_ack_and_delivery_but_never_stop_the_regossip(
    filters: tuple[bytes, ...] | None, ours: bool
) -> None:
    a = fresh()
    q = query(filters=filters)
    inject(a, 2.0, user(q))
    assert replies(a) == ([ack(q)] if ours else [])
    delivered = [e for e in drain_events(a) if isinstance(e, QueryReceived)]
    assert delivered == ([QueryReceived("deploy", b"v2", 5, 77, "asker", 3.2)] if ours else [])
    assert queued_queries(a, 2.0) == [q]  # first sight: passed on either way
    assert decode_errors(a) == 0


MALFORMED_FILTERS = {
    "empty": b"",  # serf would index filter[0] and panic
    "unknown-type": b"\x02\x90",
    "node-list-is-a-map": b"\x00\x81\xa1a\xa1b",
    "node-name-not-a-string": b"\x00\x91\x05",
    "tag-filter-is-an-array": b"\x01\x92\xa1a\xa1b",
    "truncated-msgpack": b"\x01\x82\xa4Expr",
}


@pytest.mark.parametrize("bad", MALFORMED_FILTERS.values(), ids=MALFORMED_FILTERS.keys())
def test_a_malformed_filter_means_not_for_us_and_is_counted(bad: bytes) -> None:
    a = fresh()
    q = query(filters=(nodes("a"), bad))
    inject(a, 2.0, user(q))
    assert replies(a) == []
    assert drain_events(a) == []
    assert queued_queries(a, 2.0) == [q]
    assert decode_errors(a) == 1


def test_tag_filters_read_the_current_tags() -> None:
    a = fresh()
    a.set_tags(1.5, {"role": "client"})
    drain_events(a)
    a.datagrams_to_send()
    inject(a, 2.0, user(query(filters=(tag("role", "^server$"),))))
    assert replies(a) == []
    inject(a, 2.0, user(q := query(6, filters=(tag("role", "^client$"),))))
    assert replies(a) == [ack(q)]


# ---- dedup, flags, clocks -----------------------------------------------------------------------


def test_a_query_is_processed_and_regossiped_once() -> None:
    a = fresh()
    q = query()
    inject(a, 2.0, user(q))
    inject(a, 2.1, user(q))
    assert replies(a) == [ack(q)]
    assert len([e for e in drain_events(a) if isinstance(e, QueryReceived)]) == 1
    assert queued_queries(a, 2.1) == [q]
    assert a.stats()["query_time"] == "6"  # witnessed LTime 5
    same_time_other_id = query(qid=78)
    inject(a, 2.2, user(same_time_other_id))
    assert replies(a) == [ack(same_time_other_id)]


def test_no_broadcast_flag_is_processed_but_not_regossiped() -> None:
    a = fresh()
    q = query(flags=QUERY_FLAG_ACK | QUERY_FLAG_NO_BROADCAST)
    inject(a, 2.0, user(q))
    assert replies(a) == [ack(q)]
    assert queued_queries(a, 2.0) == []


def test_no_ack_flag_no_ack() -> None:
    a = fresh()
    inject(a, 2.0, user(query(flags=0)))
    assert replies(a) == []
    assert [type(e) for e in drain_events(a)] == [QueryReceived]


def test_regossip_is_the_received_bytes_unchanged() -> None:
    a = fresh()
    raw = encode_serf(query()) + b"\x00trailing"  # Go ignores bytes after the body; so do we
    inject(a, 2.0, UserMsg(raw))
    assert replies(a) == [ack(query())]
    assert a.get_broadcasts(2, 1400) == [raw]


def test_queries_from_before_a_restart_are_dropped() -> None:
    a = fresh(restored_clocks=(1, 1, 9))
    inject(a, 2.0, user(query(ltime=9)))
    assert replies(a) == []
    assert queued_queries(a, 2.0) == []
    inject(a, 2.0, user(q := query(ltime=10)))
    assert replies(a) == [ack(q)]


# ---- internal queries (internal_query.go) -------------------------------------------------------


def test_serf_ping_is_acked_and_never_delivered() -> None:
    a = fresh()
    q = query(name="_serf_ping", payload=b"")
    inject(a, 2.0, user(q))
    assert replies(a) == [ack(q)]
    assert drain_events(a) == []
    assert queued_queries(a, 2.0) == [q]


def test_unknown_internal_queries_are_acked_but_not_answered_or_delivered() -> None:
    a = fresh()
    q = query(name="_serf_no-such-query", payload=b"")
    inject(a, 2.0, user(q))
    assert replies(a) == [ack(q)]
    assert drain_events(a) == []


def knowing_b() -> SerfCore:
    """Core a that knows b (tags role=web); nothing queued, no events, no datagrams."""
    a = fresh()
    inject(a, 1.0, alive("b", B, 1, meta=encode_tags({"role": "web"})))
    drain_events(a)
    assert a.datagrams_to_send() == []
    return a


def test_conflict_query_is_answered_with_our_member_record() -> None:
    a = knowing_b()
    q = query(name="_serf_conflict", payload=b"b", flags=0)
    inject(a, 2.0, user(q))
    b = Member("b", B, PORT, {"role": "web"})
    assert replies(a) == [QueryResponse(5, 77, "a", 0, encode_conflict_response(b))]
    assert drain_events(a) == []


def test_conflict_query_about_an_unknown_name_is_answered_with_nil() -> None:
    a = fresh()
    inject(a, 2.0, user(query(name="_serf_conflict", payload=b"nobody", flags=0)))
    assert replies(a) == [QueryResponse(5, 77, "a", 0, b"\x06\xc0")]


def test_conflict_query_about_ourselves_gets_no_answer_but_the_ack() -> None:
    a = fresh()
    q = query(name="_serf_conflict", payload=b"a")
    inject(a, 2.0, user(q))
    assert replies(a) == [ack(q)]


@pytest.mark.parametrize("timeout_ns", [0, -1])
def test_no_answer_once_the_query_deadline_has_passed(timeout_ns: int) -> None:
    """event.go Respond: "response is past the deadline" (a zero timeout is already past)."""
    a = knowing_b()
    inject(a, 2.0, user(q := query(name="_serf_conflict", payload=b"b", timeout_ns=timeout_ns)))
    assert replies(a) == [ack(q)]


def test_filtered_out_conflict_query_is_not_answered() -> None:
    a = knowing_b()
    inject(a, 2.0, user(query(name="_serf_conflict", payload=b"b", filters=(nodes("c"),))))
    assert replies(a) == []


# ---- malformed queries and responses ------------------------------------------------------------

MALFORMED = {
    "query-not-msgpack": b"\x04\xc1",
    "query-missing-fields": b"\x04\x81\xa2ID\x01",
    "query-filters-not-a-list": encode_serf(query())[:1]
    + encode_serf(query())[1:].replace(b"\xa7Filters\xc0", b"\xa7Filters\x05"),
    "response-not-msgpack": b"\x05\xc1",
    "response-from-not-a-string": b"\x05\x85\xa5Flags\x00\xa4From\x05\xa2ID\x01\xa5LTime\x01"
    b"\xa7Payload\xc0",
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_queries_and_responses_are_counted_and_dropped(payload: bytes) -> None:
    a = knowing_b()
    before = snapshot(a)
    inject(a, 2.0, UserMsg(payload))
    assert snapshot(a) == before
    assert a.datagrams_to_send() == []
    assert drain_events(a) == []
    assert decode_errors(a) == 1


# ---- payloads inside queries against Go's bytes -------------------------------------------------

GO_MEMBER = (
    "068ba441646472a40a000002ab44656c656761746543757204ab44656c65676174654d617805ab44656c6567"
    "6174654d696e02a44e616d65a162a4506f7274cd1f0aab50726f746f636f6c43757202ab50726f746f636f6c"
    "4d617805ab50726f746f636f6c4d696e01a653746174757301a45461677381a4726f6c65a6736572766572"
)


def test_conflict_response_matches_go() -> None:
    b = Member("b", B, PORT, {"role": "server"})
    assert encode_conflict_response(b).hex() == GO_MEMBER
    assert encode_conflict_response(None).hex() == "06c0"
    assert decode_conflict_response(bytes.fromhex(GO_MEMBER)) == ConflictAnswer(
        "b", ip_to_bytes(B), PORT
    )
    assert decode_conflict_response(b"\x06\xc0") == ConflictAnswer("", b"", 0)  # Go: zero Member


@pytest.mark.parametrize("bad", [b"", b"\x05\xc0", b"\x06\xc1", b"\x06\x91\x01", b"\x06"])
def test_malformed_conflict_responses_raise(bad: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_conflict_response(bad)


def test_filters_match_go() -> None:
    assert nodes("a", "b").hex() == "0092a161a162"
    assert tag("role", "^serv").hex() == "0182a445787072a55e73657276a3546167a4726f6c65"
    assert decode_filter(bytes.fromhex("0092a161a162")) == NodeFilter(("a", "b"))
    assert decode_filter(bytes.fromhex("0182a445787072a55e73657276a3546167a4726f6c65")) == (
        TagFilter("role", "^serv")
    )
    assert decode_filter(b"\x01\xc0") == TagFilter("", "")  # nil struct: zero values
    assert decode_filter(b"\x00\xc0") == NodeFilter(())


def test_a_query_with_filters_roundtrips() -> None:
    q = query(filters=(nodes("a"), tag("dc", "1")))
    assert decode_serf(encode_serf(q)) == q


# ---- the default timeout (query.go: DefaultQueryTimeout) ----------------------------------------

TIMEOUT_ROWS = {
    "lan-alone": (0.2, 1, 3.2),
    "lan-3": (0.2, 3, 3.2),
    "lan-9": (0.2, 9, 3.2),  # ceil(log10(10)) = 1
    "lan-10": (0.2, 10, 6.4),
    "lan-100": (0.2, 100, 9.6),  # ceil(log10(101)) = 3
    "local-alone": (0.1, 1, 1.6),
    "wan-5": (0.5, 5, 8.0),
}


@pytest.mark.parametrize(("interval", "n", "expected"), TIMEOUT_ROWS.values(), ids=TIMEOUT_ROWS)
def test_default_query_timeout(interval: float, n: int, expected: float) -> None:
    assert default_query_timeout(interval, n) == pytest.approx(expected)
