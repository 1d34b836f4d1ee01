"""`/v1/metrics`: the agent's telemetry, in Nomad's JSON or (`?format=prometheus`) Prometheus text.

The JSON is go-metrics' `DisplayMetrics` shape (`Timestamp`, `Gauges`, `Points`, `Counters`,
`Samples`), read from the agent at the moment of the request. Counters are totals since the
agent started rather than go-metrics' 10-second interval aggregates, so `Count` and `Sum`
both carry the total. The Prometheus text comes from `prometheus_client`, with a
`CollectorRegistry` of this app's own (never the module-level default registry), whose one
collector reads the same snapshot at scrape time. Nomad 0.7 checks no ACL here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.responses import Response

from agent.agent_api import AgentAPI, MetricsSnapshot, MetricValue
from agent.api.deps import AgentDep, first
from agent.api.encoding import json_response
from agent.errors import BadRequestError


def go_timestamp(unix: float) -> str:
    """Go's `time.Time.String()` of the reading, rounded to the second, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(round(unix)))


def _labels(metric: MetricValue) -> dict[str, str]:
    return dict(metric.labels)


def metrics_json(snapshot: MetricsSnapshot) -> dict[str, Any]:
    gauges = [{"Name": g.name, "Value": g.value, "Labels": _labels(g)} for g in snapshot.gauges]
    counters = [
        {
            "Name": c.name,
            "Count": int(c.value),
            "Rate": c.value,
            "Sum": c.value,
            "Min": 1,
            "Max": 1,
            "Mean": 1,
            "Stddev": 0,
            "Labels": _labels(c),
        }
        for c in snapshot.counters
    ]
    return {
        "Timestamp": go_timestamp(snapshot.timestamp),
        "Gauges": gauges,
        "Points": [],
        "Counters": counters,
        "Samples": [],
    }


def prometheus_name(name: str) -> str:
    """go-metrics' Prometheus sink flattens `nomad.raft.term` to `nomad_raft_term`."""
    return "".join(ch if ch.isalnum() else "_" for ch in name)


class SnapshotCollector(Collector):
    """Turns the agent's snapshot into metric families, once per scrape."""

    def __init__(self, agent: AgentAPI) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        snapshot = self.agent.metrics()
        yield from _families(snapshot.gauges, gauge=True)
        yield from _families(snapshot.counters, gauge=False)


def _families(values: tuple[MetricValue, ...], *, gauge: bool) -> Iterator[Metric]:
    by_name: dict[str, list[MetricValue]] = {}
    for value in values:
        by_name.setdefault(value.name, []).append(value)
    for name, group in by_name.items():
        label_names = [k for k, _ in group[0].labels]
        family: GaugeMetricFamily | CounterMetricFamily
        if gauge:
            family = GaugeMetricFamily(prometheus_name(name), name, labels=label_names)
        else:
            family = CounterMetricFamily(prometheus_name(name), name, labels=label_names)
        for value in group:
            family.add_metric([v for _, v in value.labels], value.value)
        yield family


def registry_for(agent: AgentAPI) -> CollectorRegistry:
    """A registry of the app's own, holding only this agent's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(agent))
    return registry


async def metrics(request: Request, agent: AgentDep) -> Response:
    """Nomad's JSON, or Prometheus text with `?format=prometheus`."""
    fmt = first(request, "format")
    if fmt == "prometheus":
        registry: CollectorRegistry = request.app.state.metrics_registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    if fmt:
        raise BadRequestError(f"Unknown metrics format: {fmt}")
    return json_response(request, metrics_json(agent.metrics()))


def build_router() -> APIRouter:
    """A fresh router (built per app: no import-time state)."""
    router = APIRouter(tags=["metrics"])
    router.add_api_route("/v1/metrics", metrics, methods=["GET"])
    return router
