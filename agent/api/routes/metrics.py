"""`/v1/metrics`: the agent's telemetry, in Nomad's JSON or (`?format=prometheus`) Prometheus text.

The JSON is go-metrics' `DisplayMetrics` shape (`Timestamp`, `Gauges`, `Points`, `Counters`,
`Samples`), read from the agent at the moment of the request. Counters are totals since the
agent started rather than go-metrics' 10-second interval aggregates, so `Count` and `Sum`
both carry the total. The Prometheus text comes from `agent.api.prometheus`, imported (with
`prometheus_client`) by the first such scrape, whose registry the app then keeps. Nomad 0.7
checks no ACL here.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from agent.agent_api import MetricsSnapshot, MetricValue
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


async def metrics(request: Request, agent: AgentDep) -> Response:
    """Nomad's JSON, or Prometheus text with `?format=prometheus`."""
    fmt = first(request, "format")
    if fmt == "prometheus":
        from agent.api import prometheus

        state = request.app.state
        registry = getattr(state, "metrics_registry", None)
        if registry is None:
            registry = state.metrics_registry = prometheus.registry_for(agent)
        return Response(prometheus.exposition(registry), media_type=prometheus.CONTENT_TYPE_LATEST)
    if fmt:
        raise BadRequestError(f"Unknown metrics format: {fmt}")
    return json_response(request, metrics_json(agent.metrics()))


def build_router() -> APIRouter:
    """A fresh router (built per app: no import-time state)."""
    router = APIRouter(tags=["metrics"])
    router.add_api_route("/v1/metrics", metrics, methods=["GET"])
    return router
