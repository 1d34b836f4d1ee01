"""ACLs: `/v1/acl/*` and the capability checks of the agent endpoints (Nomad 0.7, acl/acl.go).

Every endpoint is called with no token, a read token (agent+node read), a write token
(agent+node write) and the management token; then the order of checks, token sources,
unknown tokens, validation texts, and persistence across a restart on the same data dir.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.acl.store import AclStateError
from agent.launch.simulated import SimAgents
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio

UUID_LEN = 36
TOKEN_FIELDS = [
    "AccessorID",
    "SecretID",
    "Name",
    "Type",
    "Policies",
    "Global",
    "CreateTime",
    "CreateIndex",
    "ModifyIndex",
]


async def acl_agent(world: SimAgents, data_dir: Path | None = None, **values: Any):
    extra: dict[str, Any] = {"acl": {"enabled": True}, **values}
    if data_dir is not None:
        extra["data_dir"] = str(data_dir)
    return await world.add("a", dev=True, **extra)


def auth(secret: str | None) -> dict[str, str]:
    return {} if secret is None else {"X-Nomad-Token": secret}


async def bootstrap(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/acl/bootstrap")
    assert response.status_code == 200, response.text
    return str(response.json()["SecretID"])


async def make_policy(client: httpx.AsyncClient, mgmt: str, name: str, rules: str) -> None:
    response = await client.post(
        f"/v1/acl/policy/{name}", json={"Name": name, "Rules": rules}, headers=auth(mgmt)
    )
    assert (response.status_code, response.text) == (200, "")


async def make_token(client: httpx.AsyncClient, mgmt: str, *policies: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/acl/token",
        json={"Name": "-".join(policies), "Type": "client", "Policies": list(policies)},
        headers=auth(mgmt),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def setup_tokens(client: httpx.AsyncClient) -> dict[str, str | None]:
    """Secrets by role: none, read, write, management."""
    mgmt = await bootstrap(client)
    await make_policy(client, mgmt, "read", 'agent { policy = "read" }\nnode { policy = "read" }')
    await make_policy(
        client, mgmt, "write", '{"agent": {"policy": "write"}, "node": {"policy": "write"}}'
    )
    read = (await make_token(client, mgmt, "read"))["SecretID"]
    write = (await make_token(client, mgmt, "write"))["SecretID"]
    return {"none": None, "read": read, "write": write, "management": mgmt}


# ---- the matrix ----------------------------------------------------------------------------

ALL = {"none": 200, "read": 200, "write": 200, "management": 200}
READ = {"none": 403, "read": 200, "write": 200, "management": 200}
WRITE = {"none": 403, "read": 403, "write": 200, "management": 200}
MANAGEMENT = {"none": 403, "read": 403, "write": 403, "management": 200}

AGENT_MATRIX = [
    ("GET", "/v1/agent/members", READ),
    ("GET", "/v1/agent/servers", READ),
    ("PUT", "/v1/agent/servers?address=127.1.0.1:4647", WRITE),
    ("POST", "/v1/agent/servers?address=127.1.0.1:4647", WRITE),
    ("GET", "/v1/agent/self", READ),
    ("PUT", "/v1/agent/join?address=127.1.0.1:4648", ALL),  # join needs no ACL (0.7)
    ("PUT", "/v1/agent/force-leave?node=nope", WRITE),
    ("POST", "/v1/agent/force-leave?node=nope", WRITE),
    ("GET", "/v1/agent/health", ALL),
]


@pytest.mark.parametrize(("method", "path", "expected"), AGENT_MATRIX)
async def test_agent_endpoints_by_token(
    world: SimAgents, api, method: str, path: str, expected: dict[str, int]
) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        for role, secret in tokens.items():
            response = await client.request(method, path, headers=auth(secret))
            assert response.status_code == expected[role], (role, response.text)
            if response.status_code == 403:
                assert_plain_error(response, 403, "Permission denied")


async def test_acl_endpoints_by_token(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        listed = (await client.get("/v1/acl/tokens", headers=auth(tokens["management"]))).json()
        accessor = next(t["AccessorID"] for t in listed if t["Name"] == "read")
        calls: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
            ("GET", "/v1/acl/policies", None, MANAGEMENT),
            ("GET", "/v1/acl/policy/read", None, MANAGEMENT),
            ("POST", "/v1/acl/policy/p", {"Name": "p", "Rules": ""}, MANAGEMENT),
            ("PUT", "/v1/acl/policy/p", {"Name": "p", "Rules": ""}, MANAGEMENT),
            ("GET", "/v1/acl/tokens", None, MANAGEMENT),
            ("GET", f"/v1/acl/token/{accessor}", None, MANAGEMENT),
            (
                "POST",
                "/v1/acl/token",
                {"Name": "t", "Type": "client", "Policies": ["read"]},
                MANAGEMENT,
            ),
            ("GET", "/v1/acl/token/self", None, {**READ, "none": 404}),
        ]
        for method, path, body, expected in calls:
            for role, secret in tokens.items():
                response = await client.request(method, path, json=body, headers=auth(secret))
                assert response.status_code == expected[role], (method, path, role, response.text)
                if response.status_code == 403:
                    assert_plain_error(response, 403, "Permission denied")
        # Deletes last: a throwaway policy and token, each tried by every role in turn.
        new = await make_token(client, tokens["management"], "read")
        for path in ("/v1/acl/policy/p", f"/v1/acl/token/{new['AccessorID']}"):
            for role, secret in tokens.items():
                response = await client.delete(path, headers=auth(secret))
                assert response.status_code == MANAGEMENT[role], (path, role, response.text)
            again = await client.delete(path, headers=auth(tokens["management"]))
            assert again.status_code == 404


# ---- bootstrap and token shapes -----------------------------------------------------------


async def test_bootstrap_once_returns_a_management_token(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        first = await client.post("/v1/acl/bootstrap")
        second = await client.put("/v1/acl/bootstrap")
        wrong = await client.get("/v1/acl/bootstrap")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    token = first.json()
    assert list(token) == TOKEN_FIELDS
    assert len(token["AccessorID"]) == len(token["SecretID"]) == UUID_LEN
    assert token["AccessorID"] != token["SecretID"]
    assert (token["Name"], token["Type"], token["Policies"], token["Global"]) == (
        "Bootstrap Token",
        "management",
        None,
        True,
    )
    assert token["CreateTime"].endswith("Z") and token["CreateTime"][10] == "T"
    assert token["CreateIndex"] == token["ModifyIndex"] > 0
    assert first.headers["X-Nomad-Index"] == str(token["CreateIndex"])
    assert_plain_error(
        second, 400, f"ACL bootstrap already done (reset index: {token['CreateIndex']})"
    )
    assert_plain_error(wrong, 405, "Invalid method")


async def test_token_self_and_stubs(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        mine = (await client.get("/v1/acl/token/self", headers=auth(tokens["read"]))).json()
        assert list(mine) == TOKEN_FIELDS
        assert (mine["SecretID"], mine["Type"], mine["Policies"]) == (
            tokens["read"],
            "client",
            ["read"],
        )
        stubs = (await client.get("/v1/acl/tokens", headers=auth(tokens["management"]))).json()
        assert [s["Name"] for s in stubs] == ["Bootstrap Token", "read", "write"]
        assert all("SecretID" not in s for s in stubs)
        policies = await client.get("/v1/acl/policies", headers=auth(tokens["management"]))
        assert policies.headers["X-Nomad-KnownLeader"] == "true"
        assert [(p["Name"], sorted(p)) for p in policies.json()] == [
            (name, ["CreateIndex", "Description", "ModifyIndex", "Name"])
            for name in ("read", "write")
        ]
        one = await client.get("/v1/acl/policy/read", headers=auth(tokens["management"]))
        assert one.json()["Rules"] == 'agent { policy = "read" }\nnode { policy = "read" }'
        missing = await client.get("/v1/acl/policy/nope", headers=auth(tokens["management"]))
        assert_plain_error(missing, 404, "ACL policy not found")


# ---- token sources, unknown tokens, anonymous ---------------------------------------------


async def test_bearer_token_is_read_when_x_nomad_token_is_absent(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        read = tokens["read"]
        ok = await client.get("/v1/agent/self", headers={"Authorization": f"bearer {read}"})
        assert ok.status_code == 200
        # X-Nomad-Token wins over Authorization.
        both = await client.get(
            "/v1/agent/self",
            headers={"X-Nomad-Token": f" {read} ", "Authorization": "Bearer nope"},
        )
        assert both.status_code == 200
        basic = await client.get("/v1/agent/self", headers={"Authorization": f"Basic {read}"})
        assert_plain_error(basic, 403, "Permission denied")


async def test_unknown_token_is_403_token_not_found(world: SimAgents, api) -> None:
    """Nomad 0.7's answer, kept on purpose (agent/api/routes/acl.py docstring): 0.7's
    nomad/acl.go `ResolveToken` answers `structs.ErrTokenNotFound`, a 403 `ACL token not
    found`; current Nomad says `Permission denied`. Any unknown secret, UUID or not, from
    either header."""
    agent = await acl_agent(world)
    async with api(agent) as client:
        await setup_tokens(client)
        for garbage in (
            {"X-Nomad-Token": "00000000-0000-0000-0000-000000000000"},
            {"X-Nomad-Token": "not-a-uuid"},
            {"Authorization": "Bearer 00000000-0000-0000-0000-000000000000"},
        ):
            for path in ("/v1/agent/self", "/v1/agent/members", "/v1/acl/policies"):
                response = await client.get(path, headers=garbage)
                assert_plain_error(response, 403, "ACL token not found")
            assert_plain_error(
                await client.get("/v1/acl/token/self", headers=garbage), 404, "ACL token not found"
            )
            # Endpoints without an ACL check do not look at the token at all.
            assert (await client.get("/v1/agent/health", headers=garbage)).status_code == 200


async def test_anonymous_policy_applies_to_requests_without_token(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        assert (await client.get("/v1/agent/members")).status_code == 403
        await make_policy(
            client, str(tokens["management"]), "anonymous", 'node { policy = "read" }'
        )
        assert (await client.get("/v1/agent/members")).status_code == 200
        assert (await client.get("/v1/agent/self")).status_code == 403


async def test_deny_beats_write_and_missing_policies_are_skipped(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        mgmt = str(tokens["management"])
        await make_policy(client, mgmt, "no-agent", 'agent { policy = "deny" }')
        both = (await make_token(client, mgmt, "write", "no-agent", "gone"))["SecretID"]
        assert (await client.get("/v1/agent/self", headers=auth(both))).status_code == 403
        assert (await client.get("/v1/agent/members", headers=auth(both))).status_code == 200


# ---- order of checks (as in each handler of Nomad's agent_endpoint.go) -------------------


async def test_agent_write_alone_cannot_read_members(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        mgmt = str(tokens["management"])
        await make_policy(client, mgmt, "aw", 'agent { policy = "write" }')
        await make_policy(client, mgmt, "nw", 'node { policy = "write" }')
        aw = (await make_token(client, mgmt, "aw"))["SecretID"]
        nw = (await make_token(client, mgmt, "nw"))["SecretID"]
        assert (await client.get("/v1/agent/members", headers=auth(aw))).status_code == 403
        assert (await client.get("/v1/agent/self", headers=auth(nw))).status_code == 403
        assert (await client.get("/v1/agent/servers", headers=auth(nw))).status_code == 403
        assert (
            await client.post("/v1/agent/force-leave?node=x", headers=auth(nw))
        ).status_code == (403)


async def test_validation_and_acl_order(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        await setup_tokens(client)
        # servers: the address check precedes the ACL check.
        assert_plain_error(await client.put("/v1/agent/servers"), 400, "missing server address")
        # force-leave: the ACL check precedes the node check.
        assert_plain_error(await client.put("/v1/agent/force-leave"), 403, "Permission denied")
        # members: the query parser runs before the ACL check.
        assert_plain_error(await client.get("/v1/agent/members?index=x"), 400, "Invalid index")
        # join needs no token; the address check still applies.
        assert_plain_error(await client.put("/v1/agent/join"), 400, "missing address to join")


async def test_client_only_role_check_precedes_acl(world: SimAgents, api) -> None:
    agent = await world.add("c", client={"enabled": True}, acl={"enabled": True})
    async with api(agent) as client:
        assert_plain_error(await client.put("/v1/agent/force-leave"), 501, "Invalid method")
        assert_plain_error(await client.get("/v1/agent/self"), 403, "Permission denied")


# ---- validation texts -------------------------------------------------------------------


async def test_policy_and_token_validation(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        mgmt = auth((await setup_tokens(client))["management"])
        mismatch = await client.post("/v1/acl/policy/a", json={"Name": "b"}, headers=mgmt)
        assert_plain_error(mismatch, 400, "ACL policy name does not match request path")
        bad = await client.post(
            "/v1/acl/policy/bad",
            json={"Name": "bad", "Rules": 'agent { policy = "x" }'},
            headers=mgmt,
        )
        assert_plain_error(
            bad,
            400,
            "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid agent "
            'policy: &acl.AgentPolicy{Policy:"x"}\n\n',
        )
        name = await client.post("/v1/acl/policy/a_b", json={"Name": "a_b"}, headers=mgmt)
        assert name.status_code == 400 and "invalid name 'a_b'" in name.text
        for body, message in [
            ({"Type": "client"}, "client token missing policies"),
            ({"Type": "management", "Policies": ["x"]}, "cannot be associated with policies"),
            ({"Type": "root"}, "token type must be client or management"),
        ]:
            response = await client.post("/v1/acl/token", json=body, headers=mgmt)
            assert response.status_code == 400
            assert response.text.startswith("token 0 invalid: 1 error occurred:")
            assert message in response.text
        for raw in (b"{", b"[1]", b'{"Name": 3}'):
            response = await client.post("/v1/acl/token", content=raw, headers=mgmt)
            assert response.status_code == 400, raw


async def test_token_update_keeps_secret(world: SimAgents, api) -> None:
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        mgmt = auth(tokens["management"])
        made = await make_token(client, str(tokens["management"]), "read")
        body = {**made, "Name": "renamed", "Policies": ["write"]}
        updated = await client.post(f"/v1/acl/token/{made['AccessorID']}", json=body, headers=mgmt)
        assert updated.status_code == 200, updated.text
        assert updated.json()["SecretID"] == made["SecretID"]
        assert updated.json()["ModifyIndex"] > made["ModifyIndex"]
        path = "/v1/agent/force-leave?node=x"
        assert (await client.put(path, headers=auth(made["SecretID"]))).status_code == 200


ACL_ROUTES = [
    ("PUT", "/v1/acl/bootstrap"),
    ("POST", "/v1/acl/bootstrap"),
    ("GET", "/v1/acl/policies"),
    ("GET", "/v1/acl/policy/p"),
    ("PUT", "/v1/acl/policy/p"),
    ("POST", "/v1/acl/policy/p"),
    ("DELETE", "/v1/acl/policy/p"),
    ("GET", "/v1/acl/tokens"),
    ("PUT", "/v1/acl/token"),
    ("POST", "/v1/acl/token"),
    ("GET", "/v1/acl/token/self"),
    ("GET", "/v1/acl/token/00000000-0000-0000-0000-000000000000"),
    ("POST", "/v1/acl/token/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/v1/acl/token/00000000-0000-0000-0000-000000000000"),
]


@pytest.mark.parametrize(("method", "path"), ACL_ROUTES)
async def test_acl_endpoints_with_acls_off(world: SimAgents, api, method: str, path: str) -> None:
    """400, Nomad 1.0's status, not 0.7's 500 (nomad/acl_endpoint.go `aclDisabled`, a coded
    400 from 1.0 on): asking a disabled feature is the caller's error, and a bad request never
    gets a 5xx. Whatever the token."""
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        for headers in ({}, auth("00000000-0000-0000-0000-000000000000")):
            response = await client.request(method, path, headers=headers)
            assert_plain_error(response, 400, "ACL support disabled")


async def test_tokens_and_policies_have_no_hash_field(world: SimAgents, api) -> None:
    """Nomad's server structs carry a replication `Hash` (nomad/structs `ACLToken.Hash`);
    Nomad's documented token JSON and Go client (`api.ACLToken`) omit it, so we do
    (routes/acl.py docstring)."""
    agent = await acl_agent(world)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        mgmt = auth(tokens["management"])
        made = await make_token(client, str(tokens["management"]), "read")
        accessor = made["AccessorID"]
        bodies: list[Any] = [
            made,
            (await client.get(f"/v1/acl/token/{accessor}", headers=mgmt)).json(),
            (await client.post(f"/v1/acl/token/{accessor}", json=made, headers=mgmt)).json(),
            (await client.get("/v1/acl/token/self", headers=mgmt)).json(),
            *(await client.get("/v1/acl/tokens", headers=mgmt)).json(),
            (await client.get("/v1/acl/policy/read", headers=mgmt)).json(),
            *(await client.get("/v1/acl/policies", headers=mgmt)).json(),
        ]
    for body in bodies:
        assert "Hash" not in body, body
    assert list(bodies[0]) == list(bodies[1]) == list(bodies[2]) == TOKEN_FIELDS


# ---- persistence --------------------------------------------------------------------------


async def test_tokens_and_policies_survive_a_restart(
    world: SimAgents, api, tmp_path: Path, sim_seed: int
) -> None:
    agent = await acl_agent(world, tmp_path)
    async with api(agent) as client:
        tokens = await setup_tokens(client)
    state = tmp_path / "server" / "acl.json"
    assert state.exists() and json.loads(state.read_text())["Version"] == 1
    # No temp files left (write_atomic makes `.<name>.*.tmp`); other state may sit alongside.
    assert not [p.name for p in state.parent.iterdir() if p.name.endswith(".tmp")]
    await agent.shutdown()

    again = await acl_agent(SimAgents(seed=sim_seed + 1), tmp_path)
    async with api(again) as client:
        for role, expected in READ.items():
            response = await client.get("/v1/agent/self", headers=auth(tokens[role]))
            assert response.status_code == expected, role
        assert (await client.post("/v1/acl/bootstrap")).status_code == 400
        mgmt = auth(tokens["management"])
        names = [p["Name"] for p in (await client.get("/v1/acl/policies", headers=mgmt)).json()]
        assert names == ["read", "write"]


async def test_corrupt_state_file_is_a_clear_error(world: SimAgents, tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "acl.json").write_text("{nope")
    with pytest.raises(AclStateError, match=r"acl\.json: cannot load"):
        await acl_agent(world, tmp_path)
