"""`/v1/metrics` on simulated agents: Nomad's JSON shape, Prometheus text parsed back with
prometheus_client's parser, and figures that move when the cluster does."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.launch.simulated import SimAgents
from tests.helpers.api import assert_plain_error

pytestmark = pytest.mark.anyio


def gauges(body: dict) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(g["Name"], tuple(sorted(g["Labels"].items()))): g["Value"] for g in body["Gauges"]}


def counters(body: dict) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(c["Name"], tuple(sorted(c["Labels"].items()))): c["Sum"] for c in body["Counters"]}


def prometheus(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by name and labels, via prometheus_client's parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_json_has_nomads_shape(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/metrics")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["Timestamp", "Gauges", "Points", "Counters", "Samples"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", body["Timestamp"])
    for gauge in body["Gauges"]:
        assert list(gauge) == ["Name", "Value", "Labels"]
    for counter in body["Counters"]:
        assert list(counter) == [
            "Name", "Count", "Rate", "Sum", "Min", "Max", "Mean", "Stddev", "Labels"
        ]  # fmt: skip
    values = gauges(body)
    assert values[("nomad.serf.members", (("status", "alive"),))] == 1
    assert values[("nomad.raft.term", ())] >= 1
    assert values[("nomad.raft.leader.lastContact", ())] == 0  # the leader itself
    assert values[("nomad.nomad.heartbeat.active", ())] == 1  # its own client
    totals = counters(body)
    assert totals[("nomad.raft.leader.changes", ())] >= 1
    assert totals[("nomad.nomad.heartbeat.received", ())] >= 1


async def test_gossip_counters_move_with_the_cluster(world: SimAgents, api) -> None:
    a = await world.add("a")
    await world.add("b")
    await a.join([str(world.serf_addr("b"))])
    world.run(5.0)  # probes and their acks
    async with api(a) as client:
        before = counters((await client.get("/v1/metrics")).json())
        world.crash("b")
        world.run(30.0)
        after_body = (await client.get("/v1/metrics")).json()
    after = counters(after_body)
    for name in (
        "nomad.memberlist.probe.sent",
        "nomad.memberlist.udp.packets.sent",
        "nomad.memberlist.udp.sent",
        "nomad.memberlist.broadcasts.queued",
        "nomad.memberlist.broadcasts.sent",
    ):
        assert after[(name, ())] > before[(name, ())], name
    assert before[("nomad.memberlist.udp.packets.received", ())] > 0
    assert before[("nomad.memberlist.udp.received", ())] > 0
    assert after[("nomad.memberlist.probe.failed", ())] >= 1
    assert after[("nomad.memberlist.msg.suspect", ())] >= 1
    assert after[("nomad.memberlist.decode_errors", ())] == 0
    members = gauges(after_body)
    assert members[("nomad.serf.members", (("status", "failed"),))] == 1
    assert members[("nomad.serf.members", (("status", "alive"),))] == 1


async def test_a_refutation_is_counted(world: SimAgents, api) -> None:
    a = await world.add("a")
    b = await world.add("b")
    await a.join([str(world.serf_addr("b"))])
    assert b.server is not None
    world.run(1.0)
    # b hears it is suspected: it refutes with a higher incarnation (memberlist refute).
    from gossip.messages import Suspect  # the core's message, as a peer would send it

    membership = b.server.serf.swim.membership
    membership.apply_suspect(world.now, Suspect(membership.incarnation, "b.global", "a.global"))
    async with api(b) as client:
        body = (await client.get("/v1/metrics")).json()
    assert counters(body)[("nomad.memberlist.msg.refute", ())] == 1


async def test_http_requests_are_counted_by_route_template_and_code(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    assert agent.client is not None
    async with api(agent) as client:
        await client.get("/v1/agent/members")  # the ASGI fast path
        await client.get(f"/v1/node/{agent.client.node_id}")
        await client.get("/v1/node/nope")
        await client.get("/v1/no/such/path")
        text = (await client.get("/v1/metrics?format=prometheus")).text
    samples = prometheus(text)
    requests = {
        (dict(labels)["route"], dict(labels)["code"]): value
        for (name, labels), value in samples.items()
        if name == "nomad_http_requests_total"
    }
    assert requests[("/v1/agent/members", "200")] == 1
    assert requests[("/v1/node/{node_id}", "200")] == 1
    assert requests[("/v1/node/{node_id}", "404")] == 1
    assert requests[("unmatched", "404")] == 1


async def test_prometheus_text_parses_and_matches_the_json(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/metrics?format=prometheus")
        body = (await client.get("/v1/metrics")).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["nomad_serf_members"].type == "gauge"
    assert families["nomad_memberlist_probe_sent"].type == "counter"
    assert families["nomad_raft_term"].type == "gauge"
    samples = prometheus(response.text)
    assert samples[("nomad_serf_members", (("status", "alive"),))] == 1
    assert samples[("nomad_raft_term", ())] == gauges(body)[("nomad.raft.term", ())]
    assert ("nomad_memberlist_udp_packets_sent_total", ()) in samples
    assert not any(name.startswith("python_") for name, _ in samples)  # no default registry


async def test_each_agent_reports_only_its_own_figures(world: SimAgents, api) -> None:
    a = await world.add("a", dev=True)
    b = await world.add("b", dev=True)
    async with api(a) as client_a, api(b) as client_b:
        for _ in range(3):
            await client_a.get("/v1/agent/self")
        text_b = (await client_b.get("/v1/metrics?format=prometheus")).text
        text_a = (await client_a.get("/v1/metrics?format=prometheus")).text
    self_a = prometheus(text_a)[
        ("nomad_http_requests_total", (("code", "200"), ("route", "/v1/agent/self")))
    ]
    assert self_a == 3
    assert not any("/v1/agent/self" in str(labels) for _, labels in prometheus(text_b))


async def test_an_unknown_format_is_a_400(world: SimAgents, api) -> None:
    agent = await world.add("a", dev=True)
    async with api(agent) as client:
        response = await client.get("/v1/metrics?format=xml")
    assert_plain_error(response, 400, "Unknown metrics format: xml")
