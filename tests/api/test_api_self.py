"""GET /v1/agent/self (Nomad agent_endpoint.go `AgentSelfRequest`, command/agent/agent.go
`Stats`): `config`, `member` and string `stats` on server, client-only and dev agents; POST 405."""

from __future__ import annotations

import asyncio
import re

import pytest

from agent.launch.simulated import SimAgents
from agent.telemetry import runtime_stats
from gocompat.durations import parse_go_duration
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio

GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s)$|^0s?$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RAFT_KEYS = {
    "state", "term", "last_log_index", "last_log_term", "commit_index", "applied_index",
    "fsm_pending", "last_snapshot_index", "last_snapshot_term", "protocol_version",
    "protocol_version_min", "protocol_version_max", "snapshot_version_min",
    "snapshot_version_max", "latest_configuration_index", "latest_configuration", "num_peers",
    "last_contact",
}  # fmt: skip
SERF_KEYS = {
    "members", "failed", "left", "health_score", "member_time", "event_time", "query_time",
    "intent_queue", "event_queue", "query_queue", "encrypted", "coordinate_resets",
}  # fmt: skip
RUNTIME_KEYS = {"kernel.name", "arch", "version", "max_procs", "goroutines", "cpu_count"}


async def _self(world: SimAgents, api, name: str = "a", **values: object) -> dict:
    agent = await world.add(name, **values)
    async with api(agent) as client:
        response = await client.get("/v1/agent/self")
    assert response.status_code == 200
    return response.json()


async def test_server_has_config_member_and_string_stats(world: SimAgents, api) -> None:
    body = await _self(world, api)
    assert set(body) == {"config", "member", "stats"}
    assert set(body["stats"]) == {"nomad", "raft", "serf", "gossip", "runtime"}
    assert set(body["stats"]["raft"]) == RAFT_KEYS
    assert set(body["stats"]["serf"]) == SERF_KEYS
    assert set(body["stats"]["runtime"]) == RUNTIME_KEYS
    for block in body["stats"].values():
        assert all(isinstance(v, str) for v in block.values()), block
    assert body["member"]["Name"] == "a.global"
    assert body["member"]["Status"] == "alive"


async def test_dev_agent_has_client_stats(world: SimAgents, api) -> None:
    body = await _self(world, api, dev=True, ports={"rpc": 4999})
    client = body["stats"]["client"]
    assert set(client) == {
        "node_id",
        "known_servers",
        "num_allocations",
        "last_heartbeat",
        "heartbeat_ttl",
    }
    assert UUID.match(client["node_id"])
    assert client["known_servers"] == "127.1.0.1:4999"
    assert client["num_allocations"] == "0"
    for key in ("heartbeat_ttl", "last_heartbeat"):
        assert GO_DURATION.match(client[key]), client[key]
    assert 10e9 <= parse_go_duration(client["heartbeat_ttl"]) < 20e9
    assert parse_go_duration(client["last_heartbeat"]) < parse_go_duration(client["heartbeat_ttl"])


async def test_client_only_has_zero_member_and_client_runtime_stats(world: SimAgents, api) -> None:
    body = await _self(world, api, client={"enabled": True, "servers": ["10.0.0.1", "10.0.0.2"]})
    assert set(body["stats"]) == {"client", "runtime"}
    assert body["member"] == {
        "Name": "",
        "Addr": None,
        "Port": 0,
        "Tags": None,
        "Status": "none",
        "ProtocolMin": 0,
        "ProtocolMax": 0,
        "ProtocolCur": 0,
        "DelegateMin": 0,
        "DelegateMax": 0,
        "DelegateCur": 0,
    }
    client = body["stats"]["client"]
    assert client["known_servers"] == "10.0.0.1:4647,10.0.0.2:4647"
    assert client["heartbeat_ttl"] == "0s"
    assert client["last_heartbeat"] == "2562047h47m16.854775807s"


