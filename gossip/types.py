"""Value types shared by the memberlist and serf layers.

Addresses are (host, port) pairs on the caller's side of the boundary; on the wire memberlist
carries raw IP bytes, so the conversions live here, next to the types they convert.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple


class Address(NamedTuple):
    """A UDP/TCP endpoint: IP literal and port."""

    host: str
    port: int

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def ip_to_bytes(host: str) -> bytes:
    """Pack an IP literal the way Go's net.IP does for IPv4 peers (4 bytes) or IPv6 (16)."""
    return ipaddress.ip_address(host).packed


IPV4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
"""The first 12 bytes of an IPv4 address in IPv6 form (::ffff:a.b.c.d), as Go may send it."""


def bytes_to_ip(raw: bytes) -> str:
    """Unpack 4 or 16 IP bytes; raises ValueError on any other length."""
    if len(raw) == 16 and raw[:12] == IPV4_MAPPED_PREFIX:
        raw = raw[12:]  # an IPv4-mapped address, as Go may send
    return str(ipaddress.ip_address(raw))


class NodeState(IntEnum):
    """memberlist's per-node state; the values are what push-pull puts on the wire."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


class MemberStatus(StrEnum):
    """serf's member status; the values are what the API and `serf members` print."""

    NONE = "none"
    ALIVE = "alive"
    LEAVING = "leaving"
    LEFT = "left"
    FAILED = "failed"


# memberlist and serf protocol ranges (memberlist net.go and serf serf.go:
# ProtocolVersionMin, ProtocolVersionMax).
MEMBERLIST_PROTOCOL_MIN = 1
MEMBERLIST_PROTOCOL_MAX = 5
SERF_PROTOCOL_MIN = 2
SERF_PROTOCOL_MAX = 5


@dataclass(frozen=True, slots=True)
class Versions:
    """The six version bytes every alive message carries (`Vsn`)."""

    protocol_min: int = MEMBERLIST_PROTOCOL_MIN
    protocol_max: int = MEMBERLIST_PROTOCOL_MAX
    protocol_cur: int = 2
    delegate_min: int = SERF_PROTOCOL_MIN
    delegate_max: int = SERF_PROTOCOL_MAX
    delegate_cur: int = 4

    def to_vsn(self) -> bytes:
        return bytes(
            (
                self.protocol_min,
                self.protocol_max,
                self.protocol_cur,
                self.delegate_min,
                self.delegate_max,
                self.delegate_cur,
            )
        )

    @classmethod
    def from_vsn(cls, vsn: bytes) -> Versions:
        """Read a 6-byte Vsn; shorter ones are refused (they crash Go peers, see
        `wire.VSN_MIN_BYTES`)."""
        if len(vsn) < 6:
            raise ValueError(f"Vsn must have 6 bytes, got {len(vsn)}")
        return cls(vsn[0], vsn[1], vsn[2], vsn[3], vsn[4], vsn[5])


ZERO_VERSIONS = Versions(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Member:
    """A serf member as `serf members` and Nomad's `/v1/agent/members` show it."""

    name: str
    addr: str
    port: int
    tags: Mapping[str, str] = field(default_factory=dict)
    status: MemberStatus = MemberStatus.ALIVE
    versions: Versions = field(default_factory=Versions)
