"""A run of calls on a `SimCluster`, kept as Python source so a failure replays without us.

The state machine records how it built its cluster and every call it made since; when a run
fails, `ReplayScript.render` turns that into a short script: the seed, the calls, then a
check that the replay reached the very same state (the trace digest) and a print of each
live node's view. Anyone can run it with `python`, step through it, or cut it down by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.sim import SimCluster


@dataclass(slots=True)
class ReplayScript:
    """The SimCluster's construction, then one line per call, in order."""

    seed: int
    profile: str
    knobs: Mapping[str, Any]
    names: tuple[str, ...]
    tags: Mapping[str, str]
    converged: bool = True
    calls: list[str] = field(default_factory=list)
    var: str = "c"

    def build(self) -> SimCluster:
        """The cluster these settings describe, as the script builds it."""
        cluster = SimCluster(seed=self.seed, profile=self.profile, **self.knobs)
        if self.converged:
            cluster.add_converged(self.names, self.tags or None)
        else:
            for name in self.names:
                cluster.add_node(name, self.tags or None)
        return cluster

    def record(self, line: str) -> None:
        """One more call, as Python on the cluster named `var`."""
        self.calls.append(line)

    def render(self, cluster: SimCluster, reason: str = "") -> str:
        """The script, asserting that it ends where `cluster` is now."""
        c = self.var
        knobs = "".join(f", {key}={value!r}" for key, value in self.knobs.items())
        tags = f", {dict(self.tags)!r}" if self.tags else ""
        lines = [
            '"""Replays a failing ClusterStateMachine run with SimCluster alone."""',
            "from dataclasses import replace  # noqa: F401 (used by latency changes)",
            "",
            "from agent.sim import SimCluster",
            "",
            f"{c} = SimCluster(seed={self.seed!r}, profile={self.profile!r}{knobs})",
        ]
        if self.converged:
            lines.append(f"{c}.add_converged({list(self.names)!r}{tags})")
        else:
            lines.append(f"for name in {list(self.names)!r}:")
            lines.append(f"    {c}.add_node(name{tags})")
        lines += self.calls
        for line in _comment(reason):
            lines.append(line)
        lines += [
            f"assert {c}.trace_digest() == {cluster.trace_digest()!r}, "
            "'the replay diverged from the failing run'",
            f"for name in {c}.live_nodes():",
            f"    print(name, {c}.statuses(name))",
            f"print({c}.describe_failure())",
        ]
        return "\n".join(lines) + "\n"


def _comment(reason: str) -> Sequence[str]:
    if not reason:
        return ["# the run failed here"]
    first = reason.strip().splitlines()[0] if reason.strip() else ""
    return [f"# the run failed here: {first}"]
