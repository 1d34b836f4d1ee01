"""`gossip-agent agent -dev` as a real process, driven by python-nomad, httpx and signals.

Agents run on their own loopback addresses (127.0.0.21, .22) with Nomad's ports 4646-4648,
started by `agent.processes.supervisor` (this checkout's code, whatever is installed). Every
wait polls against a generous deadline; logs are kept in tmp_path and printed at teardown
(pytest shows them only when a test fails); every agent is stopped at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import nomad
import pytest
from nomad.api.exceptions import (
    BadRequestNomadException,
    BaseNomadException,
    URLNotFoundNomadException,
)

from agent.processes.supervisor import AgentProcess, ChildSpec, Supervisor
from tests.helpers.api import member_statuses

pytestmark = pytest.mark.e2e

START_DEADLINE = 60.0
DEADLINE = 30.0
FIRST, SECOND = "127.0.0.21", "127.0.0.22"


@pytest.fixture
def start(tmp_path: Path, clean_env: None) -> Iterator[Callable[..., AgentProcess]]:
    """`start(ip, name, *flags)`: `gossip-agent agent -dev -bind ip -node name *flags`, healthy."""
    with Supervisor(tmp_path) as agents:

        def run(ip: str, name: str, *extra: str) -> AgentProcess:
            argv = ("agent", "-dev", "-bind", ip, "-node", name, *extra)
            (agent,) = agents.start(ChildSpec(name, ip, argv), ports_free_within=DEADLINE)
            agent.wait_healthy(START_DEADLINE)
            return agent

        try:
            yield run
        finally:
            for agent in agents:
                code = agent.terminate()
                print(f"===== {agent.name} ({agent.address}) exit {code} =====")
                print(agent.log_text())


def _eventually(check: Callable[[], bool], what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{logs()}"
        time.sleep(0.1)


def _statuses(base: str) -> dict[str, str]:
    return member_statuses(httpx.get(f"{base}/v1/agent/members", timeout=5.0).json())


def test_python_nomad_drives_every_agent_method(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    client = nomad.Nomad(host=FIRST, port=4646, timeout=5)

    me = client.agent.get_agent()
    assert set(me) == {"config", "member", "stats"}
    assert me["member"]["Name"] == "first.global"
    assert me["stats"]["raft"]["state"] == "Leader"

    members = client.agent.get_members()
    assert members["ServerName"] == "first"
    assert [m["Name"] for m in members["Members"]] == ["first.global"]
    assert members["Members"][0]["Port"] == 4648

    assert client.agent.get_servers() == [f"{FIRST}:4647"]
    assert client.agent.join_agent("nope")["num_joined"] == 0
    assert client.agent.join_agent([FIRST, FIRST]) == {"num_joined": 2, "error": ""}
    # Until its first heartbeat is answered, a client heartbeats at once after a new server
    # list, and the reply's server list ([first]) replaces it, as Nomad's does: wait for the
    # registration so the list below is read back as it was set.
    _eventually(
        lambda: client.agent.get_agent()["stats"]["client"]["heartbeat_ttl"] != "0s",
        "the dev client's registration",
        first.log_text,
    )
    assert client.agent.update_servers([f"{FIRST}:4647", "127.0.0.99"]) == 200
    assert client.agent.get_servers() == [f"{FIRST}:4647", "127.0.0.99:4647"]
    assert client.agent.force_leave("nope") == 200

    with pytest.raises(BadRequestNomadException) as bad:
        client.agent.update_servers([])  # requests drops the empty list: no address at all
    assert bad.value.nomad_resp.text == "missing server address"
    with pytest.raises(BadRequestNomadException) as bad:
        client.agent.request("members", params={"index": "abc"}, method="get")
    assert bad.value.nomad_resp.text == "Invalid index"
    with pytest.raises(BaseNomadException) as wrong:
        client.agent.request("self", method="post")
    assert (wrong.value.nomad_resp.status_code, wrong.value.nomad_resp.text) == (
        405,
        "Invalid method",
    )
    with pytest.raises(URLNotFoundNomadException):
        client.agent.request("nope", method="get")
    assert first.running


def test_region_parameter_from_python_nomad_is_accepted(start: Callable[..., AgentProcess]) -> None:
    start(FIRST, "first")
    client = nomad.Nomad(host=FIRST, port=4646, region="global", timeout=5)
    assert client.agent.get_agent()["config"]["Region"] == "global"
    assert client.agent.get_members()["ServerRegion"] == "global"


def test_curl_like_calls(start: Callable[..., AgentProcess]) -> None:
    start(FIRST, "first")
    with httpx.Client(base_url=f"http://{FIRST}:4646", timeout=5.0) as http:
        pretty = http.get("/v1/agent/self?pretty")
        assert pretty.headers["content-type"] == "application/json"
        assert pretty.text.startswith('{\n    "config"') and pretty.text.endswith("}\n")
        health = http.get("/v1/agent/health")
        assert health.text == (
            '{"client":{"ok":true,"message":"ok"},"server":{"ok":true,"message":"ok"}}'
        )
        wrong = http.delete("/v1/agent/servers")
        assert (wrong.status_code, wrong.text) == (405, "Invalid method")
        assert wrong.headers["content-type"] == "text/plain; charset=utf-8"
        missing = http.put("/v1/agent/join")
        assert (missing.status_code, missing.text) == (400, "missing address to join")
        assert "x-nomad-index" not in health.headers
        assert "server" not in health.headers
        assert http.get("/v1/agent/nope").status_code == 404


def test_second_agent_joins_and_leaves_on_interrupt(
    start: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    first = start(FIRST, "first")
    config = tmp_path / "second.json"
    config.write_text(json.dumps({"leave_on_interrupt": True}))
    second = start(SECOND, "second", "-config", str(config))

    joined = httpx.post(f"{first.http}/v1/agent/join?address={SECOND}", timeout=5.0)
    assert joined.json() == {"num_joined": 1, "error": ""}
    both = {"first.global": "alive", "second.global": "alive"}

    def logs() -> str:
        return first.log_text() + second.log_text()

    _eventually(lambda: _statuses(first.http) == both, "first to list second alive", logs)
    _eventually(lambda: _statuses(second.http) == both, "second to list first alive", logs)

    assert second.leave() == 0
    assert "graceful leave complete" in second.log_text()
    _eventually(lambda: _statuses(first.http)["second.global"] == "left", "second to be left", logs)


def test_sigterm_without_leave_looks_like_a_failure(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    second = start(SECOND, "second")
    assert httpx.post(f"{second.http}/v1/agent/join?address={FIRST}", timeout=5.0).json() == {
        "num_joined": 1,
        "error": "",
    }
    _eventually(lambda: len(_statuses(first.http)) == 2, "first to see second", first.log_text)
    assert second.terminate() == 0
    _eventually(
        lambda: _statuses(first.http)["second.global"] == "failed",
        "second to be failed",
        first.log_text,
    )
    assert httpx.post(f"{first.http}/v1/agent/force-leave?node=second.global").status_code == 200
    assert _statuses(first.http)["second.global"] == "left"


def test_two_joined_dev_agents_each_stay_the_leader_of_their_own_raft(
    start: Callable[..., AgentProcess],
) -> None:
    """Both dev agents are in bootstrap mode, so neither adds the other to its raft (Nomad's
    `addRaftPeer`); killing the second leaves the first a healthy leader, not a candidate."""
    first = start(FIRST, "first")
    second = start(SECOND, "second")
    joined = httpx.post(f"{first.http}/v1/agent/join?address={SECOND}", timeout=10.0)
    assert joined.json() == {"error": "", "num_joined": 1}

    def raft(agent: AgentProcess) -> dict[str, str]:
        stats = httpx.get(f"{agent.http}/v1/agent/self", timeout=5.0).json()["stats"]
        return dict(stats["raft"])

    _eventually(
        lambda: _statuses(first.http).get("second.global") == "alive",
        "the second agent alive in the first's pool",
        first.log_text,
    )
    _eventually(
        lambda: "both in bootstrap mode" in first.log_text() or raft(first)["num_peers"] != "0",
        "the first leader to reconcile the second server",
        first.log_text,
    )
    for agent in (first, second):
        stats = raft(agent)
        assert stats["state"] == "Leader", stats
        assert stats["num_peers"] == "0", stats
    term = raft(first)["term"]
    second.kill()
    _eventually(
        lambda: _statuses(first.http).get("second.global") == "failed",
        "the second agent failed",
        first.log_text,
    )
    stats = raft(first)
    assert (stats["state"], stats["term"]) == ("Leader", term)
    assert httpx.get(f"{first.http}/v1/agent/health", timeout=5.0).status_code == 200
