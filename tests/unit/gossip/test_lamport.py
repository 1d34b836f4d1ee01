"""gossip.lamport: serf's Lamport clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip.lamport import LamportClock


def test_serf_first_usable_time_is_one() -> None:
    clock = LamportClock()
    assert clock.time() == 0
    assert clock.increment() == 1
    assert clock.time() == 1


@pytest.mark.parametrize(
    ("start", "witnessed", "expected"),
    [
        pytest.param(1, 1, 2, id="equal-jumps-past"),
        pytest.param(1, 5, 6, id="newer-jumps-past"),
        pytest.param(5, 3, 5, id="older-ignored"),
        pytest.param(5, 4, 5, id="just-older-ignored"),
        pytest.param(0, 0, 1, id="zero"),
    ],
)
def test_witness(start: int, witnessed: int, expected: int) -> None:
    clock = LamportClock(start)
    clock.witness(witnessed)
    assert clock.time() == expected


def test_join_intent_sequence() -> None:
    # serf: clock incremented at Create (1); a join intent carries LTime 1 and is witnessed.
    clock = LamportClock()
    clock.increment()
    clock.witness(clock.time())
    assert clock.time() == 2


def test_rejects_negative_start() -> None:
    with pytest.raises(ValueError):
        LamportClock(-1)


@given(
    start=st.integers(min_value=0, max_value=1_000),
    ops=st.lists(
        st.one_of(st.just(None), st.integers(min_value=-5, max_value=2_000)),
        max_size=60,
    ),
)
def test_never_decreases_and_witness_passes_t(start: int, ops: list[int | None]) -> None:
    clock = LamportClock(start)
    for op in ops:
        before = clock.time()
        if op is None:
            assert clock.increment() == before + 1
        else:
            clock.witness(op)
            assert clock.time() > op
            assert clock.time() == max(before, op + 1)
        assert clock.time() >= before
