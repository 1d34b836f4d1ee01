"""The `config` block of `/v1/agent/self`: Settings as Nomad 0.7's parsed agent configuration.

`config` is Nomad's whole parsed agent configuration with Go field names. Fields we model come
from Settings and the bound listeners; the rest carry Nomad's defaults, so consumers that
read e.g. `Consul.Timeout` get the type they expect. Secrets are shown as `<redacted>` when
set (0.7+); this agent has no Vault or Consul integration, so they are empty.
"""

from __future__ import annotations

from typing import Any

from agent.config.listeners import Listeners
from agent.config.settings import Settings
from agent.version import NOMAD_PRERELEASE, NOMAD_REVISION, NOMAD_VERSION
from gocompat import seconds_to_go_duration

SECOND_NS = 1_000_000_000
REDACTED = "<redacted>"


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
