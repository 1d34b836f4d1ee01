"""The ASGI fast path (agent.api.fast) answers exactly what the FastAPI routes answer.

Every request of a table (methods, paths, `?pretty`, bad query options, tokens good, bad,
missing and malformed, ACLs on and off, configured headers, a client-only agent) goes to an
app with the fast path and to one without, on the same agent; the ASGI messages (status,
header list in order, body) must be equal. The table also pins which requests the fast path
takes (the 200s of GET members/self) and which it leaves to FastAPI, so a fast path that
silently stopped answering, or started answering errors itself, fails here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from agent.agent_api import ZERO_MEMBER, AgentAPI, MemberInfo, SelfInfo
from agent.api import create_app
from agent.api.app import AgentApp
from agent.api.encoding import encode
from agent.api.models import SelfResponse
from agent.api.views import AgentViews
from agent.launch.simulated import SimAgents
from agent.telemetry import runtime_stats

pytestmark = pytest.mark.anyio

Headers = Sequence[tuple[bytes, bytes]]
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
PATHS = (
    "/v1/agent/members",
    "/v1/agent/self",
    "/v1/agent/members/",
    "/v1/agent/self/",
    "/v1/agent/Members",
    "/v1/agent/health",
)
QUERIES = (
    b"",
    b"pretty",
    b"pretty=1",
    b"pretty=0",
    b"pretty=0&pretty=1",
    b"pretty=1&pretty=0",
    b"%70retty=true",
    b"wait=xyz",
    b"wait=10s",
    b"wait=",
    b"index=abc",
    b"index=7",
    b"index=18446744073709551616",
    b"index=-1",
    b"stale",
    b"stale=maybe",
    b"region=global&foo=bar&x",
    b"pretty&wait=5m&index=3&stale=true",
    b"pretty&index=%ff",
)


@pytest.fixture(autouse=True)
def _steady_runtime_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep `stats.runtime.goroutines` from being re-read between the two calls compared."""
    monkeypatch.setattr(runtime_stats, "RUNTIME_SAMPLE_SECONDS", 1e9)


def scope(
    method: str, path: str, query: bytes = b"", headers: Headers = (), root_path: str = ""
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": root_path,
        "headers": [(b"host", b"agent"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 4646),
    }


async def messages(app: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """What the app sends for one request (a fresh copy of the scope each time)."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(request, headers=list(request["headers"])), receive, send)
    return sent


async def fast_path_takes(app: AgentApp, request: dict[str, Any]) -> bool:
    """Whether the fast path answers `request` itself (and, if not, that it sent nothing)."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert app.fast_path is not None
    taken = await app.fast_path.answer(dict(request, headers=list(request["headers"])), send)
    assert taken == bool(sent), sent
    return taken


async def compare(agent: AgentAPI, requests: list[dict[str, Any]]) -> list[int]:
    """Check both apps agree on every request; the statuses the fast path answered."""
    fast, slow = create_app(agent), create_app(agent, fast_path=False)
    assert isinstance(fast, AgentApp) and fast.fast_path is not None
    assert not isinstance(slow, AgentApp) or slow.fast_path is None
    taken = []
    for request in requests:
        label = (request["method"], request["path"], request["query_string"], request["headers"])
        # Twice each: the first call fills the members/self caches, the second hits them.
        for _ in range(2):
            expected = await messages(slow, request)
            got = await messages(fast, request)
            assert got == expected, label
        status = expected[0]["status"]
        takes = await fast_path_takes(fast, request)
        wanted = (
            request["method"] == "GET"
            and request["path"] in ("/v1/agent/members", "/v1/agent/self")
            and not request["root_path"]
            and status == 200
            # A client's members is an RPC to a server: never on the fast path.
            and not (request["path"] == "/v1/agent/members" and agent.members_version() is None)
        )
        assert takes == wanted, (label, status)
        if takes:
            taken.append(status)
    return taken


def table(tokens: Sequence[Headers] = ((),)) -> list[dict[str, Any]]:
    rows = [scope(m, p) for m in METHODS for p in PATHS]
    rows += [scope("GET", p, q, h) for p in PATHS[:2] for q in QUERIES for h in tokens]
    rows += [scope("GET", p, b"", h) for p in PATHS[:2] for h in tokens]
    rows += [scope("GET", p, root_path="/api") for p in PATHS[:2]]
    return rows


def x_token(secret: str) -> tuple[bytes, bytes]:
    return (b"x-nomad-token", secret.encode())


async def test_same_answers_with_acls_off_and_configured_headers(world: SimAgents) -> None:
    agent = await world.add(
        "a", dev=True, http_api_response_headers={"X-Team": "gossip", "Cache-Control": "no-store"}
    )
    garbage: list[Headers] = [
        (),
        [x_token("garbage")],
        [(b"authorization", b"Bearer garbage")],
        [(b"authorization", b"Basic abc")],
    ]
    taken = await compare(agent, table(garbage))
    assert taken and set(taken) == {200}


async def test_same_answers_with_acls_on_for_every_kind_of_token(world: SimAgents) -> None:
    agent = await world.add("a", dev=True, acl={"enabled": True})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(agent)), base_url="http://agent"
    ) as client:
        root = (await client.post("/v1/acl/bootstrap")).json()["SecretID"]
        admin = {"X-Nomad-Token": root}
        secrets = {}
        for name, rules in {
            "node-read": 'node { policy = "read" }',
            "agent-read": 'agent { policy = "read" }',
            "deny": 'agent { policy = "deny" }\nnode { policy = "deny" }',
        }.items():
            policy = {"Name": name, "Rules": rules}
            assert (
                await client.post(f"/v1/acl/policy/{name}", json=policy, headers=admin)
            ).is_success
            token = {"Name": name, "Type": "client", "Policies": [name]}
            made = await client.post("/v1/acl/token", json=token, headers=admin)
            secrets[name] = made.json()["SecretID"]
    tokens: list[Headers] = [
        (),
        [x_token(root)],
        [x_token(f"  {root}  ")],
        [(b"authorization", f"Bearer {root}".encode())],
        [(b"authorization", f"bEaReR   {secrets['node-read']} ".encode())],
        [(b"authorization", f"Basic {root}".encode())],
        [x_token(secrets["node-read"])],
        [x_token(secrets["agent-read"])],
        [x_token(secrets["deny"])],
        [x_token("00000000-0000-0000-0000-000000000000")],
        [x_token("not-a-uuid")],
        [x_token("   "), (b"authorization", f"Bearer {root}".encode())],
        [x_token(secrets["deny"]), (b"authorization", f"Bearer {root}".encode())],
        [x_token(root), x_token("garbage")],
        [x_token("garbage"), x_token(root)],
        [(b"authorization", b"Bearer garbage"), (b"authorization", f"Bearer {root}".encode())],
    ]
    taken = await compare(agent, table(tokens))
    assert taken and set(taken) == {200}


