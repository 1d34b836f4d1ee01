"""gossip.awareness: memberlist's clamped Lifeguard health score."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip.awareness import Awareness


def test_starts_healthy() -> None:
    awareness = Awareness(8)
    assert awareness.score == 0
    assert awareness.max_multiplier == 8
    assert awareness.scale_timeout(1.0) == 1.0


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        pytest.param([1], 1, id="one-failed-probe"),
        pytest.param([1, 1, -1], 1, id="fail-fail-success"),
        pytest.param([-1], 0, id="clamped-at-zero"),
        pytest.param([3, 3, 3], 7, id="clamped-at-max-minus-one"),
        pytest.param([100, -2], 5, id="clamp-then-recover"),
        pytest.param([2, 0], 2, id="zero-delta"),
    ],
)
def test_apply_delta(deltas: list[int], expected: int) -> None:
    awareness = Awareness(8)
    for delta in deltas:
        awareness.apply_delta(delta)
    assert awareness.score == expected


@pytest.mark.parametrize(
    ("score", "timeout", "expected"),
    [
        pytest.param(0, 0.5, 0.5, id="healthy"),
        pytest.param(1, 0.5, 1.0, id="score1"),
        pytest.param(7, 1.0, 8.0, id="worst"),
    ],
)
def test_scale_timeout(score: int, timeout: float, expected: float) -> None:
    awareness = Awareness(8)
    awareness.apply_delta(score)
    assert awareness.scale_timeout(timeout) == expected


def test_max_multiplier_one_never_scales() -> None:
    awareness = Awareness(1)
    awareness.apply_delta(5)
    assert awareness.score == 0
    assert awareness.scale_timeout(2.0) == 2.0


def test_rejects_empty_range() -> None:
    with pytest.raises(ValueError):
        Awareness(0)


@given(
    max_multiplier=st.integers(min_value=1, max_value=16),
    deltas=st.lists(st.integers(min_value=-20, max_value=20), max_size=50),
)
def test_score_always_clamped(max_multiplier: int, deltas: list[int]) -> None:
    awareness = Awareness(max_multiplier)
    for delta in deltas:
        before = awareness.score
        awareness.apply_delta(delta)
        assert 0 <= awareness.score <= max_multiplier - 1
        expected = min(max(before + delta, 0), max_multiplier - 1)
        assert awareness.score == expected
