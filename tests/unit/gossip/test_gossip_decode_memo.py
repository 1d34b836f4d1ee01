"""Gossiped messages are decoded once per process and shared by every receipt.

An alive, suspect or dead part, and a serf intent, user event or query, reach every node of a
simulated cluster many times with the same bytes; `decode_packet` and `decode_serf_gossip`
hand back one frozen object per distinct byte string. These tests pin that the memo gives the
same answer as a plain decode, shares it, and never remembers a failure.
"""

from __future__ import annotations

from gossip.codec import (
    decode_packet,
    decode_serf,
    decode_serf_gossip,
    encode,
    encode_compound,
    encode_serf,
)
from gossip.memberlist_codec import PACKET_DECODERS, build
from gossip.messages import (
    Alive,
    Dead,
    JoinIntent,
    MessageType,
    Ping,
    SerfPushPull,
    Suspect,
    UserEvent,
    UserMsg,
)
from gossip.wire import unpack_first

VSN = bytes((1, 5, 2, 2, 5, 4))
ALIVE = Alive(3, "n7", bytes((127, 1, 0, 7)), 7946, b"\xff\x81\xa4role\xa5bench", VSN)
SUSPECT = Suspect(3, "n7", "n2")
DEAD = Dead(3, "n7", "n2")


def plain(part: bytes) -> object:
    """The part decoded without any memo."""
    return build(PACKET_DECODERS[part[0]], unpack_first(part[1:]))


def test_each_gossiped_part_decodes_once_and_every_receipt_shares_it() -> None:
    parts = [encode(m) for m in (ALIVE, SUSPECT, DEAD)]
    ping = encode(Ping(9, "n7"))
    # Two different datagrams (as from two senders) carrying the same broadcasts.
    first = decode_packet(encode_compound([ping, *parts]))
    second = decode_packet(encode_compound([*reversed(parts), encode(Ping(10, "n7"))]))
    assert first.errors == second.errors == 0
    assert first.messages[1:] == [ALIVE, SUSPECT, DEAD] == [plain(p) for p in parts]
    for got, again in zip(first.messages[1:], reversed(second.messages[:3]), strict=True):
        assert got is again
    alone = decode_packet(parts[0]).messages  # a single message, not in a compound
    assert alone == [ALIVE] and alone[0] is first.messages[1]
    assert first.messages[0] is not second.messages[3]  # probes are unique: not shared


def test_a_bad_gossiped_part_is_counted_every_time_and_spoils_nothing_else() -> None:
    bad = bytes((MessageType.ALIVE,)) + b"\x81\xa4Node\xa2n7"  # no Incarnation, Addr ...
    good = encode(DEAD)
    for _ in range(2):  # a failure is not remembered: the second receipt fails the same way
        packet = decode_packet(encode_compound([bad, good]))
        assert packet.errors == 1 and packet.messages == [DEAD]


def test_user_message_parts_are_shared_with_their_payload() -> None:
    intent = encode_serf(JoinIntent(12, "n7"))
    part = bytes((MessageType.USER,)) + intent
    one = decode_packet(encode_compound([encode(ALIVE), part])).messages[1]
    two = decode_packet(encode_compound([part, encode(DEAD)])).messages[0]
    assert one == UserMsg(intent) and one is two


def test_serf_broadcasts_decode_once_and_other_serf_messages_every_time() -> None:
    for msg in (JoinIntent(12, "n7"), UserEvent(4, "deploy", b"v2", cc=True)):
        data = encode_serf(msg)
        got = decode_serf_gossip(data)
        assert got == msg == decode_serf(data)
        assert decode_serf_gossip(bytes(bytearray(data))) is got  # equal bytes, another object
    state = encode_serf(SerfPushPull(ltime=9, status_ltimes={"n7": 3}))
    # Not a broadcast, and it holds a dict: each receipt gets its own.
    assert decode_serf_gossip(state) == decode_serf(state)
    assert decode_serf_gossip(state) is not decode_serf_gossip(state)
