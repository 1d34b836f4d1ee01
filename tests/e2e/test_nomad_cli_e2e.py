"""Nomad's CLI commands (`gossip-agent server members`, ...) against real dev agents.

Each command runs as `python -P -m agent ...` from this checkout, as a user would run it,
against agents on 127.0.0.91-93 started by `agent.processes.supervisor`. The tables are
compared column by column with the agent's own JSON answers (the same data, laid out as
Nomad 0.7 lays it out); exit statuses, NOMAD_* variables and `-json` are checked too.
Commands whose endpoints arrive with issue 12's HTTP work (`status leader`, `operator raft`,
`node status`) are checked when the agent serves them and skipped, saying so, when not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.processes.supervisor import AgentProcess, ChildSpec, Supervisor

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 60.0
FIRST, SECOND, ACL = "127.0.0.91", "127.0.0.92", "127.0.0.93"
NOBODY = "http://127.0.0.99:4646"
"""An address where nothing listens (no agent of these tests uses .99)."""
MEMBER_HEADER = ["Name", "Address", "Port", "Status", "Leader", "Protocol", "Build"]
MEMBER_HEADER += ["Datacenter", "Region"]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def _base_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NOMAD_") and not k.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = str(ROOT)
    return env


def gossip_agent(*argv: str, env: dict[str, str] | None = None) -> Ran:
    """Run `gossip-agent argv...` from this checkout; NOMAD_* only from `env`."""
    full = _base_env() | (env or {})
    done = subprocess.run(
        [sys.executable, "-P", "-m", "agent", *argv],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Ran(done.returncode, done.stdout, done.stderr)


def _get(url: str, token: str = "") -> Any:
    request = urllib.request.Request(url, headers={"X-Nomad-Token": token} if token else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def _serves(url: str) -> bool:
    try:
        _get(url)
    except urllib.error.HTTPError as exc:
        return exc.code != 404
    return True


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """`start(ip, name, *flags)`: `gossip-agent agent -dev -bind ip -node name *flags`,
    healthy; `start(ip, name, argv=(...))`: that argv, started but not waited for."""
    with Supervisor(tmp_path) as agents:

        def run(ip: str, name: str, *extra: str, argv: tuple[str, ...] = ()) -> AgentProcess:
            dev = not argv
            argv = argv or ("agent", "-dev", "-bind", ip, "-node", name, *extra)
            (agent,) = agents.start(ChildSpec(name, ip, argv), ports_free_within=30.0)
            if dev:
                agent.wait_healthy(START_DEADLINE)
            return agent

        try:
            yield run
        finally:
            for agent in agents:
                code = agent.terminate()
                print(f"===== {agent.name} ({agent.address}) exit {code} =====")
                print(agent.log_text())


def _columns(table: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a columnize table, split where the header's columns start (so a
    misaligned value shows up as a wrong field, not just as different spacing)."""
    lines = table.rstrip("\n").split("\n")
    header = lines[0]
    names = header.split()
    starts = [header.index(name) for name in names]
    assert starts == sorted(starts)
    rows = []
    for line in lines[1:]:
        cells = [
            line[start : starts[i + 1] if i + 1 < len(starts) else None]
            for i, start in enumerate(starts)
        ]
        for cell in cells[:-1]:
            assert cell.endswith("  "), f"columns not separated in {line!r}"
        rows.append([cell.strip() for cell in cells])
    return names, rows


