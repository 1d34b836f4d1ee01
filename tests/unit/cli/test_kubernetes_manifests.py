"""deploy/kubernetes/ is valid Kubernetes and runs the cluster of agent/processes/topology.py.

Every manifest is validated offline against the schemas `kubernetes-validate` ships (strict:
unknown fields fail too), and the servers' StatefulSet and the clients' Deployment must
run the topology's agents with its flags: the same ones docker-compose.yml runs (checked in
tests/unit/agent/test_topology.py), with compose's host names turned into the pods' stable
DNS names and the node name into the pod's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from agent.processes.topology import AGENTS, CLIENTS, CONTAINER_DATA_DIR, SERVERS

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
POD_NAME = "$(POD_NAME)"
HEALTH = "/v1/agent/health"


def _documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in _documents() if doc["kind"] == kind]
    return found


def _container(workload: Mapping[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _kubernetes_argv(argv: Sequence[str], dns: Mapping[str, str]) -> list[str]:
    """A compose command as a pod runs it: `-node NAME` -> `-node $(POD_NAME)`, compose
    service names in addresses -> the pods' DNS names."""
    out: list[str] = []
    previous = ""
    for token in argv:
        if previous == "-node":
            out.append(POD_NAME)
        else:
            parts = []
            for item in token.split(","):
                host, sep, port = item.partition(":")
                parts.append(dns.get(host, host) + sep + port)
            out.append(",".join(parts))
        previous = token
    return out


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_offline(path: Path) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert documents
    for doc in documents:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_validator_catches_mistakes() -> None:
    broken = _one("Deployment")
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_servers_are_the_topologys_servers() -> None:
    service, servers = _one("Service"), _one("StatefulSet")
    name = service["metadata"]["name"]
    dns = {server: f"{servers['metadata']['name']}-{i}.{name}" for i, server in enumerate(SERVERS)}
    assert servers["spec"]["replicas"] == len(SERVERS)
    assert servers["spec"]["serviceName"] == name
    topology_server = next(a for a in AGENTS if a.role == "server")
    assert _container(servers)["args"] == _kubernetes_argv(topology_server.argv, dns)


def test_clients_are_the_topologys_clients() -> None:
    service, servers, clients = _one("Service"), _one("StatefulSet"), _one("Deployment")
    name = service["metadata"]["name"]
    dns = {server: f"{servers['metadata']['name']}-{i}.{name}" for i, server in enumerate(SERVERS)}
    assert clients["spec"]["replicas"] == len(CLIENTS)
    topology_client = next(a for a in AGENTS if a.role == "client")
    assert _container(clients)["args"] == _kubernetes_argv(topology_client.argv, dns)


def test_headless_service_names_servers_before_they_are_ready() -> None:
    service, servers = _one("Service"), _one("StatefulSet")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert servers["spec"]["podManagementPolicy"] == "Parallel"  # readiness needs all three
    assert service["spec"]["selector"] == servers["spec"]["selector"]["matchLabels"]
    ports = {(p["port"], p["protocol"]) for p in service["spec"]["ports"]}
    assert ports == {(4646, "TCP"), (4647, "TCP"), (4648, "TCP"), (4648, "UDP")}


def test_each_server_has_its_own_data_volume() -> None:
    servers = _one("StatefulSet")
    (claim,) = servers["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in _container(servers)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == CONTAINER_DATA_DIR
    args = _container(servers)["args"]
    assert args[args.index("-data-dir") + 1] == CONTAINER_DATA_DIR


@pytest.mark.parametrize("kind", ["StatefulSet", "Deployment"])
def test_probes_resources_image_and_pod_name(kind: str) -> None:
    workload = _one(kind)
    container = _container(workload)
    assert container["readinessProbe"]["httpGet"]["path"] == HEALTH
    assert "livenessProbe" in container
    assert set(container["resources"]) == {"requests", "limits"}
    for part in ("requests", "limits"):
        assert set(container["resources"][part]) == {"cpu", "memory"}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {container["image"]} == {s["image"] for s in compose["services"].values()}
    (env,) = container["env"]
    assert env["name"] == "POD_NAME"
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
