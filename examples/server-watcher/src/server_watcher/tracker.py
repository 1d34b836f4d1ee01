"""How long each member has been failed, from a series of observations.

Pure bookkeeping with no I/O and no clock of its own: the caller says what time it is, which
is what lets tests run it on virtual time.
"""

from __future__ import annotations

from collections.abc import Mapping


class FailureTracker:
    """Remembers when each member was first seen failed in an unbroken run of observations."""

    def __init__(self, threshold: float) -> None:
        if threshold < 0:
            raise ValueError(f"threshold must not be negative, got {threshold}")
        self.threshold = threshold
        self.failed_since: dict[str, float] = {}

    def observe(self, now: float, statuses: Mapping[str, str]) -> list[str]:
        """Take one observation ({member: status}); the members failed for at least
        `threshold` seconds, sorted."""
        for name, status in statuses.items():
            if status == "failed":
                self.failed_since.setdefault(name, now)
            else:
                self.failed_since.pop(name, None)
        for name in list(self.failed_since):
            if name not in statuses:  # reaped or force-left elsewhere: no longer failed
                del self.failed_since[name]
        return sorted(n for n, t in self.failed_since.items() if now - t >= self.threshold)
