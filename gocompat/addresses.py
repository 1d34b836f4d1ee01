"""Turning the address strings users pass (`host`, `host:port`, `[v6]:port`) into parts.

The rules and error texts follow Go, because they surface in API bodies: memberlist's
`resolveAddr` for joins (a missing port means the Serf port) and Nomad's `resolveServer` for
client server lists (a missing port means the RPC port). Name lookups are I/O and belong to
the runtime; this module only splits and recognises IP literals.
"""

from __future__ import annotations

import ipaddress


class AddressError(ValueError):
    """The text is not a usable `host[:port]`; the message reads like Go's error."""


def _has_port(text: str) -> bool:
    """memberlist's hasPort: bracketed v6 needs `]:`, otherwise exactly one colon."""
    if text.rfind("[") == 0:
        return text.rfind(":") > text.rfind("]")
    return text.count(":") == 1


def _parse_port(raw: str) -> int:
    """strconv.ParseUint(raw, 10, 16), with Go's error texts."""
    if not raw.isascii() or not raw.isdigit():
        raise AddressError(f'strconv.ParseUint: parsing "{raw}": invalid syntax')
    port = int(raw)
    if port > 0xFFFF:
        raise AddressError(f'strconv.ParseUint: parsing "{raw}": value out of range')
    return port


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """Split `host`, `host:port`, `[v6]`, `[v6]:port` or bare `v6`; add `default_port`.

    Raises:
        AddressError: malformed brackets, too many colons, or a bad port.
    """
    if not _has_port(text):
        host = text.strip("[]")
        return host, default_port
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise AddressError(f"address {text}: missing ']' in address")
        host, rest = text[1:end], text[end + 1 :]
        if not rest.startswith(":"):
            raise AddressError(f"address {text}: unexpected ']' in address")
        return host, _parse_port(rest[1:])
    host, _, raw_port = text.rpartition(":")
    if "[" in host or "]" in host:
        raise AddressError(f"address {text}: unexpected '[' in address")
    return host, _parse_port(raw_port)


def strip_node_name(text: str) -> str:
    """memberlist accepts `nodename/host:port`; only the address part is dialled."""
    return text.rpartition("/")[2]


def ip_literal(host: str) -> str | None:
    """The normalised IP if `host` is an IP literal, else None (a name to look up)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def join_host_port(host: str, port: int) -> str:
    """Go's net.JoinHostPort: brackets around IPv6 hosts."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
