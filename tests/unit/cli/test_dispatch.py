"""Finding commands, help, and bad input: one clear line, exit status 1, never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import NOMAD_COMMAND_WORDS, main
from agent.cli.nomad_commands import COMMANDS, FIRST_WORDS
from tests.unit.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[3]


def test_the_commands_of_issue_12() -> None:
    assert sorted(c.name for c in COMMANDS) == [
        "agent-info",
        "monitor",
        "node status",
        "operator raft list-peers",
        "operator raft remove-peer",
        "server force-leave",
        "server join",
        "server members",
        "status leader",
    ]
    assert {"agent", "cluster"}.isdisjoint(FIRST_WORDS)
    assert FIRST_WORDS == NOMAD_COMMAND_WORDS  # what main.py hands over without importing us


def test_top_level_help_names_the_commands() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-h"]) == 0
    assert "server members|join|force-leave" in out.getvalue()


def test_help_of_a_command(cli: Cli) -> None:
    result = cli("server", "members", "-help")
    assert result.code == 0
    assert result.out.startswith("Usage: gossip-agent server members [options]\n")
    for flag in ("-address=<addr>", "-region=<region>", "-token=<token>", "-json", "-detailed"):
        assert flag in result.out


def test_groups_list_their_commands(cli: Cli) -> None:
    result = cli("operator", "raft")
    assert result.code == 1
    assert "operator raft list-peers" in result.err and "operator raft remove-peer" in result.err
    assert cli("server", "-h").code == 0
    unknown = cli("server", "explode")
    assert unknown.code == 1
    assert unknown.err.startswith("unknown command: gossip-agent server explode\n")


def test_bad_flag(cli: Cli) -> None:
    result = cli("server", "members", "-bogus")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "flag provided but not defined: -bogus\n"
        "For additional help try 'gossip-agent server members -help'\n"
    )


def test_extra_arguments(cli: Cli) -> None:
    result = cli("agent-info", "extra")
    assert result.code == 1
    assert result.err.startswith("This command takes no arguments\n")


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["server", "members", "-detailed=perhaps"], 'invalid boolean value "perhaps"'),
        (["server", "members", "-address=http://127.0.0.1:9"], "Error querying servers: Get "),
        (["node", "status", "-address"], "flag needs an argument: -address"),
    ],
)
def test_the_real_entry_point_fails_cleanly(argv: list[str], first_line: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-P", "-m", "agent", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(first_line)
    assert "Traceback" not in done.stderr
