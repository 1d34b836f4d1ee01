"""ClusterStateMachine: the stock rules hold their invariants, broken ones are caught, and the
script printed on failure really replays the failure with SimCluster alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from agent.testing import ClusterStateMachine, ForceLeave, Kill, Leave, Partition, Pause
from agent.testing.machine import CONVERGENCE_BOUND
from gossip import SerfCore

ROOT = Path(__file__).resolve().parents[2]
QUICK = settings(
    max_examples=8,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
NO_SHRINK = settings(QUICK, max_examples=30, phases=[Phase.explicit, Phase.generate])


class NobodyEverFails(ClusterStateMachine):
    """A wrong property on purpose: the first crash (or partition) breaks it."""

    @invariant()
    def nobody_sees_a_failure(self) -> None:
        for name in self.live():
            assert "failed" not in self.cluster.statuses(name).values(), self.fail_message(
                "someone is failed"
            )


def script_from(error: BaseException) -> str:
    text = "\n".join(getattr(error, "__notes__", [])) + "\n" + str(error)
    start = text.index("----8<----\n") + len("----8<----\n")
    return text[start : text.index("----8<----", start)]


def run_script(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "replay.py"
    path.write_text(script)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_stock_machine_holds_its_invariants() -> None:
    run_state_machine_as_test(ClusterStateMachine, settings=QUICK)


def test_a_failing_invariant_prints_a_script_that_replays_it(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="someone is failed") as caught:
        run_state_machine_as_test(NobodyEverFails, settings=NO_SHRINK)
    script = script_from(caught.value)
    assert "from agent.sim import SimCluster" in script and "hypothesis" not in script
    assert "add_converged" in script and "c.trace_digest() ==" in script
    done = run_script(script, tmp_path)
    assert done.returncode == 0, done.stderr  # the digest matched: the same run, replayed
    assert "'failed'" in done.stdout  # and it ends in the failing state


def test_a_failed_convergence_prints_a_script_that_replays_it(tmp_path: Path) -> None:
    class Impatient(ClusterStateMachine):
        convergence_bound = 2.0

    machine = Impatient()
    machine.start_cluster(seed=11)
    machine.apply(Partition((("n1", "n2"), ("n3", "n4", "n5"))))
    machine.run(60.0)
    with pytest.raises(AssertionError, match=r"no convergence within 2\.0") as caught:
        machine.teardown()
    done = run_script(script_from(caught.value), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "'failed'" in done.stdout


def test_the_same_run_converges_within_the_stated_bound() -> None:
    machine = ClusterStateMachine()
    machine.start_cluster(seed=11)
    machine.apply(Partition((("n1", "n2"), ("n3", "n4", "n5"))))
    machine.run(60.0)
    start = machine.cluster.now
    machine.teardown()
    assert machine.converged()
    assert machine.cluster.now - start <= CONVERGENCE_BOUND


def _machine(seed: int = 3) -> ClusterStateMachine:
    machine = ClusterStateMachine()
    machine.start_cluster(seed=seed)
    return machine


def test_a_node_seeing_itself_failed_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    machine = _machine()
    real = machine.cluster.statuses
    monkeypatch.setattr(machine.cluster, "statuses", lambda n: {**real(n), n: "failed"})
    with pytest.raises(AssertionError, match="n1 sees itself failed"):
        machine.no_node_sees_itself_down()


def test_a_stranger_in_a_member_list_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    machine = _machine()
    real = machine.cluster.statuses
    monkeypatch.setattr(machine.cluster, "statuses", lambda n: {**real(n), "ghost": "alive"})
    with pytest.raises(AssertionError, match=r"lists \['ghost'\]"):
        machine.nobody_lists_a_stranger()


def test_left_coming_back_without_a_restart_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    machine = _machine()
    real = machine.cluster.statuses
    monkeypatch.setattr(machine.cluster, "statuses", lambda n: {**real(n), "n5": "left"})
    machine.left_is_final_unless_rejoined()
    monkeypatch.setattr(machine.cluster, "statuses", real)
    with pytest.raises(AssertionError, match="saw n5 left, now alive, without a restart"):
        machine.left_is_final_unless_rejoined()


def test_left_may_come_back_after_a_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    machine = _machine()
    real = machine.cluster.statuses
    monkeypatch.setattr(machine.cluster, "statuses", lambda n: {**real(n), "n5": "left"})
    machine.left_is_final_unless_rejoined()
    monkeypatch.setattr(machine.cluster, "statuses", real)
    machine.apply(Kill("n5"))
    machine.cluster.restart("n5")
    machine.left_is_final_unless_rejoined()


def test_a_leave_that_timed_out_may_be_refuted_back_to_alive() -> None:
    """Hypothesis found this in README's AtMostFiveMembers: n1 is paused right after it is asked
    to leave, so serf's Leave times out broadcasting the intent and returns before
    memberlist's Leave; meanwhile the others declared n1 failed. On resume n1 refutes that
    (a higher incarnation), and n3, which had applied the leave intent to the failed n1
    (failed -> left), then hears the refutation (aliveNode -> handleNodeJoin: alive). Upstream
    behaviour, so the invariant allows it."""
    machine = _machine(seed=0)
    c = machine.cluster
    for step in (Pause("n1", 6.0), Leave("n1"), ForceLeave("n2", "ghost")):
        machine.apply(step)
        machine.left_is_final_unless_rejoined()
    core = c.node("n1").core
    assert isinstance(core, SerfCore) and core.incarnation == 2  # refuted once, on resume
    assert c.statuses("n3")["n1"] == "left"
    machine.run(0.5)
    assert c.statuses("n3")["n1"] == "alive"
    machine.left_is_final_unless_rejoined()
    assert any(e.detail == "timeout while waiting for graceful leave" for e in c.trace)
