"""Settings: the agent's one frozen configuration, from defaults, env, files and flags.

Field names follow Nomad's agent configuration file (`region`, `bind_addr`, `ports.http`,
`server.bootstrap_expect`, ...), so a Nomad JSON config loads unchanged; `gossip_profile` is
ours. Sources, weakest first (pydantic-settings ranks constructor arguments above the
environment, and `cli.py` passes file values merged under flag values as arguments):

    defaults < -dev preset < GOSSIP_AGENT_* environment < -config files < command-line flags

The `-dev` preset (Nomad's DevConfig) only fills what no source set. Cores never see this
class: `to_gossip_config()` and `to_raft_config()` hand them frozen dataclasses.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from gocompat import (
    AddressError,
    Base64Error,
    decode_std_base64,
    parse_go_duration,
    split_host_port,
)
from gossip import KEY_SIZES, SerfConfig
from raft_stub import RaftConfig

NOMAD_RECONNECT_TIMEOUT = 72 * 3600.0
"""Nomad keeps failed servers for 72 h, not serf's 24 h (nomad/config.go `DefaultConfig`)."""
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERR")
Port = Annotated[int, Field(ge=0, le=65535, description="TCP/UDP port; 0 picks a free one")]
DEV_PRESET: dict[str, Any] = {
    "bind_addr": "127.0.0.1",
    "log_level": "DEBUG",
    "gossip_profile": "local",
    "server": {"enabled": True},
    "client": {"enabled": True},
}
"""What `-dev` fills in (Nomad's DevConfig, plus memberlist's local timings for loopback).
As in Nomad, `bootstrap_expect` stays 0: dev mode bootstraps by itself."""


def _check_ip(value: str | None) -> str | None:
    if value is not None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
    return value


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ports(_Block):
    http: Port = 4646
    rpc: Port = 4647
    serf: Port = 4648


class Addresses(_Block):
    """Per-listener bind addresses; unset ones use `bind_addr`."""

    http: str | None = None
    rpc: str | None = None
    serf: str | None = None

    _ip = field_validator("http", "rpc", "serf")(_check_ip)


