"""The CLI: Nomad's flags (single or double dash), one-line errors with exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import CliError, banner, load_settings, main
from agent.config.listeners import listeners_for
from agent.config.settings import Settings


def test_single_and_double_dash_flags() -> None:
    s = load_settings(
        [
            "-dev",
            "--node",
            "n1",
            "-region=eu",
            "-dc",
            "fra",
            "-bind",
            "127.0.0.21",
            "--http-port=5646",
            "-rpc-port",
            "5647",
            "-serf-port",
            "5648",
            "-gossip-profile",
            "lan",
            "-log-level",
            "warn",
            "-data-dir",
            "/tmp/x",
        ]
    )
    assert (s.dev_mode, s.node_name, s.region, s.datacenter) == (True, "n1", "eu", "fra")
    assert (s.bind_addr, s.ports.http, s.ports.rpc, s.ports.serf) == (
        "127.0.0.21",
        5646,
        5647,
        5648,
    )
    assert (s.gossip_profile, s.log_level, s.data_dir) == ("lan", "WARN", "/tmp/x")


def test_server_client_bootstrap_expect() -> None:
    s = load_settings(["-server", "-bootstrap-expect", "3"])
    assert (s.server.enabled, s.server.bootstrap_expect, s.client.enabled) == (True, 3, False)
    assert load_settings(["-client"]).client.enabled
    s = load_settings(["-dev=true", "--server=false", "-client=1"])
    assert (s.dev_mode, s.server.enabled, s.client.enabled) == (True, False, True)


def test_acl_enabled_from_flag_or_config_file(tmp_path: Path) -> None:
    assert load_settings(["-dev", "-acl-enabled"]).acl.enabled
    assert load_settings(["-dev", "--acl-enabled=true"]).acl.enabled
    assert not load_settings(["-dev"]).acl.enabled
    path = tmp_path / "acl.json"
    path.write_text(json.dumps({"acl": [{"enabled": True, "token_ttl": "30s"}]}))
    assert load_settings(["-dev", "-config", str(path)]).acl.enabled
    assert not load_settings(["-dev", "-config", str(path), "-acl-enabled=false"]).acl.enabled


def test_corrupt_acl_state_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "acl.json").write_text("not json")
    argv = ["agent", "-dev", "-acl-enabled", "-data-dir", str(tmp_path), "-log-level", "ERR"]
    assert main([*argv, "-bind", "127.0.0.24", "-http-port", "0", "-serf-port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gossip-agent: error: ACL state ") and "\n" not in err


def test_join_flags_and_server_list() -> None:
    joins = ["-join", "10.0.0.1", "-join", "10.0.0.2:4648", "-retry-join", "s3"]
    s = load_settings(["-server", *joins, "-retry-interval", "2s", "-retry-max", "3", "-rejoin"])
    assert s.server.start_join == ("10.0.0.1", "10.0.0.2:4648")
    assert (s.server.retry_join, s.server.retry_interval, s.server.retry_max) == (("s3",), 2.0, 3)
    assert s.server.rejoin_after_leave
    c = load_settings(["-client", "-servers", "a:4647, b ,,c"])
    assert c.client.servers == ("a:4647", "b", "c")


def test_server_join_block_merges_into_the_server_block(tmp_path: Path) -> None:
    path = tmp_path / "join.json"
    block = {"retry_join": ["s1", "s2"], "retry_interval": "15s", "retry_max": 2}
    path.write_text(json.dumps({"server": {"enabled": True, "server_join": block}}))
    s = load_settings(["-config", str(path)])
    assert (s.server.retry_join, s.server.retry_interval, s.server.retry_max) == (
        ("s1", "s2"),
        15.0,
        2,
    )
    both = {"enabled": True, "retry_join": ["x"], "server_join": {"retry_join": ["y"]}}
    path.write_text(json.dumps({"server": both}))
    with pytest.raises(CliError, match="server_join and the server block's join keys"):
        load_settings(["-config", str(path)])


@pytest.mark.parametrize(
    ("layout", "needle"),
    [
        ({"raft/raft.db": b"bolt"}, "not a gossip-agent data dir (found raft/raft.db)"),
        ({"server/raft.bin": b"torn"}, "corrupt server/raft.bin"),
        ({"server/serf.json": b"{"}, "corrupt server/serf.json"),
    ],
)
def test_foreign_or_corrupt_data_dir_is_one_line_and_exit_1(
    tmp_path: Path, layout: dict[str, bytes], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for rel, data in layout.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    argv = ["agent", "-server", "-data-dir", str(tmp_path), "-log-level", "ERR"]
    assert main([*argv, "-bind", "127.0.0.24", "-http-port", "0", "-serf-port", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"gossip-agent: error: data dir {tmp_path}: ") and needle in err
    assert "\n" not in err


def test_flags_beat_config_files(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps({"region": "file", "server": {"enabled": True}, "ports": {"rpc": 1}})
    )
    s = load_settings(["-config", str(path), "-region", "flag"])
    assert (s.region, s.ports.rpc, s.server.enabled) == ("flag", 1, True)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-bogus"], "unrecognized arguments: -bogus"),
        (["-de"], "unrecognized arguments: -de"),
        (["-dev=maybe"], "argument -dev/--dev: invalid boolean value: 'maybe'"),
        (["-server", "-bootstrap-expect", "x"], "argument -bootstrap-expect/--bootstrap-expect"),
        (["-server", "-http-port", "99999"], "invalid ports.http"),
        (["-server", "-bind", "nowhere"], "invalid bind_addr: 'nowhere' is not an IP address"),
        (["-server", "-gossip-profile", "fast"], "invalid gossip_profile"),
        ([], "Must specify either server, client or dev mode"),
        (["-server", "-config", "/nonexistent.json"], "config file /nonexistent.json: No such"),
        (["-server", "-retry-interval", "soon"], "invalid server.retry_interval"),
        (["-server", "-retry-interval=0s"], "invalid server.retry_interval: must be positive"),
        (["-server", "-retry-max", "-1"], "invalid server.retry_max"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CliError, match=None) as info:
        load_settings(argv)
    assert needle in str(info.value)
    assert main(["agent", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gossip-agent: error: ") and needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unknown_command_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agnet"]) == 1
    assert "unknown command 'agnet'" in capsys.readouterr().err
    assert main([]) == 1


def test_console_script_reports_bad_port_without_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent", "agent", "-dev", "-http-port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("gossip-agent: error: invalid ports.http")
    assert "Traceback" not in done.stderr


def test_taken_port_is_one_line_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.26", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "agent", "agent", "-dev", "-bind", "127.0.0.26",
             "-http-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert f"http: cannot listen on 127.0.0.26:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_retry_join_gives_up_after_retry_max_and_the_agent_exits_1(tmp_path: Path) -> None:
    """Nomad's retryJoiner: the first attempt plus `retry_max` retries, then exit status 1."""
    done = subprocess.run(
        [sys.executable, "-m", "agent", "agent", "-server", "-bootstrap-expect", "1",
         "-bind", "127.0.0.27", "-data-dir", str(tmp_path / "data"),
         "-retry-join", "127.0.0.28", "-retry-interval", "200ms", "-retry-max", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.count("agent: join failed:") == 2
    assert "retrying in 200ms" in done.stderr
    assert "agent: max join retry exhausted, exiting" in done.stderr
    assert "agent: shutdown complete" in done.stderr
    assert "Traceback" not in done.stderr


def test_banner_says_where_each_listener_is() -> None:
    s = Settings(dev_mode=True, name="n1", bind_addr="127.0.0.21")
    text = banner(s, listeners_for(s, http_port=4646, serf_port=4648, fallback_ip="x"))
    assert "HTTP: 127.0.0.21:4646; RPC: 127.0.0.21:4647; Serf: 127.0.0.21:4648" in text
    assert "Serf: 127.0.0.21:4648 (udp+tcp)" in text
    assert "Region: global (DC: dc1)" in text
