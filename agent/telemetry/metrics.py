"""What `/v1/metrics` reports, read from the cores at the moment of the request.

Nomad's metrics come from go-metrics sinks the code feeds as it runs; here every figure is
already a plain integer on a core (or on the agent's own counters), so a reading is built
on demand and nothing runs between requests. Names follow Nomad's where Nomad has the
metric (`nomad.memberlist.msg.suspect`, `nomad.raft.leader.lastContact`,
`nomad.nomad.heartbeat.active`); the rest use the same dotted style under the same prefix.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from agent.agent_api import MetricValue
from agent.rpc.server_rpc import ServerRpc
from agent.telemetry.http_counts import HttpCounts
from agent.telemetry.traffic import TrafficCounts
from gossip import MemberStatus, SerfCore
from raft_stub import RaftStub


class GaugeName(StrEnum):
    MEMBERS = "nomad.serf.members"
    HEALTH_SCORE = "nomad.memberlist.health.score"
    RAFT_TERM = "nomad.raft.term"
    RAFT_LAST_CONTACT = "nomad.raft.leader.lastContact"
    RAFT_COMMIT_INDEX = "nomad.raft.commitIndex"
    HEARTBEATS_ACTIVE = "nomad.nomad.heartbeat.active"


class CounterName(StrEnum):
    PROBES_SENT = "nomad.memberlist.probe.sent"
    PROBES_FAILED = "nomad.memberlist.probe.failed"
    SUSPICIONS = "nomad.memberlist.msg.suspect"
    REFUTATIONS = "nomad.memberlist.msg.refute"
    BROADCASTS_QUEUED = "nomad.memberlist.broadcasts.queued"
    BROADCASTS_SENT = "nomad.memberlist.broadcasts.sent"
    PACKETS_IN = "nomad.memberlist.udp.packets.received"
    PACKETS_OUT = "nomad.memberlist.udp.packets.sent"
    BYTES_IN = "nomad.memberlist.udp.received"
    BYTES_OUT = "nomad.memberlist.udp.sent"
    MEMBERLIST_DECODE_ERRORS = "nomad.memberlist.decode_errors"
    SERF_DECODE_ERRORS = "nomad.serf.decode_errors"
    LEADER_CHANGES = "nomad.raft.leader.changes"
    HEARTBEATS = "nomad.nomad.heartbeat.received"
    HTTP_REQUESTS = "nomad.http.requests"


def server_gauges(serf: SerfCore, raft: RaftStub, rpc: ServerRpc, now: float) -> list[MetricValue]:
    """Members by status (every status, zeros included), raft's term, contact and commit."""
    by_status = Counter(m.status for m in serf.members())
    out = [
        MetricValue(GaugeName.MEMBERS, by_status[status], (("status", status.value),))
        for status in MemberStatus
    ]
    if raft.is_leader:
        contact_ms = 0.0
    elif raft.last_contact_at is None:
        contact_ms = -1.0  # never heard from a leader
    else:
        contact_ms = max(0.0, now - raft.last_contact_at) * 1000.0
    out += [
        MetricValue(GaugeName.HEALTH_SCORE, serf.swim.awareness.score),
        MetricValue(GaugeName.RAFT_TERM, raft.term),
        MetricValue(GaugeName.RAFT_LAST_CONTACT, contact_ms),
        MetricValue(GaugeName.RAFT_COMMIT_INDEX, raft.commit_index),
        MetricValue(GaugeName.HEARTBEATS_ACTIVE, rpc.heartbeats_active),
    ]
    return out


def server_counters(
    serf: SerfCore, rpc: ServerRpc, traffic: TrafficCounts, leader_changes: int
) -> list[MetricValue]:
    """Totals since the agent started."""
    swim = serf.swim
    queues = (swim.broadcasts, serf.queues.intents, serf.queues.events, serf.queues.queries)
    return [
        MetricValue(CounterName.PROBES_SENT, swim.prober.probes_sent),
        MetricValue(CounterName.PROBES_FAILED, swim.prober.probes_failed),
        MetricValue(CounterName.SUSPICIONS, swim.membership.suspicions_started),
        MetricValue(CounterName.REFUTATIONS, swim.membership.refutations),
        MetricValue(CounterName.BROADCASTS_QUEUED, sum(q.queued_total for q in queues)),
        MetricValue(CounterName.BROADCASTS_SENT, sum(q.sent_total for q in queues)),
        MetricValue(CounterName.PACKETS_IN, traffic.packets_in),
        MetricValue(CounterName.PACKETS_OUT, traffic.packets_out),
        MetricValue(CounterName.BYTES_IN, traffic.bytes_in),
        MetricValue(CounterName.BYTES_OUT, traffic.bytes_out),
        MetricValue(CounterName.MEMBERLIST_DECODE_ERRORS, swim.decode_errors),
        MetricValue(CounterName.SERF_DECODE_ERRORS, serf.decode_errors),
        MetricValue(CounterName.LEADER_CHANGES, leader_changes),
        MetricValue(CounterName.HEARTBEATS, rpc.heartbeats),
    ]


def http_counters(counts: HttpCounts) -> list[MetricValue]:
    return [
        MetricValue(CounterName.HTTP_REQUESTS, n, (("route", route), ("code", str(code))))
        for route, code, n in counts.items()
    ]
