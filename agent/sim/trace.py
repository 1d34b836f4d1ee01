"""The simulation trace: what happened, when, to whom; bounded, but digested in full.

Only member events, commands and faults are traced (never individual packets), so tracing
costs nothing per datagram. The trace keeps the last `limit` entries for teaching output and
failure messages; the digest covers every entry since the start, so two runs with the same seed
and the same calls can be compared by one hash (VOPR's determinism check).
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

DEFAULT_TRACE_LIMIT = 10_000
"""Entries kept for display; enough for a teaching run, bounded for 5,000-node benches."""


class TraceEntry(NamedTuple):
    """One traced happening: `kind` is a member event type ("member-join") or a command/fault."""

    at: float
    node: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"t={self.at:10.4f}  {self.node:<12} {self.kind:<18} {self.detail}"


class Trace:
    """Bounded trace plus a running SHA-256 over every entry ever added."""

    __slots__ = ("_entries", "_hash", "total")

    def __init__(self, limit: int = DEFAULT_TRACE_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"trace limit must be positive, got {limit}")
        self._entries: deque[TraceEntry] = deque(maxlen=limit)
        self._hash = hashlib.sha256()
        self.total = 0

    def add(self, at: float, node: str, kind: str, detail: str = "") -> None:
        self._entries.append(TraceEntry(at, node, kind, detail))
        self._hash.update(f"{at!r}\x1f{node}\x1f{kind}\x1f{detail}\x1e".encode())
        self.total += 1

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def digest(self, extra: str = "") -> str:
        """Hex digest of every entry so far, plus `extra` (e.g. packet counters)."""
        h = self._hash.copy()
        h.update(extra.encode())
        return h.hexdigest()

    def tail(self, count: int) -> list[TraceEntry]:
        """The last `count` entries still kept."""
        if count <= 0:
            return []
        return list(itertools.islice(reversed(self._entries), count))[::-1]
