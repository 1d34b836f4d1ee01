"""`/v1/agent/monitor` over a real socket: lines stream as the agent logs them, each connection
at its own level, JSON with `-log-json`, and the per-request handler leaves with the client."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from agent.launch.loop_thread import LoopThread
from agent.launch.sim_http import SimAgentsHttp
from agent.launch.simulated import SimAgents
from agent.telemetry.log_format import LogFormat

BASE = "127.0.0.86"
AGENT_LOGGER = logging.getLogger("gossip_agent")
Served = tuple[LoopThread, SimAgents, SimAgentsHttp]


@pytest.fixture
def served(sim_seed: int) -> Iterator[Served]:
    thread = LoopThread()
    world = SimAgents(seed=sim_seed)
    http_ = SimAgentsHttp(world, bind_base=BASE, port=4646)

    async def build() -> None:
        await world.add("a")
        await world.add("b")
        await world.agents["a"].join([str(world.serf_addr("b"))])
        http_.serve("a")
        await http_.start()

    try:
        thread.call(build)
        yield thread, world, http_
    finally:
        thread.call(http_.close)
        thread.close()


def open_monitor(http_: SimAgentsHttp, query: str = "") -> http.client.HTTPResponse:
    address = http_.addresses["a"]
    conn = http.client.HTTPConnection(address.host, address.port, timeout=10)
    conn.request("GET", f"/v1/agent/monitor{query}")
    response = conn.getresponse()
    assert response.status == 200
    return response


def read_until(response: http.client.HTTPResponse, needle: str, limit: int = 200) -> str:
    for _ in range(limit):
        line = response.readline().decode()
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r}")


def monitors_attached() -> int:
    return sum(1 for h in AGENT_LOGGER.handlers if type(h).__name__ == "_QueueHandler")


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_membership_change_streams_and_the_handler_leaves_with_the_client(
    served: Served,
) -> None:
    thread, world, http_ = served
    response = open_monitor(http_, "?log_level=INFO")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Type", "").startswith("text/plain")
    assert wait_for(lambda: monitors_attached() == 1)
    thread.call_soon(lambda: world.crash("b"))
    thread.call_soon(lambda: world.run(30.0))
    line = read_until(response, "member-failed")
    assert "[INFO]" in line and "b.global" in line
    response.close()  # the client goes away: the stream ends and its handler is removed
    assert wait_for(lambda: monitors_attached() == 0)


def test_each_connection_filters_at_its_own_level(served: Served) -> None:
    thread, _, http_ = served
    level_before = AGENT_LOGGER.level
    errors_only = open_monitor(http_, "?log_level=ERR")
    everything = open_monitor(http_, "?log_level=debug")
    assert wait_for(lambda: monitors_attached() == 2)
    log = logging.getLogger("gossip_agent.test")
    thread.call_soon(lambda: log.debug("a debug line"))
    thread.call_soon(lambda: log.error("an error line"))
    assert "a debug line" in read_until(everything, "a debug line")
    first = errors_only.readline().decode()
    assert "an error line" in first and "[ERR]" in first  # the debug line never came
    assert AGENT_LOGGER.level == logging.DEBUG  # lowered for the DEBUG monitor
    everything.close()
    assert wait_for(lambda: monitors_attached() == 1)
    assert AGENT_LOGGER.getEffectiveLevel() <= logging.ERROR  # still what ERR needs
    errors_only.close()
    assert wait_for(lambda: monitors_attached() == 0)
    assert AGENT_LOGGER.level == level_before  # restored once the last monitor left


def test_a_quiet_monitor_still_notices_the_disconnect(served: Served) -> None:
    _, _, http_ = served
    address = http_.addresses["a"]
    sock = socket.create_connection((address.host, address.port), timeout=10)
    sock.sendall(b"GET /v1/agent/monitor?log_level=ERR HTTP/1.1\r\nHost: a\r\n\r\n")
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    assert wait_for(lambda: monitors_attached() == 1)
    sock.close()  # no line was ever due
    assert wait_for(lambda: monitors_attached() == 0)


def test_log_json_makes_each_line_an_object(served: Served) -> None:
    thread, world, http_ = served
    world.agents["a"].log_format = LogFormat.JSON
    response = open_monitor(http_)
    assert wait_for(lambda: monitors_attached() == 1)
    thread.call_soon(lambda: world.crash("b"))
    thread.call_soon(lambda: world.run(30.0))
    line = json.loads(read_until(response, "member-failed"))
    assert line["@level"] == "info"
    assert line["@module"] == "gossip_agent.server"
    assert (line["event"], line["member"]) == ("member-failed", "b.global")
    assert "@timestamp" in line
    response.close()
    assert wait_for(lambda: monitors_attached() == 0)


def test_an_unknown_level_is_a_400(served: Served) -> None:
    _, _, http_ = served
    address = http_.addresses["a"]
    conn = http.client.HTTPConnection(address.host, address.port, timeout=10)
    conn.request("GET", "/v1/agent/monitor?log_level=LOUD")
    response = conn.getresponse()
    assert (response.status, response.read()) == (400, b"Unknown log level: LOUD")
    assert monitors_attached() == 0


@pytest.mark.anyio
async def test_monitor_needs_agent_read_with_acls(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True, acl={"enabled": True})
    async with api(agent) as client:
        denied = await client.get("/v1/agent/monitor")
        assert (denied.status_code, denied.text) == (403, "Permission denied")
        mgmt = (await client.post("/v1/acl/bootstrap")).json()["SecretID"]
        await client.post(
            "/v1/acl/policy/nr",
            json={"Name": "nr", "Rules": 'node { policy = "read" }'},
            headers={"X-Nomad-Token": mgmt},
        )
        token = await client.post(
            "/v1/acl/token",
            json={"Name": "nr", "Type": "client", "Policies": ["nr"]},
            headers={"X-Nomad-Token": mgmt},
        )
        node_only = {"X-Nomad-Token": token.json()["SecretID"]}
        denied = await client.get("/v1/agent/monitor", headers=node_only)
        assert (denied.status_code, denied.text) == (403, "Permission denied")
    assert monitors_attached() == 0
