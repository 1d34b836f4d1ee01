"""deploy/compose_check.py's own logic, without a container engine.

The script runs the real cluster in CI (.ci/run); these tests keep its pieces honest on any
machine: the podman settings it writes, how it picks an engine, how it reads the agents'
answers, its waiting and reporting, and that its idea of the cluster (names, host ports,
base image) is the one docker-compose.yml, the Dockerfile and agent/processes/topology.py
describe.
"""

from __future__ import annotations

import importlib.util
import resource
import signal
import socket
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from agent.processes.supervisor import RPC_PORT
from agent.processes.topology import AGENTS, CLIENTS, SERVERS

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "compose_check.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compose_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


cc = _load()


def members(**statuses: str) -> dict[str, Any]:
    return {
        "ServerName": "server1",
        "Members": [
            {"Name": name, "Addr": f"10.89.0.{i + 2}", "Port": 4648, "Status": status}
            for i, (name, status) in enumerate(statuses.items())
        ],
    }


THREE_ALIVE = members(
    **{"server1.global": "alive", "server2.global": "alive", "server3.global": "alive"}
)
ADDRS = {
    "server1.global": "10.89.0.2",
    "server2.global": "10.89.0.3",
    "server3.global": "10.89.0.4",
}


# ---- the cluster it checks is the one the repository describes --------------------------------


def test_names_ports_and_rpc_port_match_the_topology_and_the_compose_file() -> None:
    assert cc.SERVERS == SERVERS and cc.CLIENTS == CLIENTS
    assert dict(cc.HOST_HTTP_PORTS) == {a.name: a.host_http_port for a in AGENTS}
    assert cc.RPC_PORT == RPC_PORT
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert list(services) == list(cc.AGENTS)
    for name, port in cc.HOST_HTTP_PORTS.items():
        assert services[name]["ports"] == [f"{port}:4646"]
        assert services[name]["container_name"] == name
        assert services[name]["image"] == cc.IMAGE
    assert cc.COMPOSE_FILE == ROOT / "docker-compose.yml"


def test_the_base_image_is_the_dockerfiles() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms == ["python:3.11-slim"]
    assert f"docker.io/library/{froms[0]}" == cc.BASE_IMAGE


# ---- podman's settings ------------------------------------------------------------------------


def test_containers_conf_sets_runtime_cgroups_events_and_ulimits() -> None:
    conf = tomllib.loads(cc.containers_conf(20000, 32768))
    assert conf["engine"] == {
        "runtime": "runc",
        "cgroup_manager": "cgroupfs",
        "events_logger": "file",
    }
    assert conf["containers"]["default_ulimits"] == ["nofile=20000:20000", "nproc=32768:32768"]


@pytest.mark.parametrize(
    ("hard", "pid_max", "expected"),
    [
        (96555, 32768, 32768),  # pid_max is the lowest
        (1000, 4194304, 1000),  # a low hard limit wins
        (resource.RLIM_INFINITY, 4194304, cc.NPROC_CAP),  # no hard limit: our cap
        (resource.RLIM_INFINITY, 4096, 4096),
    ],
)
def test_nproc_stays_within_hard_limit_and_pid_max(hard: int, pid_max: int, expected: int) -> None:
    assert cc.nproc_limit(hard, pid_max) == expected


def test_nofile_is_podmans_default_unless_the_hard_limit_is_lower() -> None:
    assert cc.nofile_limit(20000) == 20000
    assert cc.nofile_limit(resource.RLIM_INFINITY) == 1048576
    assert cc.nofile_limit(2**21) == 1048576


# ---- picking the engine -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "docker", "podman", "expected"),
    [
        ("auto", True, True, "docker"),
        ("auto", True, False, "docker"),
        ("auto", False, True, "podman"),  # a docker CLI without a daemon is no Docker
        ("podman", True, True, "podman"),
        ("docker", True, False, "docker"),
    ],
)
def test_docker_when_its_daemon_answers_else_podman(
    requested: str, docker: bool, podman: bool, expected: str
) -> None:
    assert cc.choose_engine(requested, docker, podman) == expected


@pytest.mark.parametrize(
    ("requested", "docker", "podman", "says"),
    [
        ("auto", False, False, "apt-get install podman"),
        ("podman", True, False, "apt-get install podman"),
        ("docker", False, True, "no Docker daemon"),
    ],
)
def test_a_missing_engine_says_how_to_get_one(
    requested: str, docker: bool, podman: bool, says: str
) -> None:
    with pytest.raises(cc.Missing, match=says):
        cc.choose_engine(requested, docker, podman)


# ---- reading the agents' answers --------------------------------------------------------------


def test_three_alive_servers_pass() -> None:
    assert cc.member_statuses(THREE_ALIVE) == dict.fromkeys(ADDRS, "alive")
    assert cc.servers_alive_problem(cc.member_statuses(THREE_ALIVE)) is None
    assert cc.member_addrs(THREE_ALIVE) == ADDRS


def test_a_failed_or_missing_server_is_named() -> None:
    statuses = cc.member_statuses(
        members(**{"server1.global": "alive", "server2.global": "failed"})
    )
    problem = cc.servers_alive_problem(statuses)
    assert problem == "not alive: server2.global failed, server3.global missing"


