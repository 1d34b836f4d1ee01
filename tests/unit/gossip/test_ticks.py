"""The ticker arithmetic behind the probe and gossip loops (Go's time.Ticker semantics)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip.swim import next_tick


@pytest.mark.parametrize(
    ("phase", "interval", "now", "expected"),
    [
        (0.15, 0.2, 0.0, 0.15),  # before the first tick: the first tick
        (0.15, 0.2, 0.15, 0.35),  # exactly on a tick: the next one, never the same instant
        (0.15, 0.2, 0.2, 0.35),
        (0.15, 0.2, 1.0, 1.15),  # late reader: missed ticks are dropped, not replayed
        (0.0, 1.0, 5.0, 6.0),
    ],
    ids=["before-first", "on-tick", "between", "late", "integral"],
)
def test_next_tick_table(phase: float, interval: float, now: float, expected: float) -> None:
    assert next_tick(phase, interval, now) == pytest.approx(expected)


@given(
    phase=st.floats(0, 10, allow_nan=False),
    interval=st.sampled_from([0.1, 0.2, 0.5, 1.0, 5.0]),
    k=st.integers(0, 100_000),
)
def test_next_tick_is_strictly_later_even_on_rounded_ticks(
    phase: float, interval: float, k: int
) -> None:
    on_tick = phase + k * interval
    at = next_tick(phase, interval, on_tick)
    assert at > on_tick
    assert at - on_tick <= interval * (1 + 1e-9)
