"""The `config` and `stats.runtime` blocks of `/v1/agent/self`, in Nomad 0.7's shape.

`config` is Nomad's whole parsed agent configuration with Go field names. Fields we model come
from Settings and the bound listeners; the rest carry Nomad's defaults, so consumers that
read e.g. `Consul.Timeout` get the type they expect. Secrets are shown as `<redacted>` when
set (0.7+); this agent has no Vault or Consul integration, so they are empty.
"""

from __future__ import annotations

import asyncio
import functools
import os
import platform
import sys
from dataclasses import dataclass
from typing import Any

from agent.addresses import join_host_port, split_host_port
from agent.config import Settings
from agent.version import NOMAD_PRERELEASE, NOMAD_REVISION, NOMAD_VERSION
from raft_stub.stats import seconds_to_go_duration

SECOND_NS = 1_000_000_000
REDACTED = "<redacted>"
_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


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
        bind_host = settings.bind_host(kind)  # type: ignore[arg-type]
        port = ports[kind]
        advertised = getattr(settings.advertise, kind)
        if advertised is not None:
            host, adv_port = split_host_port(advertised, port)
        else:
            host, adv_port = (fallback_ip if bind_host in WILDCARDS else bind_host), port
        made[kind] = Listener(bind_host, port, host, adv_port)
    return Listeners(made["http"], made["rpc"], made["serf"])


def _redact(secret: str) -> str:
    return REDACTED if secret else ""


def nomad_config(settings: Settings, listeners: Listeners) -> dict[str, Any]:
    """The `config` block: Nomad 0.7's Config struct as JSON."""
    return {
        "Region": settings.region,
        "Datacenter": settings.datacenter,
        "NodeName": settings.name,
        "DataDir": settings.data_dir,
        "LogLevel": settings.log_level,
        "BindAddr": settings.bind_addr,
        "EnableDebug": settings.dev_mode,
        "Ports": {
            "HTTP": listeners.http.port,
            "RPC": listeners.rpc.port,
            "Serf": listeners.serf.port,
        },
        "Addresses": {
            "HTTP": listeners.http.bind_host,
            "RPC": listeners.rpc.bind_host,
            "Serf": listeners.serf.bind_host,
        },
        "AdvertiseAddrs": {
            "HTTP": listeners.http.advertise,
            "RPC": listeners.rpc.advertise,
            "Serf": listeners.serf.advertise,
        },
        "Client": _client_block(settings),
        "Server": _server_block(settings),
        "ACL": {
            "Enabled": settings.acl.enabled,
            "TokenTTL": 30 * SECOND_NS,
            "PolicyTTL": 30 * SECOND_NS,
            "ReplicationToken": _redact(""),
        },
        "Telemetry": _telemetry_block(),
        "LeaveOnInt": settings.leave_on_interrupt,
        "LeaveOnTerm": settings.leave_on_terminate,
        "EnableSyslog": False,
        "SyslogFacility": "LOCAL0",
        "DisableUpdateCheck": False,
        "DisableAnonymousSignature": settings.dev_mode,
        "Consul": _consul_block(),
        "Vault": _vault_block(),
        "HTTPAPIResponseHeaders": dict(settings.http_api_response_headers),
        "TLSConfig": {
            "EnableHTTP": False,
            "EnableRPC": False,
            "VerifyServerHostname": False,
            "CAFile": "",
            "CertFile": "",
            "KeyFile": "",
        },
        "DevMode": settings.dev_mode,
        "Version": NOMAD_VERSION,
        "VersionPrerelease": NOMAD_PRERELEASE,
        "Revision": NOMAD_REVISION,
        "Files": None,
    }


def _client_block(settings: Settings) -> dict[str, Any]:
    servers = list(settings.client.servers)
    return {
        "Enabled": settings.client.enabled,
        "StateDir": "",
        "AllocDir": "",
        "Servers": servers or None,
        "NodeClass": "",
        "Options": {},
        "Meta": {},
        "ChrootEnv": {},
        "NetworkInterface": "",
        "NetworkSpeed": 0,
        "MaxKillTimeout": "30s",
        "ClientMaxPort": 14512,
        "ClientMinPort": 14000,
        "Reserved": {
            "CPU": 0,
            "MemoryMB": 0,
            "DiskMB": 0,
            "IOPS": 0,
            "ReservedPorts": "",
            "ParsedReservedPorts": None,
        },
        "GCInterval": 60 * SECOND_NS * 10,
        "GCDiskUsageThreshold": 99 if settings.dev_mode else 80,
        "GCInodeUsageThreshold": 99 if settings.dev_mode else 70,
    }


