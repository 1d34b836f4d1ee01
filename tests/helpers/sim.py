"""Shared helpers for the simulation tests: build a joined cluster, wait with a seed on failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.sim import SimCluster


def joined_cluster(n: int, seed: int, profile: str = "lan", **overrides: Any) -> SimCluster:
    """n nodes n1..nN, each joined to n1, run until every view shows every node alive."""
    c = SimCluster(seed=seed, profile=profile, **overrides)
    for i in range(1, n + 1):
        c.add_node(f"n{i}", tags={"role": "test", "id": str(i)})
    for i in range(2, n + 1):
        assert c.join(f"n{i}", ["n1"]) == 1, c.describe_failure()
    names = [f"n{i}" for i in range(1, n + 1)]
    eventually(c, lambda: all_see(c, names, "alive"), 60.0, f"{n} nodes converge")
    return c


def all_see(
    c: SimCluster, members: list[str], status: str, observers: list[str] | None = None
) -> bool:
    """Does every (live) observer list each of `members` with `status`?"""
    for obs in observers if observers is not None else c.live_nodes():
        view = c.statuses(obs)
        if any(view.get(m) != status for m in members):
            return False
    return True


def eventually(c: SimCluster, predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Run virtual time until `predicate` holds; returns the virtual time it took."""
    start = c.now
    assert c.run_until(predicate, timeout, poll=0.05), (
        f"{what}: not within {timeout}s\n{c.describe_failure()}"
    )
    return c.now - start


def first_event(c: SimCluster, kind: str, member: str, since: float = 0.0) -> float | None:
    return next((at for at, _, k, m in c.events if k == kind and m == member and at >= since), None)


def last_event(c: SimCluster, kind: str, member: str, since: float = 0.0) -> float | None:
    times = [at for at, _, k, m in c.events if k == kind and m == member and at >= since]
    return times[-1] if times else None
