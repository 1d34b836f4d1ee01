"""gossip.broadcasts: memberlist's TransmitLimitedQueue (queue.go; util.go `retransmitLimit`).

Every queued item is sent exactly max(limit, 1) times, in batches that fit the packet, unless
a newer named broadcast about the same node replaces it.

Besides hand-written cases, a hypothesis test replays random operation sequences against
`GoQueueModel`, a line-by-line transliteration of memberlist 0.2.2's btree-based queue.go
that re-sorts on every step: slow and obviously faithful, so the fast tiers must agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gossip.broadcasts import TransmitLimitedQueue


@dataclass
class _GoItem:
    transmits: int
    msg_len: int
    id: int
    msg: bytes
    name: str | None
    notify: object | None

    def rank(self) -> tuple[int, int, int]:  # limitedBroadcast.Less
        return (self.transmits, -self.msg_len, -self.id)


class GoQueueModel:
    """queue.go transliterated: a list re-sorted into btree order whenever it is walked."""

    def __init__(self) -> None:
        self.items: list[_GoItem] = []
        self.id_gen = 0
        self.finished: list[object] = []

    def _finish(self, item: _GoItem) -> None:
        if item.notify is not None:
            self.finished.append(item.notify)

    def _ordered(self) -> list[_GoItem]:
        return sorted(self.items, key=_GoItem.rank)

    def queue(self, msg: bytes, name: str | None, notify: object | None) -> None:
        self.id_gen += 1
        if name is not None:
            for old in self.items:
                if old.name == name:
                    self._finish(old)
                    self.items.remove(old)
                    break
        self.items.append(_GoItem(0, len(msg), self.id_gen, msg, name, notify))

    def get_broadcasts(self, overhead: int, limit: int, transmit_limit: int) -> list[bytes]:
        if not self.items:
            return []
        bytes_used = 0
        to_send: list[bytes] = []
        reinsert: list[_GoItem] = []
        ordered = self._ordered()
        transmits, max_tr = ordered[0].transmits, ordered[-1].transmits
        while transmits <= max_tr:
            free = limit - bytes_used - overhead
            if free <= 0:
                break
            keep = next(
                (
                    cur
                    for cur in self._ordered()
                    if cur.transmits == transmits and cur.msg_len <= free
                ),
                None,
            )
            if keep is None:
                transmits += 1
                continue
            bytes_used += overhead + keep.msg_len
            to_send.append(keep.msg)
            self.items.remove(keep)
            if keep.transmits + 1 >= transmit_limit:
                self._finish(keep)
            else:
                keep.transmits += 1
                reinsert.append(keep)
        self.items.extend(reinsert)
        return to_send

    def prune(self, max_retain: int) -> None:
        while len(self.items) > max_retain:
            cur = self._ordered()[-1]
            self._finish(cur)
            self.items.remove(cur)

    def reset(self) -> None:
        for cur in self._ordered():
            self._finish(cur)
        self.items = []
        self.id_gen = 0

    def take_finished(self) -> list[object]:
        out, self.finished = self.finished, []
        return out


def msg(tag: str, size: int) -> bytes:
    """A recognisable message of exactly `size` bytes."""
    raw = tag.encode()
    assert len(raw) <= size
    return raw + b"." * (size - len(raw))


# ---------------------------------------------------------------- ordering


def test_empty_queue() -> None:
    queue = TransmitLimitedQueue()
    assert queue.get_broadcasts(2, 1400, 4) == []
    assert len(queue) == 0


def test_bigger_first_then_newer_first_within_a_tier() -> None:
    queue = TransmitLimitedQueue()
    small, big_old, big_new = msg("small", 5), msg("big-old", 10), msg("big-new", 10)
    for m in (small, big_old, big_new):
        queue.queue(m)
    assert queue.get_broadcasts(0, 100, 4) == [big_new, big_old, small]


def test_least_sent_first() -> None:
    queue = TransmitLimitedQueue()
    old = msg("old", 20)
    queue.queue(old)
    assert queue.get_broadcasts(0, 100, 4) == [old]  # old now sent once
    fresh = msg("fresh", 5)
    queue.queue(fresh)
    # fresh is smaller, but unsent: it goes before the bigger, already-sent item.
    assert queue.get_broadcasts(0, 100, 4) == [fresh, old]


def test_takes_biggest_that_fits_and_skips_what_does_not() -> None:
    queue = TransmitLimitedQueue()
    a, b, c = msg("a", 50), msg("b", 30), msg("c", 25)
    for m in (a, b, c):
        queue.queue(m)
    # free = 60 - 2 = 58: a (50) fits; then free = 60 - 52 - 2 = 6: nothing more.
    assert queue.get_broadcasts(2, 60, 4) == [a]
    # next call: tier 0 holds b, c; 58 free -> b (30); then 60-32-2 = 26 -> c (25).
    assert queue.get_broadcasts(2, 60, 4) == [b, c]


def test_lower_tier_first_even_when_higher_tier_item_is_bigger() -> None:
    queue = TransmitLimitedQueue()
    big = msg("big", 40)
    queue.queue(big)
    queue.get_broadcasts(0, 100, 4)  # big -> tier 1
    small = msg("small", 10)
    queue.queue(small)
    # limit 45: small (tier 0) first, then big no longer fits.
    assert queue.get_broadcasts(0, 45, 4) == [small]


def test_one_call_never_sends_an_item_twice() -> None:
    queue = TransmitLimitedQueue()
    only = msg("only", 4)
    queue.queue(only)
    assert queue.get_broadcasts(0, 1000, 10) == [only]


def test_every_batch_respects_limit_with_overhead() -> None:
    queue = TransmitLimitedQueue()
    for i in range(20):
        queue.queue(msg(f"m{i}", 10 + i))
    batch = queue.get_broadcasts(3, 100, 4)
    assert sum(len(m) + 3 for m in batch) <= 100
    assert batch  # something fits


@pytest.mark.parametrize(
    ("overhead", "limit"),
    [
        pytest.param(2, 2, id="free-zero"),
        pytest.param(5, 3, id="free-negative"),
        pytest.param(0, 9, id="all-too-big"),
    ],
)
def test_nothing_fits(overhead: int, limit: int) -> None:
    queue = TransmitLimitedQueue()
    queue.queue(msg("x", 10))
    assert queue.get_broadcasts(overhead, limit, 4) == []
    assert len(queue) == 1


def test_zero_length_messages_need_positive_free_space() -> None:
    queue = TransmitLimitedQueue()
    for _ in range(3):
        queue.queue(b"")
    assert queue.get_broadcasts(1, 1, 4) == []  # free = 0: memberlist bails out
    assert queue.get_broadcasts(0, 1, 4) == [b"", b"", b""]


def test_exactly_full_packet_stops_before_zero_length_items() -> None:
    queue = TransmitLimitedQueue()
    five = msg("five", 5)
    queue.queue(b"")
    queue.queue(five)
    # five fills the packet exactly; free = 0 stops the walk before the empty one.
    assert queue.get_broadcasts(0, 5, 4) == [five]
    assert len(queue) == 2


# ---------------------------------------------------------------- retransmit limit


@pytest.mark.parametrize(
    ("transmit_limit", "expected_sends"),
    [
        pytest.param(0, 1, id="limit0-n0-still-sent-once"),
        pytest.param(1, 1, id="limit1"),
        pytest.param(4, 4, id="lan-n1..9"),
        pytest.param(8, 8, id="lan-n10..99"),
    ],
)
def test_transmit_limit_exact(transmit_limit: int, expected_sends: int) -> None:
    queue = TransmitLimitedQueue()
    queue.queue(msg("x", 10), notify="done")
    sends = 0
    for _ in range(expected_sends + 3):
        batch = queue.get_broadcasts(2, 1400, transmit_limit)
        sends += len(batch)
        if sends < expected_sends:
            assert queue.take_finished() == []
    assert sends == expected_sends
    assert len(queue) == 0
    assert queue.take_finished() == ["done"]
    assert queue.take_finished() == []


def test_lowered_limit_retires_items_already_past_it() -> None:
    queue = TransmitLimitedQueue()
    queue.queue(msg("x", 10))
    for _ in range(3):
        queue.get_broadcasts(0, 100, 8)
    assert queue.get_broadcasts(0, 100, 2) == [msg("x", 10)]  # transmits 3 + 1 >= 2
    assert len(queue) == 0


@settings(max_examples=75, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=40),
    overhead=st.integers(min_value=0, max_value=4),
    # The largest item (2-byte id + 120) plus the largest overhead (4) must fit: 126.
    limit=st.integers(min_value=126, max_value=400),
    transmit_limit=st.integers(min_value=0, max_value=8),
)
def test_each_item_sent_exactly_max_limit_1_times(
    sizes: list[int], overhead: int, limit: int, transmit_limit: int
) -> None:
    queue = TransmitLimitedQueue()
    for i, size in enumerate(sizes):
        queue.queue(i.to_bytes(2, "big") + b"." * size, notify=i)
    counts: Counter[bytes] = Counter()
    finished: list[object] = []
    for _ in range(len(sizes) * max(transmit_limit, 1) + 1):
        batch = queue.get_broadcasts(overhead, limit, transmit_limit)
        if not batch:
            break
        assert sum(len(m) + overhead for m in batch) <= limit
        assert len(set(batch)) == len(batch)
        counts.update(batch)
        finished.extend(queue.take_finished())
    assert len(queue) == 0
    assert len(counts) == len(sizes)
    assert set(counts.values()) == {max(transmit_limit, 1)}
    assert sorted(finished) == list(range(len(sizes)))  # each token exactly once


# ---------------------------------------------------------------- invalidation


def test_named_broadcast_replaces_queued_one() -> None:
    queue = TransmitLimitedQueue()
    alive = msg("alive-n1-inc1", 20)
    suspect = msg("suspect-n1-inc1", 20)
    other = msg("alive-n2", 20)
    queue.queue(alive, name="n1", notify="alive-token")
    queue.queue(other, name="n2")
    queue.queue(suspect, name="n1", notify="suspect-token")
    assert len(queue) == 2
    assert queue.take_finished() == ["alive-token"]
    assert queue.get_broadcasts(0, 1400, 4) == [suspect, other]


def test_replacement_restarts_at_tier_zero() -> None:
    queue = TransmitLimitedQueue()
    queue.queue(msg("old", 10), name="n1")
    queue.queue(msg("bystander", 30))
    queue.get_broadcasts(0, 1400, 4)
    queue.get_broadcasts(0, 1400, 4)  # both at 2 transmits now
    newer = msg("new", 10)
    queue.queue(newer, name="n1")
    assert queue.get_broadcasts(0, 15, 4) == [newer]  # least-sent beats the bigger bystander
    for _ in range(3):
        queue.get_broadcasts(0, 1400, 4)
    assert len(queue) == 0


def test_unique_broadcasts_never_invalidated() -> None:
    queue = TransmitLimitedQueue()
    intent = msg("join-intent", 15)
    queue.queue(intent)
    queue.queue(intent)
    assert len(queue) == 2
    assert queue.get_broadcasts(0, 1400, 4) == [intent, intent]


def test_replacing_an_item_in_the_middle_of_a_tier() -> None:
    queue = TransmitLimitedQueue()
    big, mid, small = msg("big", 30), msg("mid-old", 20), msg("small", 10)
    queue.queue(big, name="n1")
    queue.queue(mid, name="n2", notify="mid")
    queue.queue(small, name="n3")
    mid_new = msg("mid-new", 25)
    queue.queue(mid_new, name="n2")
    assert queue.take_finished() == ["mid"]
    assert queue.get_broadcasts(0, 1400, 4) == [big, mid_new, small]


# ---------------------------------------------------------------- prune, reset, tokens


def test_prune_keeps_least_transmitted() -> None:
    queue = TransmitLimitedQueue()
    old = [msg(f"old{i}", 10) for i in range(3)]
    for i, m in enumerate(old):
        queue.queue(m, notify=f"old{i}")
    queue.get_broadcasts(0, 1400, 10)  # all three at 1 transmit
    fresh = [msg(f"new{i}", 10) for i in range(2)]
    for i, m in enumerate(fresh):
        queue.queue(m, notify=f"new{i}")
    queue.prune(3)
    assert len(queue) == 3
    # Dropped from the highest tier, oldest first (memberlist removes the btree max).
    assert queue.take_finished() == ["old0", "old1"]
    assert queue.get_broadcasts(0, 1400, 10) == [fresh[1], fresh[0], old[2]]


def test_prune_to_zero_and_noop() -> None:
    queue = TransmitLimitedQueue()
    for i in range(4):
        queue.queue(msg(f"m{i}", 5 + i), notify=i)
    queue.prune(10)
    assert len(queue) == 4
    assert queue.take_finished() == []
    queue.prune(0)
    assert len(queue) == 0
    assert queue.take_finished() == [0, 1, 2, 3]  # shortest first within the tier


def test_reset_finishes_everything_in_rank_order() -> None:
    queue = TransmitLimitedQueue()
    queue.queue(msg("a", 5), notify="a")
    queue.queue(msg("b", 9), notify="b")
    queue.queue(msg("c", 5), name="c", notify="c")
    queue.queue(msg("quiet", 5))
    queue.reset()
    assert len(queue) == 0
    assert queue.take_finished() == ["b", "c", "a"]
    assert queue.get_broadcasts(0, 1400, 4) == []
    queue.queue(msg("c2", 5), name="c")  # the name index was cleared too
    assert len(queue) == 1
    assert queue.take_finished() == []


# ---------------------------------------------------------------- against the Go model

_names = st.one_of(st.none(), st.sampled_from(["n1", "n2", "n3", "n4", "n5", "n6"]))
_queue_op = st.tuples(
    st.just("queue"),
    st.one_of(st.just(0), st.integers(min_value=2, max_value=60)),
    _names,
    st.booleans(),
)
_get_op = st.tuples(
    st.just("get"),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=160),
    st.integers(min_value=0, max_value=6),
)
_prune_op = st.tuples(st.just("prune"), st.integers(min_value=0, max_value=30))
_reset_op = st.tuples(st.just("reset"))
# Weighted by repetition: mostly queue and get, so queues grow deep enough for invalidation
# to hit items in the middle of a tier; prune and reset are rare.
_ops = st.one_of(_queue_op, _queue_op, _queue_op, _queue_op, _get_op, _get_op, _get_op, _prune_op)
_ops_with_reset = st.one_of(_ops, _ops, _ops, _ops, _ops, _ops, _ops, _ops, _ops, _reset_op)


def replay_against_model(ops: list[tuple[object, ...]]) -> None:
    """Apply `ops` to the queue and to GoQueueModel; every output must agree."""
    queue = TransmitLimitedQueue()
    model = GoQueueModel()
    serial = 0
    for op in ops:
        match op:
            case ("queue", int(size), name, bool(with_token)):
                serial += 1
                assert isinstance(name, str | None)
                payload = serial.to_bytes(2, "big") + b"." * (size - 2) if size else b""
                token = serial if with_token else None
                queue.queue(payload, name=name, notify=token)
                model.queue(payload, name, token)
            case ("get", int(overhead), int(limit), int(transmit_limit)):
                got = queue.get_broadcasts(overhead, limit, transmit_limit)
                assert got == model.get_broadcasts(overhead, limit, transmit_limit)
                assert sum(len(m) + overhead for m in got) <= max(limit, 0)
            case ("prune", int(max_retain)):
                queue.prune(max_retain)
                model.prune(max_retain)
            case ("reset",):
                queue.reset()
                model.reset()
        assert len(queue) == len(model.items)
        assert queue.take_finished() == model.take_finished()


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(_ops_with_reset, min_size=10, max_size=120))
def test_matches_memberlist_transliteration(ops: list[tuple[object, ...]]) -> None:
    replay_against_model(ops)


_named_queue_op = st.tuples(
    st.just("queue"),
    st.integers(min_value=2, max_value=40),
    st.sampled_from(["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"]),
    st.booleans(),
)
_small_get_op = st.tuples(
    st.just("get"),
    st.just(2),
    st.integers(min_value=0, max_value=90),
    st.integers(min_value=2, max_value=6),
)


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.one_of(_named_queue_op, _small_get_op), min_size=10, max_size=80))
def test_invalidation_in_deep_queues_matches_memberlist(ops: list[tuple[object, ...]]) -> None:
    # Mostly named items and small packets: queues stay deep and spread over several tiers,
    # so replacements hit items in the middle of a tier.
    replay_against_model(ops)