async def test_same_answers_on_a_client_only_agent(world: SimAgents) -> None:
    """members is FastAPI's there (a client asks a server); self is a fast 200."""
    agent = await world.add("c", client={"enabled": True})
    taken = await compare(agent, table())
    assert taken and set(taken) == {200}


async def test_members_body_follows_membership_changes_on_the_fast_path(
    world: SimAgents,
) -> None:
    a = await world.add("a")
    await world.add("b")
    app = create_app(a)
    request = scope("GET", "/v1/agent/members")
    before = json.loads((await messages(app, request))[1]["body"])
    assert [m["Name"] for m in before["Members"]] == ["a.global"]
    result = await a.join([str(world.serf_addr("b"))])
    assert result.num_joined == 1
    after = json.loads((await messages(app, request))[1]["body"])
    assert sorted(m["Name"] for m in after["Members"]) == ["a.global", "b.global"]
    assert await messages(app, request) == await messages(create_app(a, fast_path=False), request)


# ---- self: the assembled compact body is the model's JSON ---------------------------------


def _info(config: dict[str, Any], stats: dict[str, dict[str, str]]) -> SelfInfo:
    return SelfInfo(config, ZERO_MEMBER, stats)


async def test_self_body_equals_the_models_json(world: SimAgents) -> None:
    """AgentViews assembles compact `/self` from cached parts; the bytes are the model's."""
    for name, values in (
        ("s", {}),
        ("d", {"dev": True, "http_api_response_headers": {"X-A": "<b>é</b>"}}),
        ("c", {"client": {"enabled": True, "servers": ["10.0.0.1"]}}),
    ):
        agent = await world.add(name, **values)
        views = AgentViews(agent)
        info = agent.self_info()
        for pretty in (False, True):
            model = encode(SelfResponse.from_info(info), pretty=pretty)
            assert views.render_self(info, pretty=pretty) == model
            assert views.render_self(info, pretty=pretty) == model  # from the caches


async def test_self_body_sees_every_change_of_config_member_and_stats() -> None:
    views = AgentViews(None)  # type: ignore[arg-type]  # render_self never asks the agent
    odd = '<redacted> & "quoted" \\ é \u2028 \x01 \U0001f600'
    config: dict[str, Any] = {"Region": "global", "Ports": {"HTTP": 4646}, "Files": None}
    stats = {"nomad": {"leader": "true"}, "runtime": {"goroutines": "3"}}
    steps: list[SelfInfo] = [
        _info(config, stats),
        _info(config, {**stats, "runtime": {"goroutines": "4"}}),
        _info({**config, "Region": odd}, stats),
        _info(config, {"nomad": {"leader": odd}, odd: {odd: odd}}),
        _info(config, {}),
        SelfInfo(
            config, MemberInfo(odd, "10.0.0.1", 1, {odd: odd}, "alive", 1, 2, 3, 4, 5, 6), stats
        ),
        _info(config, stats),
    ]
    for info in steps:
        assert views.render_self(info, pretty=False) == encode(
            SelfResponse.from_info(info), pretty=False
        )
    # A config dict changed in place after it was rendered is still seen.
    config["Region"] = "elsewhere"
    body = views.render_self(_info(config, stats), pretty=False)
    assert json.loads(body)["config"]["Region"] == "elsewhere"
