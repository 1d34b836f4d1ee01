"""The plugin as a user meets it: inner pytest runs (pytester) that fail, replay and skip."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from agent.testing import loopback
from agent.testing.plugin import PLUGIN_NAME

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = any(ep.name == PLUGIN_NAME for ep in entry_points(group="pytest11"))
PLUGIN = [] if INSTALLED else ["-p", "agent.testing.plugin"]
"""Inner runs load the plugin as users get it: by its entry point once installed."""

FAILING = """
def test_crash(sim_cluster):
    c = sim_cluster(servers=4)
    c.kill("s2")
    c.run(20.0)
    assert False, "digest=" + c.trace_digest()
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *PLUGIN, *args)


def test_a_failure_shows_its_seed_and_one_replaying_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=FAILING)
    first = run(pytester)
    first.assert_outcomes(failed=1)
    out = first.stdout.str()
    digest = re.search(r"digest=(\w+)", out)
    command = re.search(r"replay: python -m pytest (\S+) --sim-seed=(\d+)", out)
    assert digest and command, out
    assert command.group(1) == "test_inner.py::test_crash"
    assert "sim_cluster #1" in out and "kill" in out  # the cluster's trace tail

    replay = run(pytester, command.group(1), f"--sim-seed={command.group(2)}")
    replay.assert_outcomes(failed=1)
    assert f"digest={digest.group(1)}" in replay.stdout.str()  # the same run, replayed

    other = run(pytester, command.group(1), f"--sim-seed={int(command.group(2)) + 1}")
    assert f"digest={digest.group(1)}" not in other.stdout.str()


def test_a_rerun_without_options_gets_the_same_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_seed(sim_seed):\n    assert False, sim_seed\n")
    seeds = [re.findall(r"seed=(\d+)", run(pytester).stdout.str()) for _ in range(2)]
    assert seeds[0] and seeds[0] == seeds[1]


def test_a_passing_test_reports_nothing_extra(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_ok(sim_cluster):\n    sim_cluster()\n")
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1)
    assert "replay:" not in result.stdout.str()


def test_the_options_are_in_the_help(pytester: pytest.Pytester) -> None:
    out = run(pytester, "--help").stdout.str()
    assert "--sim-seed" in out and "--agent-bind-base" in out


@pytest.mark.skipif(not INSTALLED, reason="the pytest11 entry point is not installed here")
def test_p_no_gossip_agent_turns_it_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="def test_x(sim_cluster):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", f"no:{PLUGIN_NAME}")
    result.assert_outcomes(errors=1)
    assert "fixture 'sim_cluster' not found" in result.stdout.str()


def test_the_entry_point_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\ngossip_agent = "agent.testing.plugin"' in text


def test_missing_loopback_addresses_skip_with_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loopback, "unbindable", lambda base, count: ["127.0.0.201"])
    pytester.makepyfile(test_inner="def test_x(sim_agents):\n    sim_agents(servers=1)\n")
    result = run(pytester, "-rs", "--agent-bind-base=127.0.0.201")
    result.assert_outcomes(skipped=1)
    assert "sudo ifconfig lo0 alias 127.0.0.201 up" in result.stdout.str()


def test_the_bind_base_option_moves_the_addresses(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
def test_x(sim_agents):
    c = sim_agents(servers=1, clients=1)
    assert c.http("s1") == "http://127.0.0.211:4646"
    assert c.http("c1") == "http://127.0.0.212:4646"
"""
    )
    run(pytester, "--agent-bind-base=127.0.0.211").assert_outcomes(passed=1)


def test_unbindable_lists_only_what_cannot_be_bound() -> None:
    assert loopback.unbindable("127.0.0.1", 1) == []
    assert loopback.skip_reason("127.0.0.1", 1) is None