def test_a_body_that_is_not_the_members_document_fails_the_step() -> None:
    for body in (None, [], {"Members": "x"}, "500 no servers"):
        with pytest.raises(cc.CheckFailed, match="/v1/agent/members answered"):
            cc.member_statuses(body)


def test_a_client_lists_the_three_servers_rpc_addresses() -> None:
    listing = ["10.89.0.2:4647", "10.89.0.3:4647", "10.89.0.4:4647"]
    assert cc.client_servers_problem(listing, ADDRS) is None
    by_name = ["server1:4647", "server2:4647", "server3:4647"]  # as -servers gave them
    assert cc.client_servers_problem(by_name, ADDRS) is None


def test_a_client_missing_a_server_or_listing_junk_is_a_problem() -> None:
    two = ["10.89.0.2:4647", "10.89.0.4:4647"]
    assert "missing ['server2']" in str(cc.client_servers_problem(two, ADDRS))
    wrong_port = ["10.89.0.2:4646", "10.89.0.3:4647", "10.89.0.4:4647"]
    assert "missing ['server1']" in str(cc.client_servers_problem(wrong_port, ADDRS))
    extra = [*two, "10.89.0.3:4647", "10.89.0.9:4647"]
    assert cc.client_servers_problem(extra, ADDRS) is not None
    assert "not a list" in str(cc.client_servers_problem({"servers": []}, ADDRS))


def test_name_conflicts_are_found_in_a_servers_log() -> None:
    log = (
        "    2026/12/05 12:15:58 [INFO] serf: EventMemberFailed: server2.global 10.89.0.3\n"
        "    2026/12/05 12:16:01 [WARN] serf: Name conflict for 'server2.global' both "
        "10.89.0.3:4648 and 10.89.0.7:4648 are claiming\n"
        "    2026/12/05 12:16:02 [WARN] serf: Name conflict for 'server3.global' both ...\n"
    )
    found = cc.conflict_lines(log, "server2.global")
    assert len(found) == 1 and "10.89.0.7:4648" in found[0]
    assert cc.conflict_lines("", "server2.global") == []


def test_raft_numbers_come_from_self() -> None:
    body = {"stats": {"raft": {"term": "3", "last_log_index": "12", "state": "Follower"}}}
    assert cc.raft_numbers(body) == (3, 12)
    for bad in ({}, {"stats": {}}, {"stats": {"raft": {"term": "x", "last_log_index": "1"}}}):
        with pytest.raises(cc.CheckFailed, match="no raft term"):
            cc.raft_numbers(bad)


# ---- ports, waiting, running, reporting -------------------------------------------------------


def test_a_held_port_is_busy_and_a_free_one_is_not() -> None:
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        assert cc.busy_ports([port]) == [port]
    assert cc.busy_ports([port]) == []


def test_wait_for_returns_the_last_sighting_once_done() -> None:
    answers = iter([(False, "starting"), (False, "starting"), (True, "healthy")])
    assert cc.wait_for("x", lambda: next(answers), 5.0, interval=0.001) == "healthy"


def test_wait_for_names_what_it_waited_for_and_what_it_saw_last() -> None:
    def refused() -> tuple[bool, str]:
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(cc.CheckFailed, match=r"server2 alive: not within 0 s.*refused"):
        cc.wait_for("server2 alive", refused, 0.02, interval=0.005)


def test_run_reports_the_command_and_its_output_when_it_fails(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('the output'); raise SystemExit(3)"]
    with pytest.raises(cc.CheckFailed, match=r"exited 3:\nthe output"):
        cc.run(argv)
    log = tmp_path / "run.log"
    with pytest.raises(cc.CheckFailed, match="the output"):
        cc.run(argv, log=log)
    assert "$ " in log.read_text() and "the output" in log.read_text()
    assert cc.run(argv, check=False).returncode == 3


def test_steps_are_timed_and_a_failure_is_recorded_and_reraised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reporter = cc.Reporter()
    with reporter.step("up", "up --build -d"):
        pass
    with pytest.raises(cc.CheckFailed), reporter.step("kill", "kill server2"):
        raise cc.CheckFailed("server2.global failed on server1: not within 90 s")
    assert [(name, outcome) for name, _, outcome in reporter.timings] == [
        ("up", "ok"),
        ("kill", "FAILED"),
    ]
    out = capsys.readouterr().out
    assert "up: ok (" in out and "kill: FAILED after" in out
    table = cc.format_timings([("up", 61.0, "ok"), ("restart", 45.25, "FAILED")], 107.0)
    assert table.splitlines() == [
        "  up         61.0 s  ok",
        "  restart    45.2 s  FAILED",
        "  total     107.0 s",  # the run's own time, gaps between steps included
    ]
    assert reporter.table().splitlines()[0].startswith("  up ")


def test_private_network_is_refused_with_docker_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    assert cc.main(["--private-network", "--engine", "docker"]) == 2
    assert "podman only" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # main puts back the handler it found


def test_defaults() -> None:
    args = cc.parse_args([])
    assert args.engine == "auto" and not args.private_network
    assert args.cache_dir.endswith("gossip-agent/compose-check")
    assert args.mirror == "http://deb.debian.org/debian"
