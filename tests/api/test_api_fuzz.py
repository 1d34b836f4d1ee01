"""Bad input never produces a 500 (except health's own unhealthy answer) or a traceback."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.api import create_app
from agent.launch.simulated import SimAgents

PATHS = ["members", "servers", "self", "join", "force-leave", "health", "nope"]
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"]
KEYS = ["address", "node", "prune", "type", "index", "wait", "pretty", "region", "stale", "x"]
VALUES = st.one_of(
    st.sampled_from(
        ["", "0", "1", "true", "nope", "127.1.0.1", "[::1]:1", "1.2.3.4:99999", "10s", "-1",
         "a:b:c", "n.global", "client", "server", "%", "\x00", "ü", "9" * 30]
    ),
    st.text(max_size=20),
)  # fmt: skip
QUERIES = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=6)
ROLES = st.sampled_from(["dev", "server", "client"])


async def _clients() -> dict[str, httpx.AsyncClient]:
    world = SimAgents(seed=7)
    agents = {
        "dev": await world.add("d", dev=True),
        "server": await world.add("s"),
        "client": await world.add("c", client={"enabled": True}),
    }
    return {
        role: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(agent)), base_url="http://agent"
        )
        for role, agent in agents.items()
    }


ALLOWED_5XX = {
    ("health", 500),  # unhealthy: the JSON document as plain text
    ("members", 500),  # client-only: "no servers"
    ("servers", 501),
    ("join", 501),
    ("force-leave", 501),
}


async def _call(
    client: httpx.AsyncClient, method: str, path: str, query: list[tuple[str, str]]
) -> None:
    url = f"/v1/agent/{path}?{urlencode(query)}"
    response = await client.request(method, url, headers={"X-Nomad-Token": "x"})
    if response.status_code >= 500:
        assert (path, response.status_code) in ALLOWED_5XX, (method, url, response.text)
    assert "Traceback" not in response.text


def test_random_requests_never_500() -> None:
    """Agents keep their state across examples, like a server under a stream of requests."""
    loop = asyncio.new_event_loop()
    clients = loop.run_until_complete(_clients())

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(role=ROLES, method=st.sampled_from(METHODS), path=st.sampled_from(PATHS), query=QUERIES)
    def check(role: str, method: str, path: str, query: list[tuple[str, str]]) -> None:
        loop.run_until_complete(_call(clients[role], method, path, query))

    try:
        check()
    finally:
        for client in clients.values():
            loop.run_until_complete(client.aclose())
        loop.close()
