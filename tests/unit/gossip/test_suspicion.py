"""gossip.suspicion: memberlist's suspicion.go without timers (Lifeguard's suspicion timeout).

The remaining time stays within [min, max] and never grows with more distinct confirmations;
a repeat from the same accuser changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip.suspicion import Suspicion
from gossip.timing import remaining_suspicion_time

MIN, MAX = 4.0, 24.0  # LAN, n <= 10


def make(k: int = 2, started_at: float = 100.0, from_node: str = "accuser") -> Suspicion:
    return Suspicion(
        from_node=from_node, k=k, min_timeout=MIN, max_timeout=MAX, started_at=started_at
    )


@pytest.mark.parametrize(
    ("k", "expected_deadline"),
    [
        pytest.param(2, 124.0, id="k2-starts-at-max"),
        pytest.param(1, 124.0, id="k1-starts-at-max"),
        pytest.param(0, 104.0, id="k0-starts-at-min"),
    ],
)
def test_initial_deadline(k: int, expected_deadline: float) -> None:
    suspicion = make(k=k)
    assert suspicion.deadline_at == expected_deadline
    assert suspicion.confirmations == 0


def test_worked_values() -> None:
    # k = 2: 24 s, 11.381 s, 4 s after 0, 1, 2 confirmations (`remainingSuspicionTime`).
    suspicion = make(k=2)
    assert suspicion.deadline_at - 100.0 == 24.0
    assert suspicion.confirm("b", now=101.0)
    assert suspicion.deadline_at == pytest.approx(111.381, abs=1e-9)
    assert suspicion.confirm("c", now=102.0)
    assert suspicion.deadline_at == pytest.approx(104.0, abs=1e-9)
    assert suspicion.confirmations == 2


def test_deadline_matches_memberlist_remaining_from_now() -> None:
    suspicion = make(k=2)
    now = 107.25
    assert suspicion.confirm("b", now=now)
    remaining = remaining_suspicion_time(1, 2, now - 100.0, MIN, MAX)
    assert suspicion.deadline_at == pytest.approx(now + remaining, abs=1e-9)
    assert suspicion.remaining(now) == pytest.approx(remaining, abs=1e-9)


def test_late_confirmation_can_make_it_due_at_once() -> None:
    suspicion = make(k=2)
    assert suspicion.confirm("b", now=101.0)
    assert suspicion.confirm("c", now=110.0)  # total 4 s from 100: overdue
    assert suspicion.deadline_at <= 110.0


@pytest.mark.parametrize(
    ("k", "confirmers", "expected_results", "expected_count"),
    [
        pytest.param(2, ["accuser"], [False], 0, id="accuser-already-counted"),
        pytest.param(2, ["b", "b"], [True, False], 1, id="duplicate-ignored"),
        pytest.param(2, ["b", "c", "d"], [True, True, False], 2, id="beyond-k-ignored"),
        pytest.param(0, ["b", "c"], [False, False], 0, id="k0-never-counts"),
        pytest.param(1, ["b", "c"], [True, False], 1, id="k1"),
    ],
)
def test_confirm_results(
    k: int, confirmers: list[str], expected_results: list[bool], expected_count: int
) -> None:
    suspicion = make(k=k)
    results = [suspicion.confirm(node, now=100.5) for node in confirmers]
    assert results == expected_results
    assert suspicion.confirmations == expected_count


def test_deadline_unchanged_by_confirm() -> None:
    suspicion = make(k=0)
    suspicion.confirm("b", now=101.0)
    assert suspicion.deadline_at == 104.0


@given(
    k=st.integers(min_value=0, max_value=6),
    min_ms=st.integers(min_value=100, max_value=60_000),
    max_mult=st.integers(min_value=1, max_value=8),
    events=st.lists(
        st.tuples(
            st.sampled_from(["accuser", "b", "c", "d", "e", "f", "g", "h"]),
            st.floats(min_value=0.0, max_value=5.0, allow_nan=False),
        ),
        max_size=30,
    ),
)
def test_suspicion_bounds(
    k: int, min_ms: int, max_mult: int, events: list[tuple[str, float]]
) -> None:
    min_timeout = min_ms / 1000
    max_timeout = min_timeout * max_mult
    started_at = 50.0
    suspicion = Suspicion(
        from_node="accuser",
        k=k,
        min_timeout=min_timeout,
        max_timeout=max_timeout,
        started_at=started_at,
    )
    seen = {"accuser"}
    now = started_at
    for node, step in events:
        now += step
        before = (suspicion.deadline_at, suspicion.confirmations)
        counted = suspicion.confirm(node, now=now)
        should_count = node not in seen and before[1] < k
        assert counted == should_count
        if counted:
            seen.add(node)
            assert suspicion.confirmations == before[1] + 1
            assert suspicion.deadline_at <= before[0]  # non-increasing in confirmations
        else:
            assert (suspicion.deadline_at, suspicion.confirmations) == before  # no change
        total = suspicion.deadline_at - started_at
        assert min_timeout - 1e-9 <= total <= max_timeout + 1e-9
    assert suspicion.confirmations == min(k, len(seen - {"accuser"}))
