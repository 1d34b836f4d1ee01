"""gossip.serf_codec (re-exported by gossip.codec): serf payloads (serf messages.go) and tags
(serf.go `encodeTags`, `decodeTags`).

GO_BODIES were produced by go-msgpack 0.5.5's encoder on go1.19 (Debian packages) with
serf 0.9.4's struct definitions (`serf/messages.go`).
"""

from __future__ import annotations

import contextlib
import sys

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip.codec import decode_serf, decode_tags, encode_serf, encode_tags
from gossip.errors import DecodeError
from gossip.messages import (
    JoinIntent,
    LeaveIntent,
    Query,
    QueryResponse,
    SerfMessage,
    SerfPushPull,
    UserEvent,
    UserEventRecord,
    UserEvents,
)

LO = bytes.fromhex("7f000001")

names = st.text(st.characters(codec="utf-8"), max_size=12)
u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 2**64 - 1)
blobs = st.binary(max_size=24)

user_events = st.builds(
    UserEvents,
    ltime=u64,
    events=st.lists(st.builds(UserEventRecord, name=names, payload=blobs), max_size=3).map(tuple),
)
serf_messages: st.SearchStrategy[SerfMessage] = st.one_of(
    st.builds(LeaveIntent, ltime=u64, node=names, prune=st.booleans()),
    st.builds(JoinIntent, ltime=u64, node=names),
    st.builds(
        SerfPushPull,
        ltime=u64,
        status_ltimes=st.dictionaries(names, u64, max_size=5),
        left_members=st.lists(names, max_size=4).map(tuple),
        event_ltime=u64,
        events=st.lists(st.none() | user_events, max_size=5).map(tuple),
        query_ltime=u64,
    ),
    st.builds(UserEvent, ltime=u64, name=names, payload=blobs, cc=st.booleans()),
    st.builds(
        Query,
        ltime=u64,
        id=u32,
        addr=blobs,
        port=u16,
        source_node=names,
        filters=st.none() | st.lists(blobs, max_size=3).map(tuple),
        flags=u32,
        relay_factor=u8,
        timeout_ns=st.integers(-(2**63), 2**63 - 1),
        name=names,
        payload=blobs,
    ),
    st.builds(QueryResponse, ltime=u64, id=u32, from_node=names, flags=u32, payload=blobs),
)


def packed(body: object) -> bytes:
    return msgpack.packb(body, use_bin_type=False)


GO_BODIES = [
    (0, LeaveIntent(7, "n1", prune=True), "83a54c54696d6507a44e6f6465a26e31a55072756e65c3"),
    (1, JoinIntent(1 << 40, "n1"), "82a54c54696d65cf0000010000000000a44e6f6465a26e31"),
    (
        3,
        UserEvent(3, "deploy", b"v1", cc=True),
        "84a24343c3a54c54696d6503a44e616d65a66465706c6f79a75061796c6f6164a27631",
    ),
    (
        4,
        Query(4, 77, LO, 7946, "n1", (bytes.fromhex("0091a161"),), 1, 2, 5 * 10**9, "q", b"p"),
        "8ba441646472a47f000001a746696c7465727391a40091a161a5466c61677301a249444da54c54696d65"
        "04a44e616d65a171a75061796c6f6164a170a4506f7274cd1f0aab52656c6179466163746f7202aa536f"
        "757263654e6f6465a26e31a754696d656f7574cf000000012a05f200",
    ),
    (
        5,
        QueryResponse(4, 77, "n2", 1, b"ok"),
        "85a5466c61677301a446726f6da26e32a249444da54c54696d6504a75061796c6f6164a26f6b",
    ),
    (
        2,
        SerfPushPull(
            ltime=5,
            status_ltimes={"n1": 2},
            left_members=(),
            event_ltime=6,
            events=(None, UserEvents(3, (UserEventRecord("e", b"x"),))),
            query_ltime=7,
        ),
        "86aa4576656e744c54696d6506a64576656e747392c082a64576656e74739182a44e616d65a165a750"
        "61796c6f6164a178a54c54696d6503a54c54696d6505ab4c6566744d656d6265727390aa5175657279"
        "4c54696d6507ac5374617475734c54696d657381a26e3102",
    ),
]


@pytest.mark.parametrize(
    ("kind", "msg", "go_hex"), GO_BODIES, ids=[type(m).__name__ for _, m, _ in GO_BODIES]
)
def test_bodies_match_go_msgpack(kind: int, msg: SerfMessage, go_hex: str) -> None:
    data = encode_serf(msg)
    assert data[0] == kind
    assert data[1:].hex() == go_hex
    assert decode_serf(data) == msg


def test_query_with_nil_filters_and_payload_from_go() -> None:
    go = bytes.fromhex(
        "8ba441646472a47f000001a746696c74657273c0a5466c61677300a249444da54c54696d6504a44e616d"
        "65a171a75061796c6f6164c0a4506f7274cd1f0aab52656c6179466163746f7200aa536f757263654e6f"
        "6465a26e31a754696d656f7574ff"
    )
    assert decode_serf(b"\x04" + go) == Query(4, 77, LO, 7946, "n1", None, 0, 0, -1, "q", b"")


@settings(max_examples=250, deadline=None)
@given(serf_messages)
def test_roundtrip(msg: SerfMessage) -> None:
    assert decode_serf(encode_serf(msg)) == msg


def test_push_pull_event_ring_encoding() -> None:
    quiet = SerfPushPull(ltime=1, events=(None,) * 512)
    body = msgpack.unpackb(encode_serf(quiet)[1:])
    assert body["Events"] == [None] * 512
    assert decode_serf(encode_serf(quiet)) == quiet
    assert msgpack.unpackb(encode_serf(SerfPushPull(ltime=1))[1:])["Events"] is None


