"""Lifeguard suspicion state for one suspected node (memberlist `suspicion.go`, minus timers).

Why: plain SWIM declares a suspect dead after a fixed timeout, which is either too slow for
large clusters or too hasty when the accuser itself is the sick one. Lifeguard starts the
timer long (`max_timeout`) and shortens it as *independent* peers confirm the suspicion: with
`c` of the `k` wanted confirmations the total timeout is
`max(min, max - ln(c + 1) / ln(k + 1) * (max - min))`, floored to milliseconds (see
`timing.remaining_suspicion_time`). The original accuser counts as already seen, because our
own suspect message may be gossiped back to us; repeats from one peer and confirmations beyond
`k` change nothing and must not be re-broadcast. With `k < 1` (too few nodes to confirm) the
timer starts at `min_timeout` and no confirmation ever counts.

memberlist keeps a Go timer here; this core only keeps `deadline_at`, an absolute time on the
caller's clock. The owner (the SWIM core) files it in its DeadlineQueue and, when the deadline
passes with the node still suspect under the same state change, declares it dead.
"""

from __future__ import annotations

from gossip.timing import remaining_suspicion_time


class Suspicion:
    """Confirmations and deadline of one suspicion; no timers, time comes in as `now`."""

    __slots__ = (
        "_seen",
        "confirmations",
        "deadline_at",
        "k",
        "max_timeout",
        "min_timeout",
        "started_at",
    )

    def __init__(
        self,
        *,
        from_node: str,
        k: int,
        min_timeout: float,
        max_timeout: float,
        started_at: float,
    ) -> None:
        """Start a suspicion raised by `from_node` at `started_at`.

        The deadline starts at `started_at + max_timeout`, or `+ min_timeout` when `k < 1`
        (as memberlist `newSuspicion`).
        """
        self.k = k
        self.min_timeout = min_timeout
        self.max_timeout = max_timeout
        self.started_at = started_at
        self.confirmations = 0
        # Membership tests only, never iterated, so a set cannot leak hash order.
        self._seen: set[str] = {from_node}
        self.deadline_at = started_at + (max_timeout if k >= 1 else min_timeout)

    def confirm(self, from_node: str, now: float) -> bool:
        """Count a suspect message about the same node from `from_node`, received at `now`.

        Returns True when this is a new, distinct confirmation (the caller re-broadcasts the
        suspect message and re-files `deadline_at`, which may now be `<= now`: due at once).
        Returns False, changing nothing, when `k` confirmations are already counted or
        `from_node` was already seen (as memberlist `Confirm`). `now` is accepted to mirror
        memberlist's elapsed-time computation; the new deadline is
        `now + remaining_suspicion_time(c, k, now - started_at, ...)`, computed here as
        `started_at + remaining_suspicion_time(c, k, 0, ...)` to avoid float drift.
        """
        if self.confirmations >= self.k:
            return False
        if from_node in self._seen:
            return False
        self._seen.add(from_node)
        self.confirmations += 1
        total = remaining_suspicion_time(
            self.confirmations, self.k, 0.0, self.min_timeout, self.max_timeout
        )
        self.deadline_at = self.started_at + total
        return True

    def remaining(self, now: float) -> float:
        """Seconds left at `now` until `deadline_at` (negative once overdue)."""
        return self.deadline_at - now

    def __repr__(self) -> str:
        return (
            f"Suspicion(confirmations={self.confirmations}, k={self.k}, "
            f"started_at={self.started_at}, deadline_at={self.deadline_at})"
        )
