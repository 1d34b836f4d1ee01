"""`gossip-agent demo`'s flags: Nomad-style single dashes, scenario defaults, one-line errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from agent.cli.demo_command import settings_from
from agent.cli.main import main
from agent.demo.scenarios import SCENARIOS
from agent.demo.settings import Profile


def test_list_scenarios_prints_each_with_its_explanation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "-list-scenarios"]) == 0
    out = capsys.readouterr().out
    for scenario in SCENARIOS:
        assert scenario.name in out
        assert scenario.explanation in out


def test_flags_build_the_settings() -> None:
    cluster = ["-servers", "5", "-clients=1", "-nodes", "40", "-seed", "9", "-profile", "local"]
    serving = ["-speed", "2.5", "-bind", "127.0.0.2", "-http-port", "0", "-no-agent-apis"]
    settings = settings_from([*cluster, *serving, "-paused"])
    assert settings is not None
    assert (settings.servers, settings.clients, settings.nodes, settings.seed) == (5, 1, 40, 9)
    assert settings.profile is Profile.LOCAL
    assert (settings.speed, settings.bind, settings.http_port) == (2.5, "127.0.0.2", 0)
    assert (settings.agent_apis, settings.start_paused) == (False, True)


def test_a_scenario_suggests_speed_and_nodes_unless_given() -> None:
    storm = settings_from(["-scenario", "join-storm"])
    assert storm is not None and (storm.speed, storm.nodes) == (0.5, 12)
    given = settings_from(["-scenario", "join-storm", "-speed", "3", "-nodes", "4"])
    assert given is not None and (given.speed, given.nodes) == (3.0, 4)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-scenario", "nope"], "unknown scenario 'nope'"),
        (["-servers", "0"], "servers must be between 1"),
        (["-speed", "0"], "speed must be above 0"),
        (["-profile", "moon"], "invalid choice"),
        (["-serv", "3"], "unrecognized arguments"),
    ],
)
def test_bad_flags_are_one_line_and_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gossip-agent demo: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_the_command_serves_the_page_and_stops_on_interrupt() -> None:
    """`gossip-agent demo` as a user runs it: a banner naming the page, then Ctrl-C."""
    argv = [sys.executable, "-m", "agent", "demo", "-http-port", "0", "-no-agent-apis"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        page = ""
        deadline = time.monotonic() + 60
        while not page and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "Open: " in line:
                page = line.split("Open: ", 1)[1].strip()
        assert page.startswith("http://127.0.0.1:") and page.endswith("/ui"), page
        response = httpx.get(page, timeout=30)
        assert response.status_code == 200
        assert "<title>gossip-agent demo</title>" in response.text
        state = httpx.get(page.removesuffix("/ui") + "/v1/sim/state", timeout=30).json()
        assert state["members"] == ["s1", "s2", "s3"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
