"""The demo's control API over real loopback sockets: validation, actions, SSE, OpenAPI,
and each simulated agent's Nomad API beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import nomad
import pytest

from tests.demo.conftest import RunningDemo

Factory = Callable[..., RunningDemo]


def _cells(state: dict[str, Any]) -> dict[tuple[str, str], str]:
    members = state["members"]
    codes = state["codes"]
    return {
        (observer, member): codes[row["status"][m]]
        for observer, row in zip(members, state["matrix"], strict=True)
        for m, member in enumerate(members)
    }


def _truths(state: dict[str, Any]) -> dict[str, str]:
    return {n["name"]: n["truth"] for n in state["nodes"]}


def _without_clock(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("clock", "packets")}


def test_a_fresh_demo_shows_every_member_alive_in_every_view(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    state = demo.state()
    assert state["members"] == ["s1", "s2", "s3", "n1", "n2"]
    assert set(_cells(state).values()) == {"alive"}
    assert _truths(state) == dict.fromkeys(["s1", "s2", "s3", "n1", "n2", "c1", "c2"], "running")
    assert state["clock"]["leader"] in ("s1", "s2", "s3")
    assert state["clock"]["paused"] is True
    assert state["seed"] == 3


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "message"),
    [
        ("post", "/v1/sim/nodes/nope/kill", {}, "no node named 'nope'"),
        ("post", "/v1/sim/nodes/s1/explode", {}, "action"),
        ("post", "/v1/sim/nodes/c1/leave", {}, "client"),
        ("post", "/v1/sim/nodes/n1/pause", {"params": {"seconds": -1}}, "seconds"),
        ("post", "/v1/sim/loss", {"params": {"rate": -0.1}}, "probability"),
        ("post", "/v1/sim/loss", {"params": {"rate": "nan"}}, "probability"),
        ("post", "/v1/sim/latency", {"params": {"ms": -5}}, "ms must be"),
        ("post", "/v1/sim/speed", {"params": {"x": 0}}, "speed must be"),
        ("post", "/v1/sim/step", {"params": {"seconds": -1}}, "seconds must be"),
        ("post", "/v1/sim/step", {"params": {"seconds": "soon"}}, "valid number"),
        ("post", "/v1/sim/force-leave", {"params": {"by": "c1", "node": "n1"}}, "client"),
        ("post", "/v1/sim/force-leave", {"params": {"by": "s1", "node": "x"}}, "no node"),
        ("post", "/v1/sim/partition", {"json": {"groups": [["s1", "n1"], ["n1"]]}}, "two"),
        ("post", "/v1/sim/partition", {"json": {"groups": [["s1"], ["ghost"]]}}, "ghost"),
        ("post", "/v1/sim/partition", {"json": {"groups": [["s1"]]}}, "two non-empty"),
        ("post", "/v1/sim/partition", {"json": {"nope": 1}}, "groups"),
        ("post", "/v1/sim/reset", {"params": {"seed": 1, "scenario": "x"}}, "unknown scenario"),
        ("post", "/v1/sim/reset", {"params": {"seed": -1}}, "seed"),
    ],
)
def test_bad_input_is_a_400_with_a_message_and_changes_nothing(
    demo_factory: Factory, method: str, path: str, kwargs: dict[str, Any], message: str
) -> None:
    demo = demo_factory(nodes=1, bind_base="127.0.0.101")
    before = demo.state()
    response = demo.client.request(method.upper(), path, **kwargs)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    after = demo.state()
    assert _without_clock(after) == _without_clock(before)
    assert after["clock"] == before["clock"]


def test_killing_a_node_turns_it_failed_in_every_other_view(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    response = demo.post("/v1/sim/nodes/n2/kill")
    assert response.status_code == 200, response.text
    assert _truths(demo.state())["n2"] == "killed"
    demo.step(15)
    cells = _cells(demo.state())
    others = [m for m in demo.state()["members"] if m != "n2"]
    assert {cells[(o, "n2")] for o in others} == {"failed"}
    texts = [e["text"] for e in demo.state()["timeline"]]
    assert "You killed n2" in texts
    assert any(t.endswith("suspects n2 (incarnation 1)") for t in texts)
    assert any(t.endswith("marks n2 failed") for t in texts)


def test_a_partition_shows_disagreement_and_heal_brings_agreement(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    groups = [["s1", "s2", "n1"], ["s3", "n2"]]
    assert demo.post("/v1/sim/partition", json={"groups": groups}).status_code == 200
    demo.step(40)  # a side with few peers to confirm a suspicion waits longer (Lifeguard)
    state = demo.state()
    cells = _cells(state)
    assert cells[("s1", "n2")] == "failed"
    assert cells[("n2", "s1")] == "failed"
    assert cells[("s1", "s2")] == "alive"
    assert {n["name"]: n["partition"] for n in state["nodes"]}["s3"] == 1
    assert demo.post("/v1/sim/heal").status_code == 200
    demo.step(60)  # serf's reconnect runs every 30 s
    assert set(_cells(demo.state()).values()) == {"alive"}


def test_force_leave_from_a_chosen_node_turns_a_failed_member_left(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    demo.post("/v1/sim/nodes/n2/kill")
    demo.step(15)
    response = demo.post("/v1/sim/force-leave", params={"by": "n1", "node": "n2"})
    assert response.status_code == 200, response.text
    demo.step(5)
    cells = _cells(demo.state())
    assert {cells[(o, "n2")] for o in ("s1", "s2", "s3", "n1")} == {"left"}


def test_a_graceful_leave_is_seen_as_left_without_suspicion(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    assert demo.post("/v1/sim/nodes/s3/leave").status_code == 200
    demo.step(10)
    state = demo.state()
    cells = _cells(state)
    assert {cells[(o, "s3")] for o in ("s1", "s2", "n1", "n2")} == {"left"}
    assert not any("suspects s3" in e["text"] for e in state["timeline"])


def test_pause_and_restart_and_network_controls(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    assert demo.post("/v1/sim/nodes/n1/pause", params={"seconds": 3}).status_code == 200
    assert _truths(demo.state())["n1"] == "paused"
    demo.step(4)
    assert _truths(demo.state())["n1"] == "running"
    demo.post("/v1/sim/nodes/s2/kill")
    demo.step(1)
    assert demo.post("/v1/sim/nodes/s2/restart").status_code == 200
    demo.step(10)
    state = demo.state()
    assert _truths(state)["s2"] == "running"
    assert {c for (o, m), c in _cells(state).items() if m == "s2" and o != "s2"} == {"alive"}
    assert demo.post("/v1/sim/loss", params={"rate": 0.25}).status_code == 200
    assert demo.post("/v1/sim/latency", params={"ms": 20}).status_code == 200
    assert demo.post("/v1/sim/speed", params={"x": 4}).status_code == 200
    clock = demo.state()["clock"]
    assert (clock["loss"], clock["latency_ms"], clock["speed"]) == (0.25, 20.0, 4.0)


def test_the_same_seed_and_actions_give_the_same_timeline(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=3)

    def run() -> list[tuple[float, str]]:
        response = demo.post("/v1/sim/reset", params={"seed": 11, "scenario": "flapping-node"})
        assert response.status_code == 200, response.text
        demo.step(5)
        demo.post("/v1/sim/nodes/s3/kill")
        demo.step(25)
        return [(e["at"], e["text"]) for e in demo.state()["timeline"]]

    first = run()
    assert any("refutes" in text for _, text in first)
    assert run() == first


def test_reset_changes_seed_and_scenario(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=2)
    response = demo.post("/v1/sim/reset", params={"seed": 42, "scenario": "graceful-leave"})
    assert response.status_code == 200, response.text
    state = demo.state()
    assert state["seed"] == 42
    assert state["scenario"]["name"] == "graceful-leave"
    assert "leaving" in state["scenario"]["explanation"]


def test_events_stream_a_state_then_deltas(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=1)
    seen: list[tuple[str, dict[str, Any]]] = []
    with (
        httpx.Client(base_url=demo.url, timeout=30.0) as client,
        client.stream("GET", "/v1/sim/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                seen.append((event, json.loads(line.removeprefix("data: "))))
                if len(seen) == 1:
                    demo.post("/v1/sim/nodes/n1/kill")
                    demo.step(10)
                if any("cells" in data for kind, data in seen if kind == "delta"):
                    break
    assert seen[0][0] == "state"
    delta = next(data for kind, data in seen if kind == "delta" and "cells" in data)
    members = seen[0][1]["members"]
    n1 = members.index("n1")
    assert any(cell[1] == n1 and cell[2] in ("s", "f") for cell in delta["cells"])
    assert any(node["name"] == "n1" and node["truth"] == "killed" for node in delta["nodes"])


def test_the_control_api_is_in_the_openapi_document(demo_factory: Factory) -> None:
    demo = demo_factory()
    paths = demo.client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/sim/state",
        "/v1/sim/events",
        "/v1/sim/nodes/{name}/{action}",
        "/v1/sim/nodes/{name}/pause",
        "/v1/sim/force-leave",
        "/v1/sim/partition",
        "/v1/sim/heal",
        "/v1/sim/loss",
        "/v1/sim/latency",
        "/v1/sim/speed",
        "/v1/sim/step",
        "/v1/sim/reset",
    ):
        assert path in paths


def test_each_agent_answers_nomads_api_from_its_own_view(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=1, clients=1, bind_base="127.0.0.111")
    urls = {n["name"]: n["url"] for n in demo.state()["nodes"]}
    assert urls["s1"] == f"http://127.0.0.111:{urls['s1'].rsplit(':', 1)[1]}"
    assert urls["n1"] is None  # a gossip-only node has no agent API
    response = demo.post("/v1/sim/partition", json={"groups": [["s1", "n1"], ["s2", "s3"]]})
    assert response.status_code == 200, response.text
    demo.step(40)  # with few peers to confirm, Lifeguard lets a suspicion run long
    views = {}
    for name in ("s1", "s2"):
        body = httpx.get(f"{urls[name]}/v1/agent/members", timeout=10).json()
        views[name] = {m["Name"]: m["Status"] for m in body["Members"]}
    assert views["s1"]["s2.global"] == "failed"
    assert views["s2"]["s1.global"] == "failed"
    assert views["s2"]["s3.global"] == "alive"
    own = demo.client.get("/v1/agent/members").json()  # the demo's address: the first server
    assert {m["Name"]: m["Status"] for m in own["Members"]} == views["s1"]
    self_info = httpx.get(f"{urls['c1']}/v1/agent/self", timeout=10).json()
    assert self_info["config"]["NodeName"] == "c1"
    host, port = urls["s2"].removeprefix("http://").split(":")
    client = nomad.Nomad(host=host, port=int(port), timeout=10)
    seen_by_s2 = {m["Name"]: m["Status"] for m in client.agent.get_members()["Members"]}
    assert seen_by_s2 == views["s2"]


def test_without_agent_apis_only_the_demo_answers(demo_factory: Factory) -> None:
    demo = demo_factory(agent_apis=False)
    assert all(n["url"] is None for n in demo.state()["nodes"])
    assert demo.client.get("/v1/agent/members").status_code == 404
    assert demo.client.get("/ui").status_code == 200


def test_after_a_reset_each_address_answers_for_the_new_world(demo_factory: Factory) -> None:
    demo = demo_factory(nodes=0, clients=0, bind_base="127.0.0.141")
    urls = {n["name"]: n["url"] for n in demo.state()["nodes"]}
    demo.post("/v1/sim/nodes/s2/kill")
    demo.step(20)
    before = httpx.get(f"{urls['s1']}/v1/agent/members", timeout=10).json()["Members"]
    assert {m["Name"]: m["Status"] for m in before}["s2.global"] == "failed"
    assert demo.post("/v1/sim/reset", params={"seed": 4}).status_code == 200
    after = httpx.get(f"{urls['s1']}/v1/agent/members", timeout=10).json()["Members"]
    assert {m["Status"] for m in after} == {"alive"}
    assert {n["name"]: n["url"] for n in demo.state()["nodes"]} == urls
