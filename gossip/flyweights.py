"""Shared immutable values, so thousands of member views in one process cost little.

In a simulated cluster every node holds a view of every other node, and the views agree on
almost everything: the same address bytes, meta (tags), version bytes. Decoding gives each
view fresh objects; these bounded caches hand back one canonical object per distinct value
instead. They are pure memoisation of immutable values: no behaviour depends on them, and a
process with a single core (a real agent) just holds a few entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from gossip.errors import DecodeError
from gossip.serf_codec import decode_tags
from gossip.types import Address, Versions, bytes_to_ip

CACHE_SIZE = 1 << 16
"""Distinct values kept per cache: more than the members of any cluster we simulate."""


@lru_cache(maxsize=CACHE_SIZE)
def canonical_bytes(raw: bytes) -> bytes:
    """One shared bytes object per distinct value (meta, Vsn, IP bytes)."""
    return raw


@lru_cache(maxsize=CACHE_SIZE)
def address_of(addr: bytes, port: int) -> Address:
    """The Address for IP bytes and a port; raises ValueError for a bad IP length."""
    return Address(bytes_to_ip(addr), port)


@lru_cache(maxsize=CACHE_SIZE)
def tags_of(meta: bytes) -> Mapping[str, str]:
    """serf's decodeTags, as a read-only mapping shared by every member with this meta.

    Raises:
        DecodeError: meta starts with 0xFF but the msgpack map after it is malformed.
    """
    return MappingProxyType(decode_tags(meta))


EMPTY_TAGS: Mapping[str, str] = MappingProxyType({})


def safe_tags_of(meta: bytes) -> Mapping[str, str] | None:
    """tags_of, or None when the meta cannot be decoded."""
    try:
        return tags_of(meta)
    except DecodeError:
        return None


@lru_cache(maxsize=CACHE_SIZE)
def versions_of(vsn: bytes) -> Versions:
    """The Versions a 6-byte (or longer) Vsn describes; ValueError when shorter."""
    return Versions.from_vsn(vsn)
