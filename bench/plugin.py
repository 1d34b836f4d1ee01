"""What the test kit's fixtures cost a test: a converged 5-node `sim_cluster`, a 3-server
`sim_agents`, and a 3-server `agent_cluster` of real processes (issue 11's goals: the sim
fixture under 50 ms, the real cluster healthy under 5 s).

The fixtures are measured the way a test meets them: an inner pytest session runs tests that
only build the cluster, and each test's setup + call + teardown is read from its reports, so
pytest's own fixture machinery and the plugin's bookkeeping are included. The real cluster is
also timed directly (start to healthy, then teardown).

    python bench/plugin.py                 # all three, a few repeats each
    python bench/plugin.py --sim-runs 200 --agent-runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

# This directory holds http.py, which would shadow the standard library's http package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import pytest  # noqa: E402

from agent.testing.agent_cluster import AgentCluster  # noqa: E402
from agent.testing.sim_cluster import build_sim_cluster  # noqa: E402

INSTALLED = any(ep.name == "gossip_agent" for ep in entry_points(group="pytest11"))
PLUGIN = [] if INSTALLED else ["-p", "agent.testing.plugin"]


class Durations:
    """Collects setup + call + teardown seconds per test id."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.append(report.nodeid)


def fixture_seconds(fixture: str, call: str, runs: int, extra: list[str]) -> list[float]:
    """Each of `runs` tests whose whole body is `fixture(call)`, timed by its reports."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"test_bench_{fixture}.py"  # one module name per inner session
        path.write_text(
            "import pytest\n\n"
            f"@pytest.mark.parametrize('k', range({runs}))\n"
            f"def test_fixture(k, {fixture}):\n    {fixture}({call})\n"
        )
        durations = Durations()
        args = ["-q", "-p", "no:cacheprovider", *PLUGIN, *extra, str(path)]
        code = pytest.main(args, plugins=[durations])
        if code != 0 or durations.failed:
            raise SystemExit(f"the inner run failed ({code}): {durations.failed}")
        return list(durations.seconds.values())


def agent_cluster_seconds(runs: int, base: str) -> tuple[list[float], list[float]]:
    healthy, teardown = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            cluster = AgentCluster(Path(tmp), servers=3, bind_base=base)
            start = time.perf_counter()
            try:
                cluster.start()
                healthy.append(time.perf_counter() - start)
            finally:
                stop = time.perf_counter()
                cluster.close()
                teardown.append(time.perf_counter() - stop)
    return healthy, teardown


def row(what: str, seconds: list[float], goal: float | None, unit: float, label: str) -> str:
    ordered = sorted(seconds)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    verdict = "" if goal is None else ("  ok" if median < goal else "  OVER GOAL")
    goal_text = "-" if goal is None else f"< {goal / unit:g} {label}"
    return (
        f"{what:<44} {median / unit:>9.1f} {p95 / unit:>9.1f} {ordered[-1] / unit:>9.1f} "
        f"{len(ordered):>5}  {goal_text}{verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-runs", type=int, default=100)
    parser.add_argument("--agents-runs", type=int, default=20)
    parser.add_argument("--agent-runs", type=int, default=3)
    parser.add_argument("--bind-base", default="127.0.0.180")
    args = parser.parse_args()

    direct = []
    for seed in range(args.sim_runs):
        start = time.perf_counter()
        build_sim_cluster(seed=seed, servers=5)
        direct.append(time.perf_counter() - start)
    sim = fixture_seconds("sim_cluster", "servers=5", args.sim_runs, [])
    agents = fixture_seconds(
        "sim_agents", "servers=3", args.agents_runs, [f"--agent-bind-base={args.bind_base}"]
    )
    healthy, teardown = agent_cluster_seconds(args.agent_runs, args.bind_base)

    ms, s = 1e-3, 1.0
    print(f"{'fixture':<44} {'median':>9} {'p95':>9} {'max':>9} {'runs':>5}  goal")
    print(row("sim_cluster(servers=5), built directly (ms)", direct, None, ms, "ms"))
    print(row("sim_cluster(servers=5), test setup..teardown (ms)", sim, 0.050, ms, "ms"))
    print(row("sim_agents(servers=3), test setup..teardown (ms)", agents, None, ms, "ms"))
    print(row("agent_cluster(servers=3), start to healthy (s)", healthy, 5.0, s, "s"))
    print(row("agent_cluster(servers=3), teardown (s)", teardown, None, s, "s"))


if __name__ == "__main__":
    main()
