"""Table tests for gossip.timing: memberlist 0.2.2's formulas, with values worked by hand."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip.timing import (
    push_pull_scale,
    remaining_suspicion_time,
    retransmit_limit,
    suspicion_k,
    suspicion_timeout,
)


@pytest.mark.parametrize(
    ("mult", "n", "interval", "expected"),
    [
        pytest.param(4, 0, 1.0, 4.0, id="lan-n0-clamped-to-1"),
        pytest.param(4, 1, 1.0, 4.0, id="lan-n1"),
        pytest.param(4, 3, 1.0, 4.0, id="lan-n3"),
        pytest.param(4, 10, 1.0, 4.0, id="lan-n10"),
        pytest.param(4, 20, 1.0, 5.204, id="lan-n20-scale-truncated-1.301"),
        pytest.param(4, 50, 1.0, 6.792, id="lan-n50-scale-truncated-1.698"),
        pytest.param(4, 100, 1.0, 8.0, id="lan-n100"),
        pytest.param(4, 1000, 1.0, 12.0, id="lan-n1000"),
        pytest.param(4, 5000, 1.0, 14.792, id="lan-n5000-scale-truncated-3.698"),
        pytest.param(6, 10, 5.0, 30.0, id="wan-n10"),
        pytest.param(6, 100, 5.0, 60.0, id="wan-n100"),
        pytest.param(3, 10, 1.0, 3.0, id="local-n10"),
    ],
)
def test_suspicion_timeout(mult: int, n: int, interval: float, expected: float) -> None:
    assert suspicion_timeout(mult, n, interval) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("n", "expected_min", "expected_max"),
    [
        pytest.param(5, 4.0, 24.0, id="n<=10"),
        pytest.param(100, 8.0, 48.0, id="n100"),
    ],
)
def test_worked_min_max(n: int, expected_min: float, expected_max: float) -> None:
    min_timeout = suspicion_timeout(4, n, 1.0)
    assert min_timeout == expected_min
    assert 6 * min_timeout == expected_max  # SuspicionMaxTimeoutMult = 6


@pytest.mark.parametrize(
    ("mult", "n", "expected"),
    [
        pytest.param(4, 0, 0, id="lan-n0"),
        pytest.param(4, 3, 0, id="lan-n3-too-few-to-confirm"),
        pytest.param(4, 4, 2, id="lan-n4"),
        pytest.param(4, 10, 2, id="lan-n10"),
        pytest.param(4, 1000, 2, id="lan-n1000"),
        pytest.param(6, 5, 0, id="wan-n5"),
        pytest.param(6, 6, 4, id="wan-n6"),
        pytest.param(3, 2, 0, id="local-n2"),
        pytest.param(3, 3, 1, id="local-n3"),
        pytest.param(2, 100, 0, id="mult2-k0"),
        pytest.param(1, 100, 0, id="mult1-negative-clamped"),
    ],
)
def test_suspicion_k(mult: int, n: int, expected: int) -> None:
    assert suspicion_k(mult, n) == expected


@pytest.mark.parametrize(
    ("confirmations", "k", "elapsed", "min_timeout", "max_timeout", "expected"),
    [
        pytest.param(0, 2, 0.0, 4.0, 24.0, 24.0, id="k2-c0-max"),
        pytest.param(1, 2, 0.0, 4.0, 24.0, 11.381, id="k2-c1-ms-floored"),
        pytest.param(2, 2, 0.0, 4.0, 24.0, 4.0, id="k2-c2-min"),
        pytest.param(1, 2, 5.0, 4.0, 24.0, 6.381, id="k2-c1-elapsed-subtracted"),
        pytest.param(2, 2, 30.0, 4.0, 24.0, -26.0, id="k2-c2-overdue-negative"),
        pytest.param(3, 2, 0.0, 4.0, 24.0, 4.0, id="beyond-k-clamped-to-min"),
        pytest.param(1, 4, 0.0, 4.0, 24.0, 15.386, id="k4-c1"),
        pytest.param(2, 4, 0.0, 4.0, 24.0, 10.347, id="k4-c2"),
        pytest.param(3, 4, 0.0, 4.0, 24.0, 6.772, id="k4-c3"),
        pytest.param(4, 4, 0.0, 4.0, 24.0, 4.0, id="k4-c4"),
        pytest.param(1, 1, 0.0, 4.0, 24.0, 4.0, id="k1-c1"),
        pytest.param(1, 2, 0.0, 6.792, 40.752, 19.325, id="n50-k2-c1"),
        pytest.param(2, 2, 0.0, 6.792, 40.752, 6.792, id="n50-k2-c2-min-not-floored-below"),
        pytest.param(0, 0, 0.0, 4.0, 24.0, 4.0, id="k0-min-path"),
        pytest.param(0, 0, 1.5, 4.0, 24.0, 2.5, id="k0-min-path-elapsed"),
    ],
)
def test_remaining_suspicion_time(
    confirmations: int,
    k: int,
    elapsed: float,
    min_timeout: float,
    max_timeout: float,
    expected: float,
) -> None:
    got = remaining_suspicion_time(confirmations, k, elapsed, min_timeout, max_timeout)
    assert got == pytest.approx(expected, abs=1e-9)


@given(
    k=st.integers(min_value=1, max_value=10),
    min_ms=st.integers(min_value=1, max_value=120_000),
    max_mult=st.integers(min_value=1, max_value=10),
)
def test_remaining_is_within_bounds_and_non_increasing(k: int, min_ms: int, max_mult: int) -> None:
    min_timeout = min_ms / 1000
    max_timeout = min_timeout * max_mult
    totals = [remaining_suspicion_time(c, k, 0.0, min_timeout, max_timeout) for c in range(k + 2)]
    assert all(min_timeout <= t <= max_timeout for t in totals)
    assert all(a >= b for a, b in itertools.pairwise(totals))
    assert totals[k] == min_timeout


@pytest.mark.parametrize(
    ("mult", "n", "expected"),
    [
        pytest.param(4, 0, 0, id="n0"),
        pytest.param(4, 1, 4, id="n1"),
        pytest.param(4, 9, 4, id="n9"),
        pytest.param(4, 10, 8, id="n10"),
        pytest.param(4, 99, 8, id="n99"),
        pytest.param(4, 100, 12, id="n100"),
        pytest.param(4, 999, 12, id="n999"),
        pytest.param(4, 1000, 16, id="n1000"),
        pytest.param(2, 5, 2, id="local-n5"),
    ],
)
def test_retransmit_limit(mult: int, n: int, expected: int) -> None:
    assert retransmit_limit(mult, n) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        pytest.param(1, 9, 4, id="1..9"),
        pytest.param(10, 99, 8, id="10..99"),
        pytest.param(100, 999, 12, id="100..999"),
    ],
)
def test_retransmit_limit_ranges(lo: int, hi: int, expected: int) -> None:
    assert {retransmit_limit(4, n) for n in range(lo, hi + 1)} == {expected}


def test_retransmit_limit_rejects_negative_n() -> None:
    with pytest.raises(ValueError):
        retransmit_limit(4, -1)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        pytest.param(0, 30.0, id="n0"),
        pytest.param(1, 30.0, id="n1"),
        pytest.param(32, 30.0, id="n32"),
        pytest.param(33, 60.0, id="n33"),
        pytest.param(64, 60.0, id="n64"),
        pytest.param(65, 90.0, id="n65"),
        pytest.param(128, 90.0, id="n128"),
        pytest.param(129, 120.0, id="n129"),
        pytest.param(256, 120.0, id="n256"),
        pytest.param(257, 150.0, id="n257"),
        pytest.param(1000, 180.0, id="n1000"),
    ],
)
def test_push_pull_scale(n: int, expected: float) -> None:
    assert push_pull_scale(30.0, n) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "factor"),
    [
        pytest.param(33, 64, 2, id="33..64-x2"),
        pytest.param(65, 128, 3, id="65..128-x3"),
        pytest.param(129, 256, 4, id="129..256-x4"),
    ],
)
def test_push_pull_scale_ranges(lo: int, hi: int, factor: int) -> None:
    assert {push_pull_scale(15.0, n) for n in range(lo, hi + 1)} == {15.0 * factor}


def test_float_noise_never_pushes_total_above_max() -> None:
    # 3 * 0.187 == 0.5609999999999999, whose ms floor would be 0.561 > max.
    max_timeout = 0.187 * 3
    assert remaining_suspicion_time(0, 1, 0.0, 0.187, max_timeout) == max_timeout
