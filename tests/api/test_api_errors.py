"""What every agent endpoint shares (Nomad command/agent/http.go `wrap`): formats, methods,
paths, headers."""

from __future__ import annotations

import json

import pytest

from agent.launch.simulated import SimAgents
from tests.helpers.api import INDEX_HEADERS, TEXT_PLAIN, assert_plain_error

pytestmark = pytest.mark.anyio

ENDPOINTS = [
    ("GET", "/v1/agent/members"),
    ("GET", "/v1/agent/servers"),
    ("PUT", "/v1/agent/servers?address=127.0.0.1:4647"),
    ("POST", "/v1/agent/servers?address=127.0.0.1:4647"),
    ("GET", "/v1/agent/self"),
    ("PUT", "/v1/agent/join?address=127.1.0.1"),
    ("POST", "/v1/agent/join?address=127.1.0.1"),
    ("PUT", "/v1/agent/force-leave?node=nobody"),
    ("POST", "/v1/agent/force-leave?node=nobody"),
    ("GET", "/v1/agent/health"),
]
WRONG_METHODS = [
    ("POST", "/v1/agent/members"),
    ("DELETE", "/v1/agent/servers"),
    ("PATCH", "/v1/agent/servers"),
    ("POST", "/v1/agent/self"),
    ("PUT", "/v1/agent/self"),
    ("GET", "/v1/agent/join"),
    ("DELETE", "/v1/agent/join"),
    ("GET", "/v1/agent/force-leave?node=x"),
    ("POST", "/v1/agent/health"),
    ("OPTIONS", "/v1/agent/self"),
    ("OPTIONS", "/v1/agent/members"),
]


async def test_pretty_is_indented_with_a_newline(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        for query in ("?pretty", "?pretty=1", "?pretty=true", "?pretty=1&pretty=0"):
            response = await client.get(f"/v1/agent/self{query}")
            assert response.status_code == 200
            assert response.text.startswith('{\n    "config": {\n        "'), query
            assert response.text.endswith("}\n")
            assert json.loads(response.text)["member"]["Name"] == "a.global"


async def test_compact_without_pretty_or_with_pretty_0(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        for query in ("", "?pretty=0", "?pretty=0&pretty=1"):
            response = await client.get(f"/v1/agent/members{query}")
            assert response.text.startswith('{"ServerName":"a","ServerRegion":"global"'), query
            assert not response.text.endswith("\n")
            assert " " not in response.text


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_success_is_json_without_index_headers(
    world: SimAgents, api, method: str, path: str
) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.request(method, path)
    assert response.status_code == 200, response.text
    for header in INDEX_HEADERS:
        assert header not in response.headers
    if response.content:
        assert response.headers["content-type"] == "application/json"
        json.loads(response.content)
    else:  # force-leave and servers PUT/POST return nothing: empty body, no Content-Type
        assert "content-type" not in response.headers


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
async def test_wrong_method_is_405_invalid_method(
    world: SimAgents, api, method: str, path: str
) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.request(method, path)
    assert_plain_error(response, 405, "Invalid method")
    assert "allow" not in response.headers
    assert not any(h.startswith("access-control-") for h in response.headers)


async def test_head_is_405_too(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.head("/v1/agent/self")
    assert response.status_code == 405
    assert response.headers["content-type"] == TEXT_PLAIN


@pytest.mark.parametrize(
    "path", ["/v1/agent/nope", "/v1/agent/self/", "/v1/agent", "/v1/agents/self", "/nope"]
)
async def test_unknown_path_is_gos_plain_text_404(world: SimAgents, api, path: str) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.get(path)
    assert (response.status_code, response.content) == (404, b"404 page not found\n")
    assert response.headers["content-type"] == TEXT_PLAIN


async def test_configured_headers_on_success_and_error(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True, http_api_response_headers={"X-Team": "gossip"})
    async with api(agent) as client:
        ok = await client.get("/v1/agent/self")
        bad = await client.post("/v1/agent/self")
        missing = await client.post("/v1/agent/join")
    assert ok.status_code == 200 and ok.headers["x-team"] == "gossip"
    assert bad.status_code == 405 and bad.headers["x-team"] == "gossip"
    assert missing.status_code == 400 and missing.headers["x-team"] == "gossip"


async def test_unknown_query_parameters_and_region_are_ignored(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        for method, path in ENDPOINTS:
            sep = "&" if "?" in path else "?"
            response = await client.request(method, f"{path}{sep}region=global&foo=bar&x")
            assert response.status_code == 200, (path, response.text)


async def test_token_header_is_ignored_with_acls_off(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/agent/self", headers={"X-Nomad-Token": "garbage"})
    assert response.status_code == 200


async def test_openapi_documents_the_six_endpoints_and_acls(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200
    paths = spec["paths"]
    agent_paths = {
        f"/v1/agent/{p}" for p in ("members", "servers", "self", "join", "force-leave", "health")
    }
    acl_paths = {
        f"/v1/acl/{p}"
        for p in (
            "bootstrap",
            "policies",
            "policy/{name}",
            "tokens",
            "token",
            "token/self",
            "token/{accessor}",
        )
    }
    issue_12_paths = {
        "/v1/status/leader",
        "/v1/status/peers",
        "/v1/regions",
        "/v1/operator/raft/configuration",
        "/v1/operator/raft/peer",
        "/v1/nodes",
        "/v1/node/{node_id}",
        "/v1/metrics",
        "/v1/agent/monitor",
    }
    keyring_paths = {f"/v1/agent/keyring/{op}" for op in ("list", "install", "use", "remove")}
    assert set(paths) == agent_paths | acl_paths | issue_12_paths | keyring_paths
    assert set(paths["/v1/agent/servers"]) == {"get", "put", "post"}