async def test_single_leader(world: SimAgents, api) -> None:
    body = await _self(world, api, server={"enabled": True, "bootstrap_expect": 1})
    nomad, raft = body["stats"]["nomad"], body["stats"]["raft"]
    assert nomad == {
        "server": "true",
        "leader": "true",
        "leader_addr": "127.1.0.1:4647",
        "bootstrap": "true",
        "known_regions": "1",
    }
    # Bootstrap writes the configuration at term 1; the first election makes term 2.
    assert (raft["state"], raft["term"], raft["num_peers"]) == ("Leader", "2", "0")
    assert raft["last_contact"] in ("0", "never")
    assert raft["latest_configuration"] == (
        "[{Suffrage:Voter ID:127.1.0.1:4647 Address:127.1.0.1:4647}]"
    )


async def test_dev_mode_reports_bootstrap_false_but_leads(world: SimAgents, api) -> None:
    body = await _self(world, api, dev=True)
    assert body["stats"]["nomad"]["bootstrap"] == "false"  # 0.5.5-0.10: the config flag
    assert body["stats"]["nomad"]["leader"] == "true"
    assert body["member"]["Tags"]["bootstrap"] == "1"


async def test_waiting_server_has_no_leader(world: SimAgents, api) -> None:
    body = await _self(world, api, server={"enabled": True, "bootstrap_expect": 3})
    nomad, raft = body["stats"]["nomad"], body["stats"]["raft"]
    assert (nomad["leader"], nomad["leader_addr"]) == ("false", "")
    assert (raft["state"], raft["last_contact"], raft["num_peers"]) == ("Follower", "never", "0")


async def test_config_block_has_nomad_field_names_and_values(world: SimAgents, api) -> None:
    body = await _self(world, api, dev=True, region="r1", datacenter="d1")
    config = body["config"]
    assert (config["Region"], config["Datacenter"], config["NodeName"]) == ("r1", "d1", "a")
    assert config["DevMode"] is True
    assert config["Version"] == "0.7.0" and isinstance(config["VersionPrerelease"], str)
    assert config["Ports"] == {"HTTP": 4646, "RPC": 4647, "Serf": 4648}
    assert config["AdvertiseAddrs"] == {
        "HTTP": "127.1.0.1:4646",
        "RPC": "127.1.0.1:4647",
        "Serf": "127.1.0.1:4648",
    }
    assert config["Server"]["Enabled"] is True and config["Client"]["Enabled"] is True
    assert config["ACL"]["Enabled"] is False
    for block in ("Consul", "Vault", "Telemetry", "TLSConfig"):
        assert isinstance(config[block], dict)


async def test_serf_stats_follow_the_pool(world: SimAgents, api) -> None:
    a = await world.add("a")
    await world.add("b")
    async with api(a) as client:
        await client.post("/v1/agent/join?address=127.1.0.2")
        serf = (await client.get("/v1/agent/self")).json()["stats"]["serf"]
    assert (serf["members"], serf["failed"], serf["left"], serf["encrypted"]) == (
        "2",
        "0",
        "0",
        "false",
    )


async def test_post_is_405(world: SimAgents, api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        assert_plain_error(await client.post("/v1/agent/self"), 405, "Invalid method")


async def test_runtime_goroutines_are_asyncio_tasks_read_at_most_once_a_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counting tasks walks them all, so a reading is reused for RUNTIME_SAMPLE_SECONDS."""
    monkeypatch.setattr(runtime_stats, "RUNTIME_SAMPLE_SECONDS", 0.0)
    sampler = runtime_stats.RuntimeSampler()
    before = int(sampler.stats()["goroutines"])
    sleepers = [asyncio.create_task(asyncio.sleep(60)) for _ in range(3)]
    try:
        assert int(sampler.stats()["goroutines"]) == before + 3
        monkeypatch.setattr(runtime_stats, "RUNTIME_SAMPLE_SECONDS", 1e9)
        held = sampler.stats()
        sleepers.append(asyncio.create_task(asyncio.sleep(60)))
        assert sampler.stats() == held
    finally:
        for task in sleepers:
            task.cancel()
        await asyncio.gather(*sleepers, return_exceptions=True)
    assert set(held) == RUNTIME_KEYS and int(held["max_procs"]) >= 1
