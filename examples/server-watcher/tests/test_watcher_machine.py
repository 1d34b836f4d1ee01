"""The watcher's bookkeeping under every fault hypothesis finds: a ClusterStateMachine subclass.

The stock machine crashes, restarts, partitions, pauses and force-leaves nodes of a simulated
serf cluster and checks membership after every step; this subclass adds a rule (wait out the
threshold) and, feeding n1's view into the watcher's FailureTracker after every step, one
invariant: a member the tracker reports
has been failed in every observation of the last THRESHOLD virtual seconds. When it breaks,
hypothesis' report ends with a script that replays the run with SimCluster alone.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import invariant, rule
from server_watcher import FailureTracker

from agent.testing import ClusterStateMachine

THRESHOLD = 60.0


class WatcherMachine(ClusterStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tracker = FailureTracker(THRESHOLD)
        self.history: dict[str, list[tuple[float, str]]] = {}

    @rule()
    def wait_out_the_threshold(self) -> None:
        """An extra rule: long enough for a crash to cross the threshold."""
        self.run(THRESHOLD)

    @invariant()
    def reported_servers_were_failed_all_along(self) -> None:
        if "n1" not in self.live():
            return
        now = self.cluster.now
        statuses = self.cluster.statuses("n1")
        for name, status in statuses.items():
            self.history.setdefault(name, []).append((now, status))
        reported = self.tracker.observe(now, statuses)
        if reported:
            event("the tracker reported a failed member")  # shows in --hypothesis-show-statistics
        for name in reported:
            samples = self.history[name]
            window = [s for t, s in samples if t >= now - THRESHOLD]
            before = [t for t, s in samples if t <= now - THRESHOLD]
            assert before and all(s == "failed" for s in window), self.fail_message(
                f"reported {name}: {samples[-5:]}"
            )


TestWatcherMachine = WatcherMachine.TestCase
TestWatcherMachine.settings = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,  # CI runs the same examples every time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
