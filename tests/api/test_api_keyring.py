"""`/v1/agent/keyring/*` and `-encrypt` on simulated agents: Nomad's keyring endpoints over
serf's key queries, and the gossip key in the settings.

Why here: the answers' shape (Messages, Keys with per-key node counts, NumNodes), the order
of the checks (role, ACL, body), Nomad's and memberlist's error texts and the pool-wide effect
of each operation can all be pinned in virtual time. The same operations against real serf
agents are in tests/e2e/test_serf_interop_keyring.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.agent import Agent
from agent.agent_api import AgentAPI
from agent.cli.main import CliError, load_settings
from agent.launch.simulated import SimAgents
from agent.state.data_dir import DataDir, DataDirError
from tests.api.test_api_acl import auth, setup_tokens
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio

Api = Callable[[AgentAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
K1 = base64.b64encode(bytes(range(16))).decode()
K2 = base64.b64encode(bytes(range(100, 132))).decode()


def keys_of(agent: Agent) -> list[str]:
    assert agent.server is not None
    ring = agent.server.serf.swim.keyring
    assert ring is not None
    return [base64.b64encode(k).decode() for k in ring.keys]


async def pool(world: SimAgents, n: int = 3, **values: Any) -> list[Agent]:
    """`n` servers with key K1 (unless told otherwise), all joined to the first."""
    values.setdefault("server", {"enabled": True, "bootstrap_expect": 1, "encrypt": K1})
    agents = [await world.add(f"s{i}", **values) for i in range(1, n + 1)]
    for agent in agents[1:]:
        assert (await agent.join(["127.1.0.1"])).num_joined == 1
    first = agents[0]
    assert first.server is not None
    server = first.server
    assert world.run_until(lambda: server.serf.stats()["members"] == str(n), 30.0)
    return agents


async def test_list_install_use_remove_across_the_pool(world: SimAgents, api: Api) -> None:
    agents = await pool(world)
    async with api(agents[0]) as client:
        listed = await client.get("/v1/agent/keyring/list")
        assert listed.status_code == 200
        assert listed.json() == {"Messages": {}, "Keys": {K1: 3}, "NumNodes": 3}
        installed = await client.put("/v1/agent/keyring/install", json={"Key": K2})
        assert installed.json() == {"Messages": {}, "Keys": {}, "NumNodes": 3}
        assert (await client.get("/v1/agent/keyring/list")).json()["Keys"] == {K1: 3, K2: 3}
        assert (await client.post("/v1/agent/keyring/use", json={"Key": K2})).status_code == 200
        assert all(keys_of(a) == [K2, K1] for a in agents)
        assert (await client.post("/v1/agent/keyring/remove", json={"Key": K1})).status_code == 200
        assert (await client.get("/v1/agent/keyring/list?pretty")).text == json.dumps(
            {"Messages": {}, "Keys": {K2: 3}, "NumNodes": 3}, indent=4
        ) + "\n"
    assert all(keys_of(a) == [K2] for a in agents)
    world.run(20.0)
    assert agents[2].server is not None
    assert agents[2].server.serf.stats()["failed"] == "0"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Key": "not base64!"}, "illegal base64 data at input byte 3"),
        ({"Key": "abcde"}, "illegal base64 data at input byte 4"),
        ({"Key": "YWJj"}, "key size must be 16, 24 or 32 bytes"),
        ({}, "key size must be 16, 24 or 32 bytes"),
        ({"Key": 12}, "Key must be a base64 string"),
        (["Key"], 'the body must be a JSON object: {"Key": "..."}'),
    ],
)
async def test_bad_keys_are_400s_that_change_nothing(
    world: SimAgents, api: Api, body: object, message: str
) -> None:
    [agent] = await pool(world, 1)
    async with api(agent) as client:
        for op in ("install", "use", "remove"):
            response = await client.post(f"/v1/agent/keyring/{op}", json=body)
            assert_plain_error(response, 400, message)
    assert keys_of(agent) == [K1]


async def test_removing_the_primary_is_a_400_and_an_unknown_key_each_members_failure(
    world: SimAgents, api: Api
) -> None:
    agents = await pool(world, 2)
    async with api(agents[0]) as client:
        response = await client.post("/v1/agent/keyring/remove", json={"Key": K1})
        assert_plain_error(response, 400, "Removing the primary key is not allowed")
        response = await client.post("/v1/agent/keyring/use", json={"Key": K2})
        assert_plain_error(response, 500, "2/2 nodes reported failure")
        response = await client.post("/v1/agent/keyring/install", content=b"{nope")
        assert_plain_error(response, 400, "invalid JSON body")
    assert all(keys_of(a) == [K1] for a in agents)


async def test_an_agent_without_encryption_reports_failure_as_serf(
    world: SimAgents, api: Api
) -> None:
    agent = await world.add("plain")
    async with api(agent) as client:
        response = await client.get("/v1/agent/keyring/list")
        assert_plain_error(response, 500, "1/1 nodes reported failure")
        stats = (await client.get("/v1/agent/self")).json()["stats"]
    assert stats["serf"]["encrypted"] == "false"


async def test_client_only_is_501_and_acls_need_agent_write(world: SimAgents, api: Api) -> None:
    client_only = await world.add("c", client={"enabled": True})
    async with api(client_only) as client:
        assert_plain_error(await client.get("/v1/agent/keyring/list"), 501, "Invalid method")
    agent = await world.add(
        "s", server={"enabled": True, "bootstrap_expect": 1, "encrypt": K1}, acl={"enabled": True}
    )
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        for role, status in {"none": 403, "read": 403, "write": 200, "management": 200}.items():
            response = await client.get("/v1/agent/keyring/list", headers=auth(tokens[role]))
            assert response.status_code == status, (role, response.text)
            response = await client.post(
                "/v1/agent/keyring/install", json={"Key": "bad"}, headers=auth(tokens[role])
            )
            assert response.status_code == (400 if status == 200 else 403), role


async def test_stats_say_encrypted_and_count_what_a_stranger_sends(world: SimAgents) -> None:
    [agent] = await pool(world, 1)
    other = await world.add("stranger", server={"enabled": True, "bootstrap_expect": 1})
    result = await other.join(["127.1.0.1"])
    assert result.num_joined == 0
    assert "Remote state is encrypted and encryption is not configured" in result.error
    stats = agent.self_info().stats
    assert stats["serf"]["encrypted"] == "true"
    assert int(stats["gossip"]["dropped_unencrypted"]) >= 1
    assert set(stats["gossip"]) == {
        "dropped_undecryptable",
        "dropped_unencrypted",
        "dropped_malformed",
        "dropped_unsupported",
    }
    assert [m.name for m in (await agent.members()).members] == ["s1.global"]


async def test_openapi_lists_the_keyring_routes(world: SimAgents, api: Api) -> None:
    agent = await world.add("a")
    async with api(agent) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/v1/agent/keyring/list"]) == {"get", "put", "post"}
    for op in ("install", "use", "remove"):
        assert set(paths[f"/v1/agent/keyring/{op}"]) == {"put", "post"}


async def test_the_keyring_is_kept_in_the_data_dir_across_a_restart(
    world: SimAgents, api: Api, tmp_path: Path
) -> None:
    agents = await pool(world, 2)
    server = {"enabled": True, "bootstrap_expect": 1, "encrypt": K1}
    kept = await world.add("kept", server=server, data_dir=str(tmp_path))
    assert json.loads((tmp_path / "server" / "serf.keyring").read_text()) == [K1]
    assert (await kept.join(["127.1.0.1"])).num_joined == 1
    async with api(agents[0]) as client:
        await client.post("/v1/agent/keyring/install", json={"Key": K2})
        await client.post("/v1/agent/keyring/use", json={"Key": K2})
    assert world.run_until(
        lambda: json.loads((tmp_path / "server" / "serf.keyring").read_text()) == [K2, K1], 30.0
    )
    restarted = await world.restart("kept")  # started with -encrypt K1, the file wins
    assert keys_of(restarted) == [K2, K1]


@pytest.mark.parametrize(
    "content", ['{"a": 1}', '["not base64!"]', '["YWJj"]', "not json"], ids=str
)
def test_a_damaged_keyring_file_stops_the_agent_naming_it(tmp_path: Path, content: str) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "serf.keyring").write_text(content)
    with pytest.raises(DataDirError, match=r"corrupt server/serf.keyring"):
        DataDir(tmp_path).load_keyring()


# ---- -encrypt and server.encrypt -------------------------------------------------------------


def test_the_encrypt_flag_and_config_key_give_the_gossip_key(tmp_path: Path) -> None:
    assert load_settings(["-dev", "-encrypt", K1]).server.encrypt_key == bytes(range(16))
    assert load_settings(["-dev"]).server.encrypt_key is None
    config = tmp_path / "server.json"
    config.write_text(json.dumps({"server": {"encrypt": K2}}))
    assert load_settings(["-dev", "-config", str(config)]).server.encrypt_key == bytes(
        range(100, 132)
    )
    assert K1 not in repr(load_settings(["-dev", "-encrypt", K1]))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not base64!", "Invalid encryption key: illegal base64 data at input byte 3"),
        ("YWJj", "Invalid encryption key: key size must be 16, 24 or 32 bytes"),
    ],
)
def test_a_bad_encrypt_key_stops_the_agent_with_nomads_words(key: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        load_settings(["-dev", "-encrypt", key])
