"""Shutting an agent down logs what Nomad logs and no traceback; `-log-json` writes JSON lines.

Real processes on 127.0.0.87-89 (Nomad's ports), through `agent.processes.supervisor`, with
generous deadlines. (The RPC port has no stream handlers, only `asyncio.Protocol`s, so the
`[ERR] asyncio` CancelledError traceback CPython 3.12.0-3.12.1 printed at Ctrl-C for a stream
handler cancelled while closing has no cause left; tests/unit/agent/test_aio_rpc.py checks
that closing the port leaves nothing running.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agent.processes.supervisor import AgentProcess, ChildSpec, Supervisor

START_DEADLINE = 60.0
DEADLINE = 30.0
SERVER, CLIENT, JSON_AGENT = "127.0.0.87", "127.0.0.88", "127.0.0.89"


@pytest.fixture
def agents(tmp_path: Path, clean_env: None) -> Iterator[Callable[..., AgentProcess]]:
    """`start(name, ip, *argv)`: `gossip-agent agent *argv` on `ip`, once healthy."""
    with Supervisor(tmp_path) as supervisor:

        def start(name: str, ip: str, *argv: str) -> AgentProcess:
            spec = ChildSpec(name, ip, ("agent", "-bind", ip, "-node", name, *argv))
            (agent,) = supervisor.start(spec, ports_free_within=DEADLINE)
            agent.wait_healthy(START_DEADLINE)
            return agent

        try:
            yield start
        finally:
            for agent in supervisor:
                code = agent.kill()
                print(f"===== {agent.name} ({agent.address}) exit {code} =====")
                print(agent.log_text())


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def registered(server: AgentProcess) -> bool:
    try:
        nodes = httpx.get(f"{server.http}/v1/nodes", timeout=5.0).json()
    except (httpx.HTTPError, ValueError):
        return False
    return [n["Status"] for n in nodes] == ["ready"]


def assert_clean(log: str) -> None:
    assert "Traceback" not in log, log
    assert "[ERR]" not in log, log
    assert "CancelledError" not in log, log


@pytest.mark.e2e
def test_interrupting_a_server_and_its_client_logs_no_traceback(
    agents: Callable[..., AgentProcess],
) -> None:
    server = agents("s87", SERVER, "-server", "-bootstrap-expect", "1")
    client = agents("c88", CLIENT, "-client", "-servers", f"{SERVER}:4647")
    eventually(lambda: registered(server), "the client to register")
    assert server.interrupt() == 0  # Ctrl-C while the client's RPC connection is open
    log = server.log_text()
    assert_clean(log)
    for line in (
        "agent: caught signal SIGINT, shutting down",
        "agent: requesting shutdown",
        "nomad: shutting down server",
        "agent: shutdown complete",
    ):
        assert line in log, line
    assert client.terminate() == 0  # and SIGTERM on the client, whose server is gone
    log = client.log_text()
    assert_clean(log)
    assert "agent: caught signal SIGTERM, shutting down" in log
    assert "agent: shutdown complete" in log
    assert "nomad: shutting down server" not in log


@pytest.mark.e2e
def test_a_graceful_leave_logs_no_traceback(
    agents: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    config = tmp_path / "leave.json"
    config.write_text(json.dumps({"leave_on_interrupt": True}))
    server = agents("s87", SERVER, "-dev", "-config", str(config))
    assert server.leave() == 0
    log = server.log_text()
    assert_clean(log)
    assert "agent: caught signal SIGINT, leaving" in log
    assert "graceful leave complete" in log
    assert "agent: shutdown complete" in log


@pytest.mark.e2e
def test_log_json_writes_one_object_per_log_line(agents: Callable[..., AgentProcess]) -> None:
    agent = agents("j89", JSON_AGENT, "-dev", "-log-json")
    assert agent.interrupt() == 0
    lines = [line for line in agent.log_text().splitlines() if line.strip()]
    banner = ("=====", "==>", " " * 7)  # the supervisor's header, the banner (stdout)
    logged = [line for line in lines if not line.startswith(banner)]
    records = [json.loads(line) for line in logged]  # every log line is JSON
    assert records
    for record in records:
        assert {"@level", "@message", "@module", "@timestamp"} <= set(record)
        assert record["@timestamp"].endswith("Z")
    joins = [r for r in records if r.get("event") == "member-join"]
    assert joins and joins[0]["member"] == "j89.global" and joins[0]["addr"] == JSON_AGENT
    assert any(r["@message"] == "agent: shutdown complete" for r in records)
