"""Listeners: where the HTTP, RPC and Serf ports are bound and what each advertises.

Nomad's `bind_addr`, `addresses.*` and `advertise.*` resolve to one bind address and one
advertised address per port (nomad/command/agent/config.go `normalizeAddrs`); the agent, the
banner and the `/self` config block all read this one answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.settings import Settings
from gocompat import join_host_port, split_host_port


@dataclass(frozen=True, slots=True)
class Listener:
    """Where one listener is bound and what it advertises."""

    bind_host: str
    port: int
    advertise_host: str
    advertise_port: int

    @property
    def advertise(self) -> str:
        return join_host_port(self.advertise_host, self.advertise_port)

    @property
    def bind(self) -> str:
        return join_host_port(self.bind_host, self.port)


@dataclass(frozen=True, slots=True)
class Listeners:
    http: Listener
    rpc: Listener
    serf: Listener


WILDCARDS = ("0.0.0.0", "::")


def listeners_for(
    settings: Settings,
    *,
    http_port: int,
    serf_port: int,
    fallback_ip: str,
    rpc_port: int | None = None,
) -> Listeners:
    """Bind and advertise addresses of the three listeners, given the ports actually bound.

    An unset advertise address is the bind address, or `fallback_ip` when binding to all
    interfaces (Nomad picks the host's private IP there).
    """
    rpc = settings.ports.rpc if rpc_port is None else rpc_port
    ports = {"http": http_port, "rpc": rpc, "serf": serf_port}
    made = {}
    for kind in ("http", "rpc", "serf"):
        bind_host = settings.bind_host(kind)
        port = ports[kind]
        advertised = getattr(settings.advertise, kind)
        if advertised is not None:
            host, adv_port = split_host_port(advertised, port)
        else:
            host, adv_port = (fallback_ip if bind_host in WILDCARDS else bind_host), port
        made[kind] = Listener(bind_host, port, host, adv_port)
    return Listeners(made["http"], made["rpc"], made["serf"])
