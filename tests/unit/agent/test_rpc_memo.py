"""`agent.rpc.memo.Memo`: remembers what it made, and forgets everything at its limit."""

from __future__ import annotations

import pytest

from agent.rpc.memo import Memo


def test_a_value_is_made_once_then_remembered() -> None:
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    memo: Memo[str, str] = Memo()
    assert memo.get("a", make) == "A"
    assert memo.get("a", make) == "A"
    assert made == ["a"]


def test_the_memo_forgets_everything_once_full() -> None:
    made: list[int] = []

    def make(key: int) -> int:
        made.append(key)
        return key * 2

    memo: Memo[int, int] = Memo(limit=3)
    for key in (1, 2, 3):
        memo.get(key, make)
    assert len(memo) == 3
    memo.get(4, make)  # full: the old three are dropped
    assert len(memo) == 1
    memo.get(1, make)
    assert made == [1, 2, 3, 4, 1]


def test_a_failed_make_is_not_remembered() -> None:
    calls = 0

    def make(key: str) -> str:
        nonlocal calls
        calls += 1
        raise ValueError(key)

    memo: Memo[str, str] = Memo()
    for _ in range(2):
        with pytest.raises(ValueError):
            memo.get("bad", make)
    assert calls == 2 and len(memo) == 0
