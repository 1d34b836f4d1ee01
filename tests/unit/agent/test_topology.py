"""docker-compose.yml and agent/processes/topology.py describe the same five agents; the process
twin's argv is the compose command with host names, `-bind 0.0.0.0` and `/data` swapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.cli.main import load_settings
from agent.processes.topology import (
    AGENTS,
    CLIENTS,
    LOOPBACK_IPS,
    SERVERS,
    AgentSpec,
    agent_named,
    process_argv,
)

ROOT = Path(__file__).resolve().parents[3]
HEALTH_URL = "http://127.0.0.1:4646/v1/agent/health"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise AssertionError(f"unexpected duration {text!r}")


def test_the_topology_is_three_servers_and_two_clients() -> None:
    assert [a.name for a in AGENTS] == ["server1", "server2", "server3", "client1", "client2"]
    assert [a.role for a in AGENTS] == ["server"] * 3 + ["client"] * 2
    assert [a.host_http_port for a in AGENTS] == [4646, 5646, 6646, 7646, 8646]
    assert [a.loopback_ip for a in AGENTS] == [f"127.0.0.{i}" for i in range(11, 16)]
    assert agent_named("client2") is AGENTS[4]
    with pytest.raises(KeyError):
        agent_named("server4")


def test_every_service_runs_the_topology_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert list(services) == [a.name for a in AGENTS]
    for spec in AGENTS:
        service = services[spec.name]
        assert service["command"] == list(spec.argv), spec.name
        assert service["container_name"] == spec.name
        assert service["hostname"] == spec.name


def test_one_image_built_once_from_the_dockerfile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {s["image"] for s in services.values()}
    assert len(images) == 1
    builders = [name for name, s in services.items() if "build" in s]
    assert builders == ["server1"]
    assert services["server1"]["build"] == "."
    # Compose starts the one that builds the image first (docker-compose 1.x pulls otherwise).
    for name in [*SERVERS[1:], *CLIENTS]:
        assert "server1" in services[name]["depends_on"], name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["gossip-agent"]' in dockerfile


def test_published_http_ports(compose: dict[str, Any]) -> None:
    for spec in AGENTS:
        assert compose["services"][spec.name]["ports"] == [f"{spec.host_http_port}:4646"]


def test_healthchecks_hit_the_agent_health_endpoint(compose: dict[str, Any]) -> None:
    for spec in AGENTS:
        check = compose["services"][spec.name]["healthcheck"]
        test = check["test"]
        assert test[:3] == ["CMD", "python", "-c"], spec.name  # no curl in python:slim
        assert HEALTH_URL in test[3]
        compile(test[3], "healthcheck", "exec")
        assert _seconds(check["interval"]) == 2.0
        assert _seconds(check["timeout"]) == 2.0
        assert check["retries"] == 15
        assert 0 < _seconds(check["start_period"]) <= 10


def test_servers_keep_their_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    for name in SERVERS:
        assert compose["services"][name]["volumes"] == [f"{name}-data:/data"]
    assert set(compose["volumes"]) == {f"{name}-data" for name in SERVERS}
    for name in CLIENTS:
        assert "volumes" not in compose["services"][name]


def test_compose_commands_are_valid_agent_flags() -> None:
    for spec in AGENTS:
        assert spec.argv[0] == "agent"
        settings = load_settings(list(spec.argv[1:]))
        assert settings.node_name == spec.name
        assert settings.bind_addr == "0.0.0.0"
        assert settings.data_dir == "/data"
        if spec.role == "server":
            assert (settings.server.enabled, settings.client.enabled) == (True, False)
            assert settings.server.bootstrap_expect == 3
            assert list(settings.server.retry_join) == list(SERVERS)
            assert settings.server.retry_interval == 2.0
            assert settings.gossip_profile == "lan"
        else:
            assert (settings.server.enabled, settings.client.enabled) == (False, True)
            assert list(settings.client.servers) == [f"{s}:4647" for s in SERVERS]


def test_process_argv_swaps_hosts_bind_and_data_dir(tmp_path: Path) -> None:
    server2 = agent_named("server2")
    argv = process_argv(server2, LOOPBACK_IPS, tmp_path / "server2")
    assert argv == [
        "agent",
        "-server",
        "-bootstrap-expect",
        "3",
        "-node",
        "server2",  # node names stay
        "-bind",
        "127.0.0.12",
        "-data-dir",
        str(tmp_path / "server2"),
        "-gossip-profile",
        "lan",
        "-retry-join",
        "127.0.0.11",
        "-retry-join",
        "127.0.0.12",
        "-retry-join",
        "127.0.0.13",
        "-retry-interval",
        "2s",
    ]
    client1 = process_argv(agent_named("client1"), LOOPBACK_IPS, "/var/tmp/c1")
    assert client1[client1.index("-servers") + 1] == (
        "127.0.0.11:4647,127.0.0.12:4647,127.0.0.13:4647"
    )
    assert client1[client1.index("-bind") + 1] == "127.0.0.14"
    assert client1[client1.index("-node") + 1] == "client1"
    assert client1[client1.index("-data-dir") + 1] == "/var/tmp/c1"


def test_process_argv_handles_inline_values_and_unknown_hosts() -> None:
    spec = AgentSpec(
        name="x",
        role="server",
        argv=("agent", "-server", "-bind=0.0.0.0", "-join=server1:4648", "-retry-join", "far"),
        host_http_port=4646,
        loopback_ip="127.0.0.9",
    )
    assert process_argv(spec, {"x": "127.0.0.9", "server1": "127.0.0.11"}, "/d") == [
        "agent",
        "-server",
        "-bind=127.0.0.9",
        "-join=127.0.0.11:4648",
        "-retry-join",
        "far",
    ]
    broken = AgentSpec("x", "server", ("agent", "-retry-join"), 4646, "127.0.0.9")
    with pytest.raises(ValueError, match="without a value"):
        process_argv(broken, {"x": "127.0.0.9"}, "/d")


def test_process_argv_gives_valid_agent_flags(tmp_path: Path) -> None:
    for spec in AGENTS:
        argv = process_argv(spec, LOOPBACK_IPS, tmp_path / spec.name)
        settings = load_settings(argv[1:])
        assert settings.bind_addr == spec.loopback_ip
        assert settings.data_dir == str(tmp_path / spec.name)


def test_the_image_gets_every_package_the_project_installs() -> None:
    """A package missing from the Dockerfile's COPY lines or .dockerignore installs nothing
    and breaks the image at import time, which only a real image build would show."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    include = pyproject.split("[tool.setuptools.packages.find]")[1].split("]")[0]
    packages = sorted(p.strip(' "*') for p in include.split("[")[1].split(","))
    assert packages == ["agent", "gocompat", "gossip", "raft_stub"]
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f"!{package}/" in ignore, package
