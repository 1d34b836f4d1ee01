"""Lamport clocks (serf `lamport.go`).

Why: serf orders membership intents (join, leave), user events and queries without trusting
wall clocks. Every node keeps logical clocks; a message carries the sender's time, and the
receiver witnesses it so its own clock moves past anything it has seen. An intent whose time
is not newer than what a member already recorded is stale and dropped, which makes redelivery
and re-gossip idempotent. Serf keeps three independent clocks (members, events, queries), each
incremented once at creation so the first usable time is 1.
"""

from __future__ import annotations

U64 = (1 << 64) - 1
"""serf's LamportTime is a uint64: arithmetic wraps, as Go's does, so any time a peer can
send (a valid u64) keeps our clock encodable."""


class LamportClock:
    """A monotonically non-decreasing logical clock."""

    __slots__ = ("_counter",)

    def __init__(self, start: int = 0) -> None:
        """Create a clock reading `start`.

        Raises:
            ValueError: start is negative (serf's LamportTime is unsigned).
        """
        if start < 0:
            raise ValueError(f"a Lamport time is never negative, got {start}")
        self._counter = start

    def time(self) -> int:
        """Current value (serf `Time`)."""
        return self._counter

    def increment(self) -> int:
        """Advance by one and return the new value (serf `Increment`)."""
        self._counter = (self._counter + 1) & U64
        return self._counter

    def witness(self, t: int) -> None:
        """Observe a remote time: if `t >= current`, jump to `t + 1` (`Witness`).

        It never goes back, except where Go's uint64 wraps: witnessing 2**64-1 gives 0.
        """
        if t >= self._counter:
            self._counter = (t + 1) & U64

    def __repr__(self) -> str:
        return f"LamportClock({self._counter})"