class Advertise(_Block):
    """What peers are told: `ip` or `ip:port`; unset ones use the bind address and port."""

    http: str | None = None
    rpc: str | None = None
    serf: str | None = None

    @field_validator("http", "rpc", "serf")
    @classmethod
    def _ip_port(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                host, _ = split_host_port(value, 0)
            except AddressError as exc:
                raise ValueError(str(exc)) from None
            _check_ip(host)
        return value


def _duration_seconds(value: object) -> float:
    """Nomad durations in config: a Go duration string (`30s`) or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as "30s"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_go_duration(value.strip()) / 1e9
    else:
        raise ValueError('expected a duration such as "30s"')
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(_duration_seconds)]


class _JoinKeys(BaseModel):
    """The join keys, which Nomad accepts both in `server` and in its `server_join` block."""

    model_config = ConfigDict(frozen=True)

    start_join: tuple[str, ...] = ()
    """Serf addresses to join at start; the agent fails to start if none answers."""
    retry_join: tuple[str, ...] = ()
    """Serf addresses to join at start, retried every `retry_interval` until one answers."""
    retry_interval: Duration = 30.0
    retry_max: int = Field(default=0, ge=0)
    """Retries after the first attempt before the agent exits; 0 retries forever."""


class ServerJoin(_JoinKeys):
    """Nomad's `server_join` block (0.8.4+)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_JoinKeys):
    """Nomad's `server` block; keys we do not model yet are accepted and ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    enabled: bool = False
    bootstrap_expect: int = Field(default=0, ge=0)
    rejoin_after_leave: bool = False
    """Rejoin the snapshot's peers even after a graceful leave (serf RejoinAfterLeave)."""
    server_join: ServerJoin | None = None
    encrypt: str = Field(default="", repr=False)
    """Nomad's `encrypt` (`-encrypt`): the gossip key, base64 of 16, 24 or 32 bytes; empty
    means gossip in the clear. Kept out of reprs: it is a secret."""

    @field_validator("encrypt")
    @classmethod
    def _gossip_key(cls, value: str) -> str:
        """Nomad checks the key's base64 at start (command.go: "Invalid encryption key"),
        memberlist its length when the keyring is built; both stop the agent here."""
        if value:
            try:
                key = decode_std_base64(value)
            except Base64Error as exc:
                raise ValueError(f"Invalid encryption key: {exc}") from None
            if len(key) not in KEY_SIZES:
                raise ValueError("Invalid encryption key: key size must be 16, 24 or 32 bytes")
        return value

    @property
    def encrypt_key(self) -> bytes | None:
        """The decoded gossip key, or None without encryption."""
        return decode_std_base64(self.encrypt) if self.encrypt else None

    @model_validator(mode="after")
    def _merge_server_join(self) -> ServerSettings:
        """Nomad merges `server_join` into the server block's `start_join`/`retry_join`; setting
        both is an error there, so it is here too."""
        join = self.server_join
        if join is None:
            return self
        legacy = self.start_join or self.retry_join
        if legacy and (join.start_join or join.retry_join):
            raise ValueError("server_join and the server block's join keys are both set")
        fields = join.model_dump(exclude_unset=True)
        return self.model_copy(update={**fields, "server_join": None})


class ClientSettings(BaseModel):
    """Nomad's `client` block; keys we do not model yet are accepted and ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    enabled: bool = False
    servers: tuple[str, ...] = ()
    """Initial server list, `host[:port]` (port 4647 when missing)."""


class AclSettings(BaseModel):
    """Nomad's `acl` block: only `enabled` matters here (token TTLs and replication do not)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    enabled: bool = False


_BOOL = TypeAdapter(bool)


def _dev_mode_asked(value: object) -> bool:
    """Whether `dev_mode` is on, read before validation with the field's own bool rules.

    The dev preset must be merged in before the fields are validated; a value the field will
    refuse counts as off here, and validation then reports it.
    """
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        return False


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` wins; nested dicts merge key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class Settings(BaseSettings):
    """The agent's configuration; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="GOSSIP_AGENT_",
        env_nested_delimiter="__",
    )

    region: str = Field(default="global", min_length=1)
    datacenter: str = Field(default="dc1", min_length=1)
    name: str = ""
    """Node name; empty means the host name (as Nomad)."""
    data_dir: str = ""
    bind_addr: str = "0.0.0.0"
    log_level: str = "INFO"
    ports: Ports = Ports()
    addresses: Addresses = Addresses()
    advertise: Advertise = Advertise()
    server: ServerSettings = ServerSettings()
    client: ClientSettings = ClientSettings()
    acl: AclSettings = AclSettings()
    leave_on_interrupt: bool = False
    leave_on_terminate: bool = False
    http_api_response_headers: dict[str, str] = Field(default_factory=dict)
    dev_mode: bool = False
    enable_fault_injection: bool = False
    """Serve `/v1/agent/fault*`, which drop and delay this agent's serf and RPC traffic.
    Ours, for tests; never on by default, not even with `-dev`."""
    gossip_profile: Literal["wan", "lan", "local"] = "wan"
    """memberlist timing preset; Nomad servers run `wan`."""

    @model_validator(mode="before")
    @classmethod
    def _apply_dev_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and _dev_mode_asked(data.get("dev_mode", False)):
            return deep_merge(DEV_PRESET, data)
        return data

    @field_validator("bind_addr")
    @classmethod
    def _bind_ip(cls, value: str) -> str:
        _check_ip(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            expected = ", ".join(LOG_LEVELS)
            raise ValueError(f"invalid log level {value!r}, expected one of {expected}")
        return level

    @model_validator(mode="after")
    def _some_role(self) -> Settings:
        if not (self.server.enabled or self.client.enabled):
            raise ValueError("Must specify either server, client or dev mode for the agent.")
        return self

    # ---- derived values ----------------------------------------------------------------

    @property
    def node_name(self) -> str:
        """The configured name, or the host name (Nomad's default)."""
        return self.name or socket.gethostname()

    @property
    def bootstraps(self) -> bool:
        """Whether this server bootstraps raft alone: bootstrap_expect 1, or dev mode."""
        return self.server.enabled and (self.server.bootstrap_expect == 1 or self.dev_mode)

    def bind_host(self, listener: Literal["http", "rpc", "serf"]) -> str:
        return getattr(self.addresses, listener) or self.bind_addr

    def to_gossip_config(self) -> SerfConfig:
        """serf/memberlist knobs: the chosen memberlist preset plus Nomad's serf overrides."""
        return SerfConfig.profile(self.gossip_profile, reconnect_timeout=NOMAD_RECONNECT_TIMEOUT)

    def to_raft_config(self, rpc_advertise: str) -> RaftConfig:
        """Raft protocol 1: the server ID is its RPC advertise address."""
        expect = 1 if self.bootstraps else self.server.bootstrap_expect
        return RaftConfig(server_id=rpc_advertise, address=rpc_advertise, bootstrap_expect=expect)


def format_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field: `invalid ports.http: Input should be ... (got 70000)`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if loc:
            parts.append(f"invalid {loc}: {msg} (got {err.get('input')!r})")
        else:
            parts.append(msg)
    return "; ".join(parts)
