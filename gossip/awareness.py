"""Lifeguard local health awareness (memberlist `awareness.go`).

Why: a node that is itself slow (CPU starved, paused, losing packets) misreads its peers'
silence as their failure. Lifeguard lets each node keep a health score that rises on evidence
of its own trouble (failed probes, missing nacks, having to refute accusations) and falls on
every successful probe; the score stretches the node's own probe deadline, so a degraded node
waits longer before accusing anyone. The score is clamped to `[0, max_multiplier - 1]` and
is reported as serf's `health_score` stat.
"""

from __future__ import annotations


class Awareness:
    """A clamped health score; 0 is healthy, `max_multiplier - 1` is the worst."""

    __slots__ = ("_max_multiplier", "_score")

    def __init__(self, max_multiplier: int) -> None:
        """Start healthy (score 0).

        Raises:
            ValueError: max_multiplier < 1 (the score range would be empty).
        """
        if max_multiplier < 1:
            raise ValueError(f"max_multiplier must be >= 1, got {max_multiplier}")
        self._max_multiplier = max_multiplier
        self._score = 0

    @property
    def score(self) -> int:
        """Current health score (memberlist `GetHealthScore`)."""
        return self._score

    @property
    def max_multiplier(self) -> int:
        """Upper bound of the timeout multiplier; the score never exceeds this minus one."""
        return self._max_multiplier

    def apply_delta(self, delta: int) -> None:
        """Add delta to the score and clamp it, as memberlist `ApplyDelta`."""
        self._score = min(max(self._score + delta, 0), self._max_multiplier - 1)

    def scale_timeout(self, timeout: float) -> float:
        """Stretch a probe deadline by the score: `timeout * (score + 1)` (`ScaleTimeout`)."""
        return timeout * (self._score + 1)

    def __repr__(self) -> str:
        return f"Awareness(score={self._score}, max_multiplier={self._max_multiplier})"