def _server_block(settings: Settings) -> dict[str, Any]:
    return {
        "Enabled": settings.server.enabled,
        "BootstrapExpect": settings.server.bootstrap_expect,
        "DataDir": "",
        "ProtocolVersion": 0,
        "NumSchedulers": 0,
        "EnabledSchedulers": None,
        "NodeGCThreshold": "",
        "HeartbeatGrace": "",
        "StartJoin": list(settings.server.start_join),
        "RetryJoin": list(settings.server.retry_join),
        "RetryMaxAttempts": settings.server.retry_max,
        "RetryInterval": seconds_to_go_duration(settings.server.retry_interval),
        "RejoinAfterLeave": settings.server.rejoin_after_leave,
    }


def _consul_block() -> dict[str, Any]:
    return {
        "Addr": "",
        "Auth": "",
        "Token": _redact(""),
        "Timeout": 5 * SECOND_NS,
        "AutoAdvertise": True,
        "ChecksUseAdvertise": False,
        "ClientAutoJoin": True,
        "ClientServiceName": "nomad-client",
        "ServerAutoJoin": True,
        "ServerServiceName": "nomad",
        "EnableSSL": False,
        "VerifySSL": False,
        "CAFile": "",
        "CertFile": "",
        "KeyFile": "",
    }


def _vault_block() -> dict[str, Any]:
    return {
        "Enabled": None,
        "Addr": "https://vault.service.consul:8200",
        "Token": _redact(""),
        "Role": "",
        "AllowUnauthenticated": True,
        "TaskTokenTTL": "",
        "ConnectionRetryIntv": 30 * SECOND_NS,
        "TLSCaFile": "",
        "TLSCaPath": "",
        "TLSCertFile": "",
        "TLSKeyFile": "",
        "TLSServerName": "",
        "TLSSkipVerify": None,
    }


def _telemetry_block() -> dict[str, Any]:
    circonus = (
        "APIApp",
        "APIToken",
        "APIURL",
        "BrokerID",
        "BrokerSelectTag",
        "CheckDisplayName",
        "CheckForceMetricActivation",
        "CheckID",
        "CheckInstanceID",
        "CheckSearchTag",
        "CheckSubmissionURL",
        "CheckTags",
        "SubmissionInterval",
    )
    block: dict[str, Any] = {f"Circonus{name}": "" for name in circonus}
    block.update(
        {
            "StatsiteAddr": "",
            "StatsdAddr": "",
            "DataDogAddr": "",
            "DataDogTags": [],
            "DisableHostname": False,
            "UseNodeName": False,
            "CollectionInterval": "1s",
            "PublishAllocationMetrics": False,
            "PublishNodeMetrics": False,
        }
    )
    return block


RUNTIME_SAMPLE_SECONDS = 1.0
"""How long a `goroutines`/`max_procs` reading is reused (per event loop)."""


class RuntimeSampler:
    """`stats.runtime`, describing this Python process the way Nomad describes its Go runtime.

    `version` is the Python version, `goroutines` the number of asyncio tasks, `max_procs`
    the CPUs this process may run on. Counting tasks walks every task of the loop (120 us with
    the 1,000 simulated agents of bench/http.py, for one `/v1/agent/self`), so the two counts
    are read at most once per RUNTIME_SAMPLE_SECONDS of loop time; the rest never changes.
    One sampler per agent: the reading belongs to it, not to the module.
    """

    def __init__(self) -> None:
        self._sample: tuple[asyncio.AbstractEventLoop | None, float, str, str] | None = None

    def stats(self) -> dict[str, str]:
        max_procs, goroutines = self._counts()
        static = _static_runtime()
        return {
            "kernel.name": static["kernel.name"],
            "arch": static["arch"],
            "version": static["version"],
            "max_procs": max_procs,
            "goroutines": goroutines,
            "cpu_count": static["cpu_count"],
        }

    def _counts(self) -> tuple[str, str]:
        """(max_procs, goroutines), read afresh when the reading is old or from another loop."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # no running loop: no tasks
            return _max_procs(), "0"
        now = loop.time()  # type: ignore[union-attr]
        sample = self._sample
        fresh = sample is not None and sample[0] is loop
        if not fresh or not 0 <= now - sample[1] < RUNTIME_SAMPLE_SECONDS:  # type: ignore[index]
            sample = (loop, now, _max_procs(), str(len(asyncio.all_tasks(loop))))
            self._sample = sample
        return sample[2], sample[3]  # type: ignore[index]


@functools.cache
def _static_runtime() -> dict[str, str]:
    """The parts of `stats.runtime` fixed for the life of the process."""
    machine = platform.machine().lower()
    return {
        "kernel.name": sys.platform.removesuffix("32") if sys.platform != "win32" else "windows",
        "arch": _GO_ARCH.get(machine, machine),
        "version": f"python{platform.python_version()}",
        "cpu_count": str(os.cpu_count() or 1),
    }


def _max_procs() -> str:
    try:
        return str(len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return str(os.cpu_count() or 1)
