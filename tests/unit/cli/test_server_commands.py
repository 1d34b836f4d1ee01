"""`server members`, `server join`, `server force-leave` and `agent-info` against canned
Nomad answers: Nomad 0.7's columns, its Leader rule, its error wording, exit statuses."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.cli.conftest import Cli
from tests.unit.cli.fake_nomad import FakeNomad, answer_json, answer_text

DENIED = "Unexpected response code: 403 (Permission denied)\n"
NO_LEADER = "Unexpected response code: 500 (No cluster leader)\n"
BOOM = "Unexpected response code: 500 (rpc error: boom)\n"
NOT_FOUND = "Unexpected response code: 404 (404 page not found)\n"


def _member(name: str, addr: str, region: str = "global", status: str = "alive") -> Any:
    return {
        "Name": name,
        "Addr": addr,
        "Port": 4648,
        "Tags": {"build": "0.7.0", "dc": "dc1", "region": region, "port": "4647", "role": "nomad"},
        "Status": status,
        "ProtocolCur": 2,
    }


def _members(*members: Any) -> Any:
    return answer_json({"ServerName": "x", "Members": list(members)})


def test_members_table_with_leader(fake: FakeNomad, cli: Cli) -> None:
    fake.on(
        "GET",
        "/v1/agent/members",
        _members(_member("server2.global", "10.0.0.2"), _member("server1.global", "10.0.0.1")),
    )
    fake.on("GET", "/v1/status/leader", answer_json("10.0.0.2:4647"))
    result = cli("server", "members")
    assert result.code == 0, result.err
    assert result.out == (
        "Name            Address   Port  Status  Leader  Protocol  Build  Datacenter  Region\n"
        "server1.global  10.0.0.1  4648  alive   false   2         0.7.0  dc1         global\n"
        "server2.global  10.0.0.2  4648  alive   true    2         0.7.0  dc1         global\n"
    )
    (leader_call,) = fake.requests_to("/v1/status/leader")
    assert leader_call.query == {"region": ["global"]}


def test_members_asks_each_region_for_its_leader_and_skips_leaderless(
    fake: FakeNomad, cli: Cli
) -> None:
    fake.on(
        "GET",
        "/v1/agent/members",
        _members(_member("a.eu", "10.0.1.1", "eu"), _member("b.us", "10.0.2.1", "us")),
    )
    fake.on("GET", "/v1/status/leader", answer_text("No cluster leader", 500))
    result = cli("server", "members")
    assert result.code == 0, result.err
    assert [line.split()[4] for line in result.out.splitlines()[1:]] == ["false", "false"]
    regions = sorted(s.query["region"][0] for s in fake.requests_to("/v1/status/leader"))
    assert regions == ["eu", "us"]


def test_members_falls_back_to_agent_self_without_status_endpoint(
    fake: FakeNomad, cli: Cli
) -> None:
    fake.on("GET", "/v1/agent/members", _members(_member("s1.global", "10.0.0.1")))
    fake.on(
        "GET",
        "/v1/agent/self",
        answer_json(
            {"config": {"Region": "global"}, "stats": {"nomad": {"leader_addr": "10.0.0.1:4647"}}}
        ),
    )
    result = cli("server", "members")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1].split()[4] == "true"


def test_members_leader_errors(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/agent/members", _members(_member("s1.global", "10.0.0.1")))
    fake.on("GET", "/v1/status/leader", answer_text("rpc error: boom", 500))
    result = cli("server", "members")
    assert (result.code, result.out) == (1, "")
    assert result.err == "Error determining leaders: " + BOOM


def test_members_detailed_prints_every_tag_sorted(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/agent/members", _members(_member("s1.global", "10.0.0.1")))
    fake.on("GET", "/v1/status/leader", answer_json("10.0.0.1:4647"))
    result = cli("server", "members", "-detailed")
    assert result.out == (
        "Name       Address   Port  Tags\n"
        "s1.global  10.0.0.1  4648  build=0.7.0,dc=dc1,port=4647,region=global,role=nomad\n"
    )


def test_members_json_adds_the_leader_tag(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/agent/members", _members(_member("s1.global", "10.0.0.1")))
    fake.on("GET", "/v1/status/leader", answer_json("10.0.0.1:4647"))
    result = cli("server", "members", "-json")
    assert result.code == 0
    (member,) = json.loads(result.out)
    assert member["Name"] == "s1.global" and member["Tags"]["Leader"] == "true"
    assert result.out.startswith('[\n    {\n        "Name"')  # Go's MarshalIndent, 4 spaces


def test_members_query_error_and_token_and_region(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/agent/members", answer_text("Permission denied", 403))
    result = cli("server", "members", "-token", "secret", "-region", "eu")
    assert result.code == 1
    assert result.err == "Error querying servers: " + DENIED
    (seen,) = fake.requests_to("/v1/agent/members")
    assert seen.token == "secret" and seen.query == {"region": ["eu"]}


def test_token_and_region_from_the_environment(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/agent/members", _members())
    env = {"NOMAD_ADDR": fake.address, "NOMAD_TOKEN": "t", "NOMAD_REGION": "r"}
    assert cli("server", "members", env=env).code == 0
    (seen,) = fake.requests_to("/v1/agent/members")
    assert (seen.token, seen.query) == ("t", {"region": ["r"]})


def test_nothing_listening(cli: Cli) -> None:
    result = cli("server", "members", "-address=http://127.0.0.1:9", env={})
    assert result.code == 1
    assert result.err == (
        'Error querying servers: Get "http://127.0.0.1:9/v1/agent/members": '
        "dial tcp 127.0.0.1:9: connect: connection refused\n"
    )


def test_join(fake: FakeNomad, cli: Cli) -> None:
    fake.on("PUT", "/v1/agent/join", answer_json({"num_joined": 2, "error": ""}))
    result = cli("server", "join", "10.0.0.1", "10.0.0.2:4648")
    assert (result.code, result.out) == (0, "Joined 2 servers successfully\n")
    (seen,) = fake.requests_to("/v1/agent/join")
    assert seen.method == "PUT" and seen.query == {"address": ["10.0.0.1", "10.0.0.2:4648"]}


def test_join_failure_and_usage(fake: FakeNomad, cli: Cli) -> None:
    failure = "1 error occurred:\n\t* Failed to join 10.0.0.9: i/o timeout\n\n"
    fake.on("PUT", "/v1/agent/join", answer_json({"num_joined": 0, "error": failure}))
    result = cli("server", "join", "10.0.0.9")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("Error joining: 1 error occurred:\n\t* Failed to join 10.0.0.9")
    usage = cli("server", "join")
    assert usage.code == 1
    assert usage.err == (
        "One or more node addresses must be given as arguments\n"
        "For additional help try 'gossip-agent server join -help'\n"
    )


def test_force_leave(fake: FakeNomad, cli: Cli) -> None:
    fake.on("PUT", "/v1/agent/force-leave", answer_text("", 200))
    assert cli("server", "force-leave", "s2.global").code == 0
    assert cli("server", "force-leave", "-prune", "s3.global").out == ""
    queries = [s.query for s in fake.requests_to("/v1/agent/force-leave")]
    assert queries == [{"node": ["s2.global"]}, {"node": ["s3.global"], "prune": ["true"]}]


def test_force_leave_errors(fake: FakeNomad, cli: Cli) -> None:
    fake.on("PUT", "/v1/agent/force-leave", answer_text("Invalid method", 405))
    result = cli("server", "force-leave", "s2.global")
    assert result.code == 1
    assert result.err == (
        "Error force-leaving server s2.global: Unexpected response code: 405 (Invalid method)\n"
    )
    assert cli("server", "force-leave").err.startswith("This command takes one argument: <node>")
    assert cli("server", "force-leave", "a", "b").code == 1


def test_agent_info_sections(fake: FakeNomad, cli: Cli) -> None:
    stats = {
        "serf": {"members": "3", "failed": "0"},
        "nomad": {"leader": "true", "server": "true"},
        "raft": {"state": "Leader"},
    }
    fake.on("GET", "/v1/agent/self", answer_json({"stats": stats, "config": {}}))
    result = cli("agent-info")
    assert result.out == (
        "nomad\n  leader = true\n  server = true\n"
        "raft\n  state = Leader\n"
        "serf\n  failed = 0\n  members = 3\n"
    )
    assert json.loads(cli("agent-info", "-json").out)["stats"] == stats


def test_agent_info_error(fake: FakeNomad, cli: Cli) -> None:
    result = cli("agent-info")
    assert result.code == 1
    assert result.err == "Error querying agent info: " + NOT_FOUND
