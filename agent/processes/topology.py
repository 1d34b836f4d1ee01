"""The example cluster: 3 servers and 2 clients, described once for both of its forms.

`docker-compose.yml` runs these five agents as containers (one image, service name = host
name = container name = node name) and `gossip-agent cluster` runs them as processes on
127.0.0.11-15. `AGENTS[i].argv` is the compose service's `command` verbatim (the image's
entrypoint is `gossip-agent`); `process_argv()` turns it into the process twin's by swapping
host names for loopback addresses, `-bind 0.0.0.0` for the agent's own address and `/data`
for a directory of its own, and `loopback_specs()` makes them what `Supervisor` starts.
tests/unit/agent/test_topology.py checks the compose file against this module, so the two
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.processes.supervisor import HTTP_PORT, RPC_PORT, ChildSpec, Ports

CONTAINER_DATA_DIR = "/data"
RETRY_INTERVAL = "2s"

SERVERS = ("server1", "server2", "server3")
CLIENTS = ("client1", "client2")

_ADDRESS_FLAGS = frozenset({"-join", "-retry-join", "-servers"})
"""Flags whose values name other agents (`host`, `host:port`, or a comma-separated list)."""


@dataclass(frozen=True)
class AgentSpec:
    name: str
    """Compose service, container name, host name and node name, all the same."""
    role: Literal["server", "client"]
    argv: tuple[str, ...]
    """The compose `command`: what follows the image's `gossip-agent` entrypoint."""
    host_http_port: int
    """Where docker publishes this agent's HTTP port (4646 inside) on the host."""
    loopback_ip: str
    """The process twin's address (`gossip-agent cluster`, the e2e test)."""

    @property
    def address(self) -> str:
        """The process twin's bind address (`loopback_ip`), as `Supervisor` names it."""
        return self.loopback_ip

    @property
    def ports(self) -> Ports:
        """Nomad's ports, each agent on its own address; clients are in no gossip pool."""
        return Ports() if self.role == "server" else Ports(serf=None)


def _server_argv(name: str) -> tuple[str, ...]:
    argv = ["agent", "-server", "-bootstrap-expect", str(len(SERVERS)), "-node", name]
    argv += ["-bind", "0.0.0.0", "-data-dir", CONTAINER_DATA_DIR, "-gossip-profile", "lan"]
    for peer in SERVERS:
        argv += ["-retry-join", peer]
    argv += ["-retry-interval", RETRY_INTERVAL]
    return tuple(argv)


def _client_argv(name: str) -> tuple[str, ...]:
    servers = ",".join(f"{server}:{RPC_PORT}" for server in SERVERS)
    return (
        "agent",
        "-client",
        "-node",
        name,
        "-bind",
        "0.0.0.0",
        "-data-dir",
        CONTAINER_DATA_DIR,
        "-servers",
        servers,
    )


AGENTS: tuple[AgentSpec, ...] = tuple(
    AgentSpec(
        name=name,
        role="server" if name in SERVERS else "client",
        argv=_server_argv(name) if name in SERVERS else _client_argv(name),
        host_http_port=HTTP_PORT + 1000 * index,
        loopback_ip=f"127.0.0.{11 + index}",
    )
    for index, name in enumerate((*SERVERS, *CLIENTS))
)
"""server1..3 then client1..2: host ports 4646, 5646, 6646, 7646, 8646; 127.0.0.11..15."""

LOOPBACK_IPS: Mapping[str, str] = {spec.name: spec.loopback_ip for spec in AGENTS}


def agent_named(name: str) -> AgentSpec:
    for spec in AGENTS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def _swap_hosts(value: str, ip_of: Mapping[str, str]) -> str:
    """`server1:4647,server2` -> `127.0.0.11:4647,127.0.0.12` (unknown hosts kept)."""
    items = []
    for item in value.split(","):
        host, sep, port = item.partition(":")
        items.append(ip_of.get(host, host) + sep + port)
    return ",".join(items)


def process_argv(agent: AgentSpec, ip_of: Mapping[str, str], data_dir: str | Path) -> list[str]:
    """The compose command of `agent`, rewritten to run as a process next to its peers.

    Values of -join/-retry-join/-servers have their host names replaced through `ip_of`;
    `-bind 0.0.0.0` becomes `-bind <ip_of[agent.name]>`; `-data-dir /data` becomes
    `-data-dir <data_dir>`. Everything else (node names included) is kept as it is.
    """
    out: list[str] = []
    args = list(agent.argv)
    i = 0
    while i < len(args):
        token = args[i]
        flag, eq, inline = token.partition("=")
        if flag in _ADDRESS_FLAGS or flag in ("-bind", "-data-dir"):
            if eq:
                value, step = inline, 1
            elif i + 1 < len(args):
                value, step = args[i + 1], 2
            else:
                raise ValueError(f"{agent.name}: {flag} without a value")
            if flag in _ADDRESS_FLAGS:
                value = _swap_hosts(value, ip_of)
            elif flag == "-bind" and value == "0.0.0.0":
                value = ip_of[agent.name]
            elif flag == "-data-dir" and value == CONTAINER_DATA_DIR:
                value = str(data_dir)
            out += [f"{flag}={value}"] if eq else [flag, value]
            i += step
        else:
            out.append(token)
            i += 1
    return out


def loopback_specs(data_root: Path) -> tuple[ChildSpec, ...]:
    """The five agents as processes on 127.0.0.11-15: each one's `process_argv`, with
    `data_root/<name>` as its data directory."""
    return tuple(
        ChildSpec(
            name=spec.name,
            address=spec.loopback_ip,
            argv=tuple(process_argv(spec, LOOPBACK_IPS, data_root / spec.name)),
            ports=spec.ports,
            data_dir=data_root / spec.name,
        )
        for spec in AGENTS
    )
