"""`node status`, `operator raft ...`, `status leader` and `monitor`, coded against Nomad's
documented API shapes and tested on canned answers."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.unit.cli.conftest import Cli
from tests.unit.cli.fake_nomad import Canned, FakeNomad, answer_json, answer_text

DENIED = "Unexpected response code: 403 (Permission denied)\n"
NO_LEADER = "Unexpected response code: 500 (No cluster leader)\n"
BOOM = "Unexpected response code: 500 (rpc error: boom)\n"
NOT_FOUND = "Unexpected response code: 404 (404 page not found)\n"

ID1 = "f7476465-4d6e-c0de-26d0-e383c49be941"
ID2 = "f7a3e9b0-1111-2222-3333-444455556666"


def _node(node_id: str, name: str, status: str = "ready", node_class: str = "") -> Any:
    return {
        "ID": node_id,
        "Datacenter": "dc1",
        "Name": name,
        "NodeClass": node_class,
        "Drain": False,
        "Status": status,
        "StatusDescription": "",
        "CreateIndex": 5,
        "ModifyIndex": 9,
    }


def test_node_status_list(fake: FakeNomad, cli: Cli) -> None:
    fake.on(
        "GET",
        "/v1/nodes",
        answer_json([_node(ID1, "client1"), _node(ID2, "client2", "down", "batch")]),
    )
    result = cli("node", "status")
    assert result.code == 0, result.err
    assert result.out == (
        "ID        DC   Name     Class   Drain  Status\n"
        "f7476465  dc1  client1  <none>  false  ready\n"
        "f7a3e9b0  dc1  client2  batch   false  down\n"
    )
    verbose = cli("node", "status", "-verbose").out.splitlines()
    assert verbose[1].split()[0] == ID1


def test_node_status_without_nodes_prints_nothing(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/nodes", answer_json([]))
    assert cli("node", "status") == type(cli("node", "status"))(0, "", "")
    assert json.loads(cli("node", "status", "-json").out) == []


def test_node_status_one_node_by_prefix(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/nodes", answer_json([_node(ID1, "client1"), _node(ID2, "client2")]))
    fake.on("GET", f"/v1/node/{ID1}", answer_json(_node(ID1, "client1")))
    result = cli("node", "status", "f747")
    assert result.code == 0, result.err
    assert result.out == (
        "ID     = f7476465\n"
        "Name   = client1\n"
        "Class  = <none>\n"
        "DC     = dc1\n"
        "Drain  = false\n"
        "Status = ready\n"
    )
    assert fake.requests_to("/v1/nodes")[-1].query == {"prefix": ["f747"]}
    assert json.loads(cli("node", "status", "-json", ID1).out)["ID"] == ID1


def test_node_status_prefix_rules(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/nodes", answer_json([_node(ID1, "client1"), _node(ID2, "client2")]))
    several = cli("node", "status", "f7a")  # odd length: "f7", as Nomad trims it
    assert several.code == 0
    assert several.out.startswith("Prefix matched multiple nodes\n\nID        DC   Name")
    assert fake.requests_to("/v1/nodes")[-1].query == {"prefix": ["f7"]}
    one_char = cli("node", "status", "f")
    assert (one_char.code, one_char.err) == (
        1,
        "Identifier must contain at least two characters.\n",
    )
    missing = cli("node", "status", "abcd")
    assert (missing.code, missing.err) == (1, 'No node(s) with prefix "abcd" found\n')
    assert cli("node", "status", "a", "b").code == 1


def test_node_status_errors(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/nodes", answer_text("Permission denied", 403))
    listing = cli("node", "status")
    assert listing.err == "Error querying node status: " + DENIED
    one = cli("node", "status", "abcd")
    assert one.err == "Error querying node info: " + DENIED


CONFIG = {
    "Index": 12,
    "Servers": [
        {
            "ID": "10.0.0.1:4647",
            "Node": "server1.global",
            "Address": "10.0.0.1:4647",
            "Leader": True,
            "Voter": True,
        },
        {
            "ID": "10.0.0.2:4647",
            "Node": "server2.global",
            "Address": "10.0.0.2:4647",
            "Leader": False,
            "Voter": True,
        },
    ],
}


def test_list_peers(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/operator/raft/configuration", answer_json(CONFIG))
    result = cli("operator", "raft", "list-peers")
    assert result.code == 0, result.err
    assert result.out == (
        "Node            ID             Address        State     Voter\n"
        "server1.global  10.0.0.1:4647  10.0.0.1:4647  leader    true\n"
        "server2.global  10.0.0.2:4647  10.0.0.2:4647  follower  true\n"
    )
    assert json.loads(cli("operator", "raft", "list-peers", "-json").out) == CONFIG
    assert cli("operator", "raft", "list-peers", "-stale").code == 0
    assert fake.requests_to("/v1/operator/raft/configuration")[-1].query == {"stale": ["true"]}


def test_list_peers_error(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/operator/raft/configuration", answer_text("No cluster leader", 500))
    result = cli("operator", "raft", "list-peers")
    assert (result.code, result.err) == (
        1,
        "Failed to retrieve raft configuration: " + NO_LEADER,
    )


def test_remove_peer(fake: FakeNomad, cli: Cli) -> None:
    fake.on("DELETE", "/v1/operator/raft/peer", answer_text("", 200))
    result = cli("operator", "raft", "remove-peer", "-peer-address=10.0.0.2:4647", "-token=x")
    assert (result.code, result.out) == (0, 'Removed peer with address "10.0.0.2:4647"\n')
    (seen,) = fake.requests_to("/v1/operator/raft/peer")
    assert (seen.method, seen.query, seen.token) == ("DELETE", {"address": ["10.0.0.2:4647"]}, "x")


def test_remove_peer_errors(fake: FakeNomad, cli: Cli) -> None:
    missing = cli("operator", "raft", "remove-peer")
    assert (missing.code, missing.err) == (1, "an address is required for the peer to remove\n")
    fake.on("DELETE", "/v1/operator/raft/peer", answer_text("Permission denied", 403))
    denied = cli("operator", "raft", "remove-peer", "-peer-address", "10.0.0.9:4647")
    assert denied.err == "Failed to remove raft peer: " + DENIED


def test_status_leader(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/status/leader", answer_json("10.0.0.1:4647"))
    assert cli("status", "leader").out == "10.0.0.1:4647\n"
    assert cli("status", "leader", "-json").out == '"10.0.0.1:4647"\n'
    fake.on("GET", "/v1/status/leader", answer_json(""))
    none = cli("status", "leader")
    assert (none.code, none.out, none.err) == (1, "", "Error querying leader: No cluster leader\n")


def test_monitor_streams_text_lines_until_the_agent_ends(fake: FakeNomad, cli: Cli) -> None:
    fake.on(
        "GET",
        "/v1/agent/monitor",
        Canned(
            200,
            b"    2026/12/05 12:00:00 [INFO] agent: one\n    2026/12/05 12:00:01 [DE",
            "text/plain",
            (b"BUG] serf: two\n", b"tail without newline"),
        ),
    )
    result = cli("monitor", "-log-level=debug")
    assert result.out == (
        "    2026/12/05 12:00:00 [INFO] agent: one\n"
        "    2026/12/05 12:00:01 [DEBUG] serf: two\n"
        "tail without newline\n"
    )
    assert result.code == 1 and result.err.startswith("Remote side ended the monitor!")
    assert fake.requests_to("/v1/agent/monitor")[0].query == {"log_level": ["debug"]}


def test_monitor_reads_nomads_json_frames(fake: FakeNomad, cli: Cli) -> None:
    def frame(text: str) -> bytes:
        return json.dumps({"Data": base64.b64encode(text.encode()).decode()}).encode()

    first, second = frame("line one\nline "), frame("two\n")
    fake.on(
        "GET",
        "/v1/agent/monitor",
        Canned(200, first[:10], "application/json", (first[10:] + b"{}", second)),
    )
    result = cli("monitor", "-json")
    assert result.out == "line one\nline two\n"
    assert fake.requests_to("/v1/agent/monitor")[0].query == {"log_json": ["true"]}


def test_monitor_cannot_start(fake: FakeNomad, cli: Cli) -> None:
    fake.on("GET", "/v1/agent/monitor", answer_text("Permission denied", 403))
    result = cli("monitor")
    assert (result.code, result.err) == (
        1,
        "Error starting monitor: " + DENIED,
    )
