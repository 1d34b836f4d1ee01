"""A keyed deadline queue: every timer of a sans-IO core in one structure.

Why: memberlist runs a goroutine and a `time.Timer` per concern (probe, suspicion of each
node, push-pull, gossip, reaping). A sans-IO core has no timers; it keeps absolute deadlines
on the caller's clock and reports the earliest through `next_deadline()`. Keying deadlines
(by the typed keys of `gossip.timers`, e.g. `SuspicionTimeout(node)`) gives the one operation
those timers need most: re-arming replaces the old deadline instead of leaving a stale one to
fire.

Theory of operation: a binary heap of `(at, seq, key)` plus a dict `key -> (at, seq)` of the
live deadline of each key. Rescheduling or cancelling only updates the dict; the superseded
heap entry stays behind and is recognised as stale (its `seq` no longer matches) when it
reaches the top, where `peek` and `pop_due` discard it (lazy deletion). `seq` grows on every
`schedule` call, so equal deadlines pop in scheduling order and keys never need to be
comparable; the order is therefore deterministic, independent of hash seeds. When stale
entries outnumber live ones several times over, the heap is rebuilt from the dict so memory
and pop cost stay proportional to the live deadlines, even for a key re-armed every tick.
This sits on the simulator's hot path (thousands of nodes, each re-arming often), so the
operations are O(log n) amortised and `peek` is O(1) once stale tops are gone.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)

_COMPACT_MIN_STALE = 64
"""Never rebuild for fewer stale entries than this: small heaps are cheap to pop through."""
_COMPACT_RATIO = 4
"""Rebuild when stale entries exceed this many times the live ones (amortised O(1) each)."""


class DeadlineScheduler(Protocol[K_contra]):
    """The arming side of a DeadlineQueue, for a part of a core that arms some of its keys.

    Contravariant in the key: a queue of all of a core's timers is a scheduler of any subset
    of them, so each part declares only the keys it arms.
    """

    def schedule(self, key: K_contra, at: float) -> None: ...
    def cancel(self, key: K_contra) -> None: ...


class DeadlineQueue(Generic[K]):
    """At most one deadline per key; `pop_due` yields due keys in (deadline, scheduling) order."""

    __slots__ = ("_heap", "_live", "_seq", "_stale")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._live: dict[K, tuple[float, int]] = {}
        self._seq = itertools.count()
        self._stale = 0

    def schedule(self, key: K, at: float) -> None:
        """Set `key`'s deadline to the absolute time `at`, replacing any previous one.

        Raises:
            ValueError: `at` is NaN (it would corrupt the heap order).
        """
        if at != at:
            raise ValueError("a deadline cannot be NaN")
        seq = next(self._seq)
        if key in self._live:
            self._stale += 1
        self._live[key] = (at, seq)
        heapq.heappush(self._heap, (at, seq, key))
        self._maybe_compact()

    def cancel(self, key: K) -> None:
        """Forget `key`'s deadline; no-op when it has none."""
        if self._live.pop(key, None) is not None:
            self._stale += 1
            self._maybe_compact()

    def get(self, key: K) -> float | None:
        """`key`'s live deadline, or None."""
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def peek(self) -> float | None:
        """Earliest live deadline, or None when nothing is scheduled."""
        heap = self._heap
        live = self._live
        while heap:
            at, seq, key = heap[0]
            entry = live.get(key)
            if entry is not None and entry[1] == seq:
                return at
            heapq.heappop(heap)
            self._stale -= 1
        return None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key whose deadline is `<= now`, earliest first.

        Ties are broken by scheduling order (the later `schedule` call comes later).
        """
        heap = self._heap
        live = self._live
        due: list[K] = []
        while heap and heap[0][0] <= now:
            _, seq, key = heapq.heappop(heap)
            entry = live.get(key)
            if entry is not None and entry[1] == seq:
                del live[key]
                due.append(key)
            else:
                self._stale -= 1
        return due

    def fire_due(
        self, now: float, handle: Callable[[K], None], running: Callable[[], bool]
    ) -> None:
        """Hand every due key to `handle`, including keys that handling makes due, for as
        long as `running()` holds (a core that shuts down mid-way stops at once)."""
        while running():
            due = self.pop_due(now)
            if not due:
                return
            for key in due:
                handle(key)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __len__(self) -> int:
        return len(self._live)

    def __repr__(self) -> str:
        return f"DeadlineQueue(live={len(self._live)}, next_at={self.peek()})"

    def _maybe_compact(self) -> None:
        stale = self._stale
        if stale > _COMPACT_MIN_STALE and stale > _COMPACT_RATIO * len(self._live):
            self._heap = [(at, seq, key) for key, (at, seq) in self._live.items()]
            heapq.heapify(self._heap)
            self._stale = 0
