"""`/v1/agent/fault*`: fault injection's HTTP side, on simulated agents.

The routes exist only with `enable_fault_injection`; without it they answer exactly as an
unknown path does. With it: drop, delay and clear change the agent's fault table and answer
with it, bad input is a plain-text 400 that changes nothing, other methods are 405, and with
ACLs the reads need agent:read and the commands agent:write. What the faults do to traffic is
tested on real sockets (tests/unit/agent/test_fault_drivers.py, tests/e2e/test_fault_e2e.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from agent.agent import Agent
from agent.agent_api import AgentAPI, Direction, Fault, FaultKind, Peer
from agent.api import create_app
from agent.api.routes import fault as fault_routes
from agent.launch.simulated import SimAgents
from tests.api.test_api_acl import auth, make_policy, make_token, setup_tokens
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio

Api = Callable[[AgentAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
PATHS = [
    "/v1/agent/fault",
    "/v1/agent/fault/drop",
    "/v1/agent/fault/delay",
    "/v1/agent/fault/clear",
]


async def fault_agent(world: SimAgents, **values: Any) -> Agent:
    return await world.add("a", dev=True, enable_fault_injection=True, **values)


def faults_of(agent: Agent) -> list[Fault]:
    assert agent.faults is not None
    return agent.faults.list()


# ---- off by default ---------------------------------------------------------------------------


async def test_without_the_flag_every_fault_path_is_an_unknown_path(
    world: SimAgents, api: Api
) -> None:
    agent = await world.add("a", dev=True)
    assert agent.faults is None
    async with api(agent) as client:
        unknown = await client.post("/v1/agent/no-such-thing")
        assert (unknown.status_code, unknown.content) == (404, b"404 page not found\n")
        for path in PATHS:
            for method in ("GET", "POST", "PUT", "DELETE"):
                response = await client.request(method, f"{path}?peer=127.1.0.2")
                assert response.status_code == 404, (method, path)
                assert response.content == unknown.content
                assert response.headers.get("content-type") == unknown.headers.get("content-type")
        spec = (await client.get("/openapi.json")).json()
    assert not [p for p in spec["paths"] if "fault" in p]


async def test_dev_mode_does_not_turn_it_on(world: SimAgents) -> None:
    assert world.settings("x", dev=True).enable_fault_injection is False


# ---- the commands ---------------------------------------------------------------------------


async def test_drop_delay_list_and_clear(world: SimAgents, api: Api) -> None:
    agent = await fault_agent(world)
    async with api(agent) as client:
        assert (await client.get("/v1/agent/fault")).json() == []
        response = await client.post("/v1/agent/fault/drop?peer=127.1.0.2&direction=in&rate=0.5")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        drop = {"Kind": "drop", "Peer": "127.1.0.2", "Direction": "in", "Rate": 0.5, "DelayMs": 0}
        assert response.json() == [drop]
        response = await client.put("/v1/agent/fault/delay?peer=127.1.0.3:4648&ms=250")
        delay = {
            "Kind": "delay",
            "Peer": "127.1.0.3:4648",
            "Direction": "both",
            "Rate": 1.0,
            "DelayMs": 250.0,
        }
        assert response.json() == [drop, delay]
        assert (await client.get("/v1/agent/fault")).json() == [drop, delay]
        assert faults_of(agent) == [
            Fault(FaultKind.DROP, Peer("127.1.0.2"), Direction.IN, rate=0.5),
            Fault(FaultKind.DELAY, Peer("127.1.0.3", 4648), delay_ms=250.0),
        ]

        # The same kind, peer and direction again replaces; another direction adds.
        await client.post("/v1/agent/fault/drop?peer=127.1.0.2&direction=in")
        await client.post("/v1/agent/fault/drop?peer=127.1.0.2&direction=out")
        assert [(f.kind, f.direction, f.rate) for f in faults_of(agent)] == [
            (FaultKind.DROP, Direction.IN, 1.0),
            (FaultKind.DELAY, Direction.BOTH, 1.0),
            (FaultKind.DROP, Direction.OUT, 1.0),
        ]

        response = await client.post("/v1/agent/fault/clear?peer=127.1.0.2")
        assert response.json() == [delay]
        response = await client.post("/v1/agent/fault/clear?peer=127.1.0.9")  # none: fine
        assert response.json() == [delay]
        response = await client.post("/v1/agent/fault/clear")
        assert (response.status_code, response.json()) == (200, [])
    assert agent.faults is not None and agent.faults.active is False


async def test_pretty_and_first_value_as_go_reads_them(world: SimAgents, api: Api) -> None:
    agent = await fault_agent(world)
    async with api(agent) as client:
        response = await client.post(
            "/v1/agent/fault/drop?peer=127.1.0.2&peer=nonsense&rate=1&rate=7&pretty"
        )
        assert response.status_code == 200, response.text
        assert response.text.endswith("]\n") and '    "Peer": "127.1.0.2"' in response.text
        # Go reads `direction=` and `rate=` as absent: the defaults.
        response = await client.post("/v1/agent/fault/drop?peer=127.1.0.3&direction=&rate=")
        assert response.json()[-1]["Direction"] == "both"
        assert response.json()[-1]["Rate"] == 1.0


async def test_a_client_only_agent_has_faults_too(world: SimAgents, api: Api) -> None:
    await world.add("s")
    agent = await world.add(
        "c", client={"enabled": True, "servers": ["127.1.0.1"]}, enable_fault_injection=True
    )
    async with api(agent) as client:
        response = await client.post("/v1/agent/fault/drop?peer=127.1.0.1")
        assert response.status_code == 200, response.text
    assert [str(f.peer) for f in faults_of(agent)] == ["127.1.0.1"]


# ---- bad input ------------------------------------------------------------------------------

BAD = [
    ("/drop", "", "missing peer"),
    ("/drop?peer=", "", "missing peer"),
    ("/drop?peer=two.example", "", "invalid peer 'two.example': expected an IP address or ip:port"),
    ("/drop?peer=127.1.0.300", "", "invalid peer '127.1.0.300': expected an IP address or ip:port"),
    ("/drop?peer=127.1.0.2:0", "", "invalid peer '127.1.0.2:0': port must be 1-65535"),
    ("/drop?peer=127.1.0.2:http", "", "invalid peer '127.1.0.2:http': "),
    ("/drop?peer=127.1.0.2&direction=sideways", "", "invalid direction 'sideways': expected in"),
    ("/drop?peer=127.1.0.2&direction=IN", "", "invalid direction 'IN'"),
    ("/drop?peer=127.1.0.2&rate=1.5", "", "invalid rate 1.5: must be between 0 and 1"),
    ("/drop?peer=127.1.0.2&rate=-0.1", "", "invalid rate -0.1: must be between 0 and 1"),
    ("/drop?peer=127.1.0.2&rate=half", "", "invalid rate 'half': expected a number"),
    ("/drop?peer=127.1.0.2&rate=nan", "", "invalid rate 'nan': expected a number"),
    ("/drop?peer=127.1.0.2&rate=1_0", "", "invalid rate '1_0': expected a number"),
    ("/delay?peer=127.1.0.2", "", "missing ms"),
    ("/delay?peer=127.1.0.2&ms=", "", "missing ms"),
    ("/delay?peer=127.1.0.2&ms=-5", "", "invalid ms -5.0: must be between 0 and 3600000"),
    ("/delay?peer=127.1.0.2&ms=soon", "", "invalid ms 'soon': expected a number"),
    ("/delay?peer=127.1.0.2&ms=inf", "", "invalid ms 'inf': expected a number"),
    ("/delay?peer=127.1.0.2&ms=1e300", "", "invalid ms 1e+300: must be between 0 and 3600000"),
    ("/delay?peer=127.1.0.2&ms=10&direction=up", "", "invalid direction 'up'"),
    ("/delay?peer=127.1.0.2&ms=10&rate=2", "", "invalid rate 2.0: must be between 0 and 1"),
    ("/clear?peer=not-an-ip", "", "invalid peer 'not-an-ip': expected an IP address or ip:port"),
]


@pytest.mark.parametrize(("query", "_", "message"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_a_400_that_applies_nothing(
    world: SimAgents, api: Api, query: str, _: str, message: str
) -> None:
    agent = await fault_agent(world)
    async with api(agent) as client:
        await client.post("/v1/agent/fault/delay?peer=127.1.0.9&ms=5")
        before = faults_of(agent)
        response = await client.post(f"/v1/agent/fault{query}")
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.text.startswith(message), response.text
    assert faults_of(agent) == before


async def test_other_methods_are_405_invalid_method(world: SimAgents, api: Api) -> None:
    agent = await fault_agent(world)
    async with api(agent) as client:
        for method, path in [
            ("POST", "/v1/agent/fault"),
            ("DELETE", "/v1/agent/fault"),
            ("GET", "/v1/agent/fault/drop?peer=127.1.0.2"),
            ("GET", "/v1/agent/fault/delay?peer=127.1.0.2&ms=1"),
            ("GET", "/v1/agent/fault/clear"),
            ("DELETE", "/v1/agent/fault/clear"),
        ]:
            assert_plain_error(await client.request(method, path), 405, "Invalid method")
        # Exact routing, as Go's mux: no trailing-slash redirect, no prefix match.
        assert (await client.get("/v1/agent/fault/")).status_code == 404
        assert (await client.post("/v1/agent/fault/drop/x?peer=127.1.0.2")).status_code == 404
    assert faults_of(agent) == []


async def test_openapi_describes_the_routes(world: SimAgents, api: Api) -> None:
    agent = await fault_agent(world)
    async with api(agent) as client:
        spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/v1/agent/fault"]) == {"get"}
    for name in ("drop", "delay", "clear"):
        assert set(paths[f"/v1/agent/fault/{name}"]) == {"put", "post"}
    delay_params = {p["name"] for p in paths["/v1/agent/fault/delay"]["post"]["parameters"]}
    assert {"peer", "ms", "direction", "rate", "X-Nomad-Token"} <= delay_params
    assert "403" in paths["/v1/agent/fault/drop"]["post"]["responses"]


# ---- ACLs -----------------------------------------------------------------------------------

READ = {"none": 403, "read": 200, "write": 200, "management": 200}
WRITE = {"none": 403, "read": 403, "write": 200, "management": 200}
MATRIX = [
    ("GET", "/v1/agent/fault", READ),
    ("POST", "/v1/agent/fault/drop?peer=127.1.0.2", WRITE),
    ("PUT", "/v1/agent/fault/drop?peer=127.1.0.2", WRITE),
    ("POST", "/v1/agent/fault/delay?peer=127.1.0.2&ms=5", WRITE),
    ("POST", "/v1/agent/fault/clear", WRITE),
    ("PUT", "/v1/agent/fault/clear?peer=127.1.0.2", WRITE),
]


async def test_acls_reads_need_agent_read_and_commands_agent_write(
    world: SimAgents, api: Api
) -> None:
    agent = await fault_agent(world, acl={"enabled": True})
    async with api(agent) as client:
        tokens = await setup_tokens(client)
        for method, path, expected in MATRIX:
            for role, status in expected.items():
                before = faults_of(agent)
                response = await client.request(method, path, headers=auth(tokens[role]))
                assert response.status_code == status, (method, path, role, response.text)
                if status == 403:
                    assert_plain_error(response, 403, "Permission denied")
                    assert faults_of(agent) == before


async def test_acl_check_comes_before_the_parameters(world: SimAgents, api: Api) -> None:
    agent = await fault_agent(world, acl={"enabled": True})
    async with api(agent) as client:
        mgmt = (await client.post("/v1/acl/bootstrap")).json()["SecretID"]
        await make_policy(client, mgmt, "node-only", 'node { policy = "write" }')
        node_only = (await make_token(client, mgmt, "node-only"))["SecretID"]
        for secret in (None, node_only):
            response = await client.post("/v1/agent/fault/drop?rate=9", headers=auth(secret))
            assert_plain_error(response, 403, "Permission denied")
        response = await client.post("/v1/agent/fault/drop?rate=9", headers=auth(mgmt))
        assert_plain_error(response, 400, "missing peer")
    assert faults_of(agent) == []


async def test_a_router_mounted_on_an_agent_without_faults_still_answers_unknown(
    world: SimAgents,
) -> None:
    app = create_app(await world.add("a", dev=True))
    app.include_router(fault_routes.build_router())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        response = await client.get("/v1/agent/fault")
    assert (response.status_code, response.content) == (404, b"404 page not found\n")
    assert response.headers["content-type"].startswith("text/plain")
