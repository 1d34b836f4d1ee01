"""Memo: a small bounded cache for the frames an idle raft repeats.

An idle leader sends every follower the same empty AppendEntries ten times a second, and each
follower answers with the same response, until an entry is appended or committed. Decoding and
encoding those frames (two msgpack passes and the checks of `raft_stub.codec`) is a good part
of an idle server's CPU (bench/idle_profile.py), so the RPC cores remember the frames they
have seen and made. Only small frames are kept, and the whole memo is forgotten once it holds
`limit` of them, so it stays bounded however many peers and terms go by.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """`get(key, make)`: `make(key)`'s value, remembered while the memo holds under `limit`."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._values: dict[K, V] = {}

    def get(self, key: K, make: Callable[[K], V]) -> V:
        value = self._values.get(key)
        if value is None:
            value = make(key)
            if len(self._values) >= self.limit:
                self._values.clear()
            self._values[key] = value
        return value

    def __len__(self) -> int:
        return len(self._values)
