"""Simulated agents answer Nomad's HTTP API on real loopback sockets, each from its own view.

python-nomad and plain HTTP clients block, so the agents run on a `LoopThread`; virtual time
moves only when the test runs it (or an agent command waits), so each answer is the state
at that virtual moment.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import nomad
import pytest

from agent.launch.loop_thread import LoopThread
from agent.launch.sim_http import (
    AddressRouter,
    BindError,
    SimAgentsHttp,
    bind_listener,
    nth_address,
)
from agent.launch.simulated import SimAgents
from tests.helpers.api import member_statuses

BASE = "127.0.0.61"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def served(sim_seed: int) -> Iterator[tuple[LoopThread, SimAgents, SimAgentsHttp]]:
    thread = LoopThread()
    world = SimAgents(seed=sim_seed)
    http = SimAgentsHttp(world, bind_base=BASE, port=4646)

    async def build() -> None:
        await world.add("s1")
        await world.add("s2", server={"enabled": True, "bootstrap_expect": 1})
        await world.agents["s2"].join([str(world.serf_addr("s1"))])
        http.serve("s1")
        http.serve("s2")
        await http.start()

    try:
        thread.call(build)
        yield thread, world, http
    finally:
        thread.call(http.close)
        thread.close()


def _statuses(url: str) -> dict[str, str]:
    status, body = _get(f"{url}/v1/agent/members")
    assert status == 200, body
    return member_statuses(json.loads(body))


def test_each_node_answers_on_its_own_address(
    served: tuple[LoopThread, SimAgents, SimAgentsHttp],
) -> None:
    _, _, http = served
    s1, s2 = http.addresses["s1"], http.addresses["s2"]
    assert (s1.host, s2.host) == (BASE, "127.0.0.62")
    for address in (s1, s2):
        assert _statuses(address.url) == {"s1.global": "alive", "s2.global": "alive"}
        status, body = _get(f"{address.url}/v1/agent/self")
        assert status == 200
        assert json.loads(body)["member"]["Name"] == f"{address.name}.global"


def test_a_crash_shows_in_the_survivors_view_only_after_virtual_time_runs(
    served: tuple[LoopThread, SimAgents, SimAgentsHttp],
) -> None:
    thread, world, http = served
    thread.call_soon(lambda: world.crash("s2"))
    before = thread.call_soon(lambda: world.now)
    assert _statuses(http.addresses["s1"].url)["s2.global"] == "alive"
    assert thread.call_soon(lambda: world.now) == before  # answering moved no virtual time
    assert thread.call_soon(
        lambda: world.run_until(lambda: _member_status(world, "s1", "s2.global") == "failed", 60.0)
    )
    assert _statuses(http.addresses["s1"].url)["s2.global"] == "failed"


def _member_status(world: SimAgents, observer: str, member: str) -> str:
    server = world.agents[observer].server
    assert server is not None
    return {m.name: m.status for m in server.members()}.get(member, "")


def test_python_nomad_reads_and_commands_a_simulated_node(
    served: tuple[LoopThread, SimAgents, SimAgentsHttp],
) -> None:
    thread, world, http = served
    s1 = http.addresses["s1"]
    client = nomad.Nomad(host=s1.host, port=s1.port, timeout=10)
    names = {m["Name"] for m in client.agent.get_members()["Members"]}
    assert names == {"s1.global", "s2.global"}
    thread.call_soon(lambda: world.crash("s2"))
    thread.call_soon(
        lambda: world.run_until(lambda: _member_status(world, "s1", "s2.global") == "failed", 60.0)
    )
    client.agent.force_leave("s2.global")  # runs virtual time until the intent is out
    assert _statuses(s1.url)["s2.global"] == "left"


def test_a_restarted_agent_is_served_at_the_same_address(
    served: tuple[LoopThread, SimAgents, SimAgentsHttp],
) -> None:
    thread, world, http = served
    old = world.agents["s1"]
    thread.call(lambda: world.restart("s1"))
    assert world.agents["s1"] is not old
    status, body = _get(f"{http.addresses['s1'].url}/v1/agent/self")
    assert status == 200 and json.loads(body)["member"]["Name"] == "s1.global"


def test_addresses_count_up_within_loopback_only() -> None:
    assert nth_address("127.0.0.11", 4) == "127.0.0.15"
    with pytest.raises(ValueError, match="not a loopback"):
        nth_address("10.0.0.1", 0)
    with pytest.raises(ValueError, match="leave the usable loopback range"):
        nth_address("127.255.255.250", 10)
    with pytest.raises(ValueError, match="leave the usable loopback range"):
        nth_address("127.0.0.250", 5)  # 127.0.0.255, a broadcast address


def test_an_address_nobody_routes_answers_404() -> None:
    async def scenario() -> list[object]:
        sent: list[object] = []

        async def send(message: object) -> None:
            sent.append(message)

        async def receive() -> dict[str, object]:
            return {"type": "http.request"}

        scope = {"type": "http", "server": ("127.0.0.9", 4646), "path": "/"}
        await AddressRouter()(scope, receive, send)
        return sent

    sent = asyncio.run(scenario())
    assert sent[0] == {"type": "http.response.start", "status": 404, "headers": []}


def test_a_taken_port_is_a_clear_bind_error() -> None:
    taken = bind_listener("127.0.0.1", 0)
    try:
        with pytest.raises(BindError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            bind_listener("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
