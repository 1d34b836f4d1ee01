"""`HttpCounts`: HTTP answers by route and status code, for `/v1/metrics`.

One per agent, so two agents in one process (the simulator, the tests) never share counts.
Routes are templates (`/v1/node/{node_id}`), never raw paths, so the number of series stays
bounded whatever clients ask for.
"""

from __future__ import annotations

from collections import Counter


class HttpCounts:
    """Answers counted by (route, code)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()

    def record(self, route: str, code: int) -> None:
        self._counts[(route, code)] += 1

    def items(self) -> list[tuple[str, int, int]]:
        """(route, code, count), sorted by route then code."""
        return [(route, code, n) for (route, code), n in sorted(self._counts.items())]