def test_server_members_matches_the_agents_members(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    start(SECOND, "second")
    joined = gossip_agent("server", "join", f"-address={first.http}", SECOND)
    assert (joined.code, joined.out, joined.err) == (0, "Joined 1 servers successfully\n", "")

    listed = gossip_agent("server", "members", env={"NOMAD_ADDR": first.http})
    assert listed.code == 0, listed.err
    names, rows = _columns(listed.out)
    assert names == MEMBER_HEADER
    api = sorted(_get(f"{first.http}/v1/agent/members")["Members"], key=lambda m: m["Name"])
    leader_addr = _get(f"{first.http}/v1/agent/self")["stats"]["nomad"]["leader_addr"]
    expected = [
        [
            m["Name"],
            m["Addr"],
            str(m["Port"]),
            m["Status"],
            str(f"{m['Addr']}:{m['Tags']['port']}" == leader_addr).lower(),
            str(m["ProtocolCur"]),
            m["Tags"]["build"],
            m["Tags"]["dc"],
            m["Tags"]["region"],
        ]
        for m in api
    ]
    assert rows == expected
    assert [r[0] for r in rows] == ["first.global", "second.global"]
    assert [r[4] for r in rows] == ["true", "false"]  # each dev agent leads its own raft

    detailed = gossip_agent("server", "members", "-detailed", f"-address={first.http}")
    names, rows = _columns(detailed.out)
    assert names == ["Name", "Address", "Port", "Tags"]
    tags = dict(pair.split("=", 1) for pair in rows[0][3].split(","))
    assert tags == api[0]["Tags"]

    as_json = gossip_agent("server", "members", "-json", f"-address={first.http}")
    members = json.loads(as_json.out)
    assert [m["Tags"].pop("Leader") for m in members] == ["true", "false"]
    assert members == api


def test_flag_beats_env_beats_default(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    by_flag = gossip_agent("agent-info", f"-address={first.http}", env={"NOMAD_ADDR": NOBODY})
    assert by_flag.code == 0, by_flag.err
    by_env = gossip_agent("agent-info", env={"NOMAD_ADDR": NOBODY})
    assert by_env.code == 1
    assert by_env.err.startswith(f'Error querying agent info: Get "{NOBODY}/v1/agent/self": ')
    assert gossip_agent("agent-info", env={"NOMAD_ADDR": first.http}).code == 0
    region = gossip_agent("agent-info", env={"NOMAD_ADDR": first.http, "NOMAD_REGION": "mars"})
    assert region.code == 0  # a single-region agent answers for its own region


def test_agent_info_prints_every_stat(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    ran = gossip_agent("agent-info", f"-address={first.http}")
    assert ran.code == 0, ran.err
    stats = _get(f"{first.http}/v1/agent/self")["stats"]
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in ran.out.splitlines():
        if not line.startswith("  "):
            current = line
            sections[current] = {}
        else:
            key, _, value = line.strip().partition(" = ")
            sections[current][key] = value
    assert list(sections) == sorted(stats)
    for name, values in sections.items():
        assert list(values) == sorted(stats[name]), name
    assert sections["raft"]["state"] == "Leader"
    assert sections["nomad"]["leader_addr"] == f"{FIRST}:4647"
    assert sections["serf"]["members"] == "1"
    assert (
        json.loads(gossip_agent("agent-info", "-json", f"-address={first.http}").out)["stats"][
            "nomad"
        ]
        == stats["nomad"]
    )


def test_join_failure_force_leave_and_errors(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    env = {"NOMAD_ADDR": first.http}
    failed = gossip_agent("server", "join", "127.0.0.99", env=env)
    assert failed.code == 1 and failed.out == ""
    assert failed.err.startswith("Error joining: 1 error occurred:\n\t* Failed to join 127.0.0.99")
    assert gossip_agent("server", "force-leave", "nobody.global", env=env) == Ran(0, "", "")
    pruned = gossip_agent("server", "force-leave", "-prune", "nobody.global", env=env)
    assert pruned == Ran(0, "", "")
    usage = gossip_agent("server", "force-leave", env=env)
    assert usage.code == 1 and usage.err.startswith("This command takes one argument: <node>")
    bad = gossip_agent("server", "members", "-nope", env=env)
    assert bad.code == 1 and bad.err.startswith("flag provided but not defined: -nope\n")
    gone = gossip_agent("server", "members", env={"NOMAD_ADDR": NOBODY})
    assert gone.code == 1
    assert gone.err == (
        f'Error querying servers: Get "{NOBODY}/v1/agent/members": '
        "dial tcp 127.0.0.99:4646: connect: connection refused\n"
    )


def test_token_from_flag_or_env(start: Callable[..., AgentProcess]) -> None:
    agent = start(ACL, "acl", "-acl-enabled")
    request = urllib.request.Request(f"{agent.http}/v1/acl/bootstrap", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        secret = json.loads(response.read())["SecretID"]
    denied = gossip_agent("server", "members", f"-address={agent.http}")
    assert denied.code == 1
    assert denied.err == (
        "Error querying servers: Unexpected response code: 403 (Permission denied)\n"
    )
    by_env = gossip_agent(
        "server", "members", env={"NOMAD_ADDR": agent.http, "NOMAD_TOKEN": secret}
    )
    assert by_env.code == 0, by_env.err
    assert by_env.out.splitlines()[1].split()[:2] == ["acl.global", ACL]
    by_flag = gossip_agent(
        "server", "members", f"-token={secret}", env={"NOMAD_ADDR": agent.http, "NOMAD_TOKEN": "x"}
    )
    assert by_flag.code == 0, by_flag.err


def test_endpoints_of_issue_12_when_served(start: Callable[..., AgentProcess]) -> None:
    first = start(FIRST, "first")
    env = {"NOMAD_ADDR": first.http}
    served = {
        path: _serves(f"{first.http}{path}")
        for path in ("/v1/status/leader", "/v1/operator/raft/configuration", "/v1/nodes")
    }
    if not any(served.values()):
        pytest.skip("this agent has no /v1/status, /v1/operator or /v1/nodes yet (issue 12)")
    if served["/v1/status/leader"]:
        assert gossip_agent("status", "leader", env=env) == Ran(0, f"{FIRST}:4647\n", "")
    if served["/v1/operator/raft/configuration"]:
        ran = gossip_agent("operator", "raft", "list-peers", env=env)
        assert ran.code == 0, ran.err
        names, rows = _columns(ran.out)
        assert names == ["Node", "ID", "Address", "State", "Voter"]
        assert [(r[2], r[3], r[4]) for r in rows] == [(f"{FIRST}:4647", "leader", "true")]
    if served["/v1/nodes"]:
        ran = gossip_agent("node", "status", env=env)
        assert ran.code == 0, ran.err
        if ran.out:
            names, rows = _columns(ran.out)
            assert names == ["ID", "DC", "Name", "Class", "Drain", "Status"]
            assert [(len(r[0]), r[1], r[2]) for r in rows] == [(8, "dc1", "first")]


def test_three_servers_one_leader_in_every_view(start: Callable[..., AgentProcess]) -> None:
    """A real 3-server cluster (127.0.0.91-93): whichever server is asked, `server members`
    marks exactly the raft leader, and `agent-info` agrees with it."""
    ips = (FIRST, SECOND, ACL)
    join = [arg for ip in ips for arg in ("-retry-join", ip)]
    agents = []
    for index, ip in enumerate(ips, start=1):
        argv = ("agent", "-server", "-bootstrap-expect", "3", "-node", f"s{index}", "-bind", ip)
        argv += ("-gossip-profile", "lan", *join, "-retry-interval", "1s")
        agents.append(start(ip, f"s{index}", argv=argv))
    for agent in agents:  # healthy: each server knows the leader
        agent.wait_healthy(START_DEADLINE)
    leader = _get(f"{agents[0].http}/v1/agent/self")["stats"]["nomad"]["leader_addr"]
    assert leader in {f"{ip}:4647" for ip in ips}
    for agent in agents:
        ran = gossip_agent("server", "members", f"-address={agent.http}")
        assert ran.code == 0, ran.err
        names, rows = _columns(ran.out)
        assert names == MEMBER_HEADER
        assert [r[0] for r in rows] == ["s1.global", "s2.global", "s3.global"]
        assert [r[3] for r in rows] == ["alive"] * 3
        assert [f"{r[1]}:4647" for r in rows if r[4] == "true"] == [leader]
        info = gossip_agent("agent-info", f"-address={agent.http}").out
        assert f"  leader_addr = {leader}\n" in info
        state = "Leader" if agent.address == leader.split(":")[0] else "Follower"
        assert f"  state = {state}\n" in info
