"""`/v1/metrics?format=prometheus`: the agent's snapshot as Prometheus text.

Its own module so that `prometheus_client` is imported by the first scrape, not by every
agent: most agents are never scraped in that format, and the library costs ~1 MiB of RSS
(bench/memory.py). The text comes from a `CollectorRegistry` of one app's own (never the
module-level default registry), whose one collector reads the agent's snapshot at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from agent.agent_api import AgentAPI, MetricValue

__all__ = ["CONTENT_TYPE_LATEST", "exposition", "prometheus_name", "registry_for"]


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


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in Prometheus' text format, read now."""
    return generate_latest(registry)