def test_push_pull_from_older_serf_without_event_fields() -> None:
    body = packed({"LTime": 9, "LeftMembers": None, "StatusLTimes": {"a": 1}})
    assert decode_serf(b"\x02" + body) == SerfPushPull(ltime=9, status_ltimes={"a": 1})


def test_status_ltimes_keep_the_table_order_on_the_wire() -> None:
    msg = SerfPushPull(ltime=1, status_ltimes={"zeta": 1, "alpha": 2, "mid": 3})
    raw = encode_serf(msg)
    assert raw.index(b"zeta") < raw.index(b"alpha") < raw.index(b"mid")
    assert decode_serf(raw) == msg


def test_decoded_member_names_are_interned() -> None:
    name = "".join(["serf-", "node"])
    msg = decode_serf(encode_serf(SerfPushPull(ltime=1, status_ltimes={name: 1})))
    assert isinstance(msg, SerfPushPull)
    (key,) = msg.status_ltimes
    assert key is sys.intern(name)
    join = decode_serf(encode_serf(JoinIntent(1, name)))
    assert isinstance(join, JoinIntent) and join.node is key


REFUSED = {
    "empty": b"",
    "conflict": b"\x06\x80",
    "key-request": b"\x07\x80",
    "key-response": b"\x08\x80",
    "relay": b"\x09\x80",
    "unknown": b"\x20\x80",
    "not-a-map": b"\x01\x92\x01\xa1a",
    "missing-ltime": b"\x01" + packed({"Node": "a"}),
    "bin-node": b"\x01" + msgpack.packb({"LTime": 1, "Node": b"a"}, use_bin_type=True),
    "ltime-negative": b"\x01" + packed({"LTime": -1, "Node": "a"}),
    "id-overflow": b"\x05"
    + packed({"Flags": 0, "From": "a", "ID": 1 << 32, "LTime": 1, "Payload": b""}),
    "bad-msgpack": b"\x00\xc1",
    "truncated": encode_serf(LeaveIntent(1, "node", True))[:-1],
    "status-not-map": b"\x02" + packed({"LTime": 1, "StatusLTimes": [1]}),
    "status-bin-key": b"\x02"
    + msgpack.packb({"LTime": 1, "StatusLTimes": {b"a": 1}}, use_bin_type=True),
    "event-slot-not-map": b"\x02" + packed({"LTime": 1, "Events": [1]}),
    "event-slot-no-ltime": b"\x02" + packed({"LTime": 1, "Events": [{"Events": []}]}),
    "query-filters-not-list": b"\x04"
    + packed(
        {
            "Addr": LO,
            "Filters": 1,
            "Flags": 0,
            "ID": 1,
            "LTime": 1,
            "Name": "q",
            "Payload": b"",
            "Port": 1,
            "RelayFactor": 0,
            "SourceNode": "n",
            "Timeout": 0,
        }
    ),
    "relay-factor-overflow": b"\x04"
    + encode_serf(Query(1, 1, LO, 1, "n", None, 0, 0, 0, "q", b""))[1:].replace(
        b"RelayFactor\x00", b"RelayFactor\xcd\x01\x00"
    ),
}


@pytest.mark.parametrize("data", REFUSED.values(), ids=REFUSED.keys())
def test_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_serf(data)


def test_encode_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        encode_serf(UserEventRecord("a", b""))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10), st.binary(max_size=150))
def test_decode_serf_raises_only_decode_error(kind: int, body: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_serf(bytes([kind]) + body)


# ---- tags ----------------------------------------------------------------------------------


def test_tags_encoding() -> None:
    assert encode_tags({}) == b"\xff\x80"
    assert encode_tags({"role": "web"}) == bytes.fromhex("ff81a4726f6c65a3776562")  # Go's bytes
    assert encode_tags({"b": "2", "a": "1"}) == b"\xff" + packed({"a": "1", "b": "2"})
    assert encode_tags({"a": "b"}) == bytes.fromhex("ff81a161a162")  # the golden alive's Meta


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(names, names, max_size=6))
def test_tags_roundtrip(tags: dict[str, str]) -> None:
    assert decode_tags(encode_tags(tags)) == tags


@pytest.mark.parametrize(
    ("meta", "tags"),
    [
        (b"", {"role": ""}),
        (b"web", {"role": "web"}),
        (b"\xfe\x80", {"role": "\ufffd\ufffd"}),
        (b"\xff\xc0", {}),  # a nil map
        (b"\xff\x81\xa1a\xa1b" + b"trailing", {"a": "b"}),  # Go reads one object
    ],
    ids=["empty", "role", "not-utf8-role", "nil-map", "trailing"],
)
def test_decode_tags_legacy_and_lax_forms(meta: bytes, tags: dict[str, str]) -> None:
    assert decode_tags(meta) == tags


@pytest.mark.parametrize(
    "meta",
    [
        b"\xff",
        b"\xff\xc1",
        b"\xff\x81\xa1a",  # truncated
        b"\xff\x91\xa1a",  # an array
        b"\xff" + msgpack.packb({"a": b"b"}, use_bin_type=True),  # bin value
        b"\xff" + packed({"a": 1}),
    ],
    ids=["only-magic", "c1", "truncated", "array", "bin-value", "int-value"],
)
def test_decode_tags_refuses_malformed(meta: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_tags(meta)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_decode_tags_raises_only_decode_error(meta: bytes) -> None:
    for candidate in (meta, b"\xff" + meta):
        with contextlib.suppress(DecodeError):
            assert isinstance(decode_tags(candidate), dict)
