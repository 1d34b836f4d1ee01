"""Settings: defaults, the -dev preset, source precedence, validation and config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.config.files import ConfigFileError, load_config_files
from agent.config.listeners import listeners_for
from agent.config.settings import NOMAD_RECONNECT_TIMEOUT, Settings, format_validation_error

SERVER = {"server": {"enabled": True}}


def test_defaults_are_nomads() -> None:
    s = Settings(**SERVER)
    assert (s.region, s.datacenter, s.bind_addr, s.log_level) == (
        "global",
        "dc1",
        "0.0.0.0",
        "INFO",
    )
    assert (s.ports.http, s.ports.rpc, s.ports.serf) == (4646, 4647, 4648)
    assert s.gossip_profile == "wan"
    assert (s.leave_on_interrupt, s.leave_on_terminate) == (False, False)
    assert s.node_name  # the host name when unset


def test_dev_preset_fills_only_what_is_unset() -> None:
    s = Settings(dev_mode=True)
    assert (s.server.enabled, s.client.enabled, s.bind_addr) == (True, True, "127.0.0.1")
    assert (s.gossip_profile, s.log_level, s.server.bootstrap_expect) == ("local", "DEBUG", 0)
    assert s.bootstraps
    s = Settings(dev_mode=True, bind_addr="127.0.0.21", log_level="info")
    assert (s.bind_addr, s.log_level) == ("127.0.0.21", "INFO")


def test_frozen() -> None:
    s = Settings(**SERVER)
    with pytest.raises(ValidationError):
        s.region = "x"  # type: ignore[misc]


def test_environment_is_below_constructor_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOSSIP_AGENT_REGION", "env-region")
    monkeypatch.setenv("GOSSIP_AGENT_PORTS__HTTP", "5000")
    monkeypatch.setenv("GOSSIP_AGENT_DEV_MODE", "true")
    s = Settings(ports={"rpc": 6000})
    assert (s.region, s.ports.http, s.ports.rpc, s.ports.serf) == ("env-region", 5000, 6000, 4648)
    assert s.dev_mode and s.server.enabled
    assert Settings(region="flag").region == "flag"


def test_env_can_beat_the_dev_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOSSIP_AGENT_GOSSIP_PROFILE", "lan")
    assert Settings(dev_mode=True).gossip_profile == "lan"


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"ports": {"http": 70000}}, "invalid ports.http: Input should be less than or equal"),
        ({"bind_addr": "localhost"}, "invalid bind_addr: 'localhost' is not an IP address"),
        ({"log_level": "LOUD"}, "invalid log_level: invalid log level 'LOUD'"),
        ({"gossip_profile": "fast"}, "invalid gossip_profile: Input should be 'wan'"),
        ({"server": {"enabled": True, "bootstrap_expect": -1}}, "invalid server.bootstrap_expect"),
        ({"advertise": {"rpc": "10.0.0.1:x"}}, "invalid advertise.rpc: strconv.ParseUint"),
        ({"ports": {"bogus": 1}}, "invalid ports.bogus: Extra inputs are not permitted"),
        ({"acl": {"enabled": "maybe"}}, "invalid acl.enabled: Input should be a valid boolean"),
        ({"region": ""}, "invalid region: String should have at least 1 character"),
    ],
)
def test_invalid_values_name_the_field(values: dict, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**(SERVER | values))
    message = format_validation_error(info.value)
    assert needle in message
    assert "\n" not in message


def test_no_role_is_nomads_error() -> None:
    with pytest.raises(ValidationError) as info:
        Settings()
    assert format_validation_error(info.value) == (
        "Must specify either server, client or dev mode for the agent."
    )


def test_core_configs() -> None:
    s = Settings(dev_mode=True, name="n")
    gossip = s.to_gossip_config()
    assert gossip.reconnect_timeout == NOMAD_RECONNECT_TIMEOUT
    assert gossip.memberlist.tcp_timeout == 1.0  # memberlist's local profile
    assert Settings(**SERVER).to_gossip_config().memberlist.tcp_timeout == 30.0
    raft = s.to_raft_config("127.0.0.1:4647")
    assert (raft.server_id, raft.bootstrap_expect) == ("127.0.0.1:4647", 1)
    waiting = Settings(server={"enabled": True, "bootstrap_expect": 3})
    assert waiting.to_raft_config("1.2.3.4:4647").bootstrap_expect == 3


def test_listeners_advertise_rules() -> None:
    s = Settings(
        dev_mode=True,
        bind_addr="0.0.0.0",
        addresses={"http": "127.0.0.5"},
        advertise={"rpc": "10.0.0.1", "serf": "10.0.0.2:9999"},
    )
    listeners = listeners_for(s, http_port=1, serf_port=2, fallback_ip="192.168.1.10")
    assert (listeners.http.bind, listeners.http.advertise) == ("127.0.0.5:1", "127.0.0.5:1")
    assert (listeners.rpc.bind, listeners.rpc.advertise) == ("0.0.0.0:4647", "10.0.0.1:4647")
    assert (listeners.serf.bind, listeners.serf.advertise) == ("0.0.0.0:2", "10.0.0.2:9999")


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_config_file_in_nomad_shape(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "agent.json",
        {
            "region": "eu",
            "datacenter": "fra",
            "name": "n1",
            "bind_addr": "127.0.0.9",
            "ports": {"http": 5646},
            "server": [{"enabled": True, "bootstrap_expect": 3, "num_schedulers": 2}],
            "client": {"enabled": False},
            "leave_on_terminate": True,
            "telemetry": {"statsd_address": "x"},
        },
    )
    values = load_config_files([path])
    s = Settings(**values)
    assert (s.region, s.datacenter, s.node_name, s.ports.http) == ("eu", "fra", "n1", 5646)
    assert (s.server.enabled, s.server.bootstrap_expect, s.leave_on_terminate) == (True, 3, True)


def test_later_files_win_and_directories_load_in_order(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    _write(conf, "a.json", {"region": "a", "ports": {"http": 1}})
    _write(conf, "b.json", {"region": "b"})
    _write(conf, "ignored.txt", "{")
    last = _write(tmp_path, "last.json", {"ports": {"rpc": 2}})
    assert load_config_files([conf, last]) == {"region": "b", "ports": {"http": 1, "rpc": 2}}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"region": ', "invalid JSON at line 1 column 12"),
        ("[1, 2]", "the top level must be a JSON object"),
        ('{"regoin": "x"}', "unknown key 'regoin'"),
        ('{"server": [1, 2]}', "server must be an object"),
    ],
)
def test_bad_config_files(tmp_path: Path, content: str, needle: str) -> None:
    path = _write(tmp_path, "bad.json", content)
    with pytest.raises(ConfigFileError, match=needle):
        load_config_files([path])


def test_missing_and_hcl_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="No such file"):
        load_config_files([tmp_path / "nope.json"])
    with pytest.raises(ConfigFileError, match="HCL config files are not supported"):
        load_config_files([tmp_path / "agent.hcl"])
