"""Go's msgpack flavour (memberlist util.go: `encode`, `decode`) and the typed field readers
both codecs share.

memberlist and serf encode with go-msgpack's zero-value `MsgpackHandle`: the old spec, where
strings and byte slices are both "raw" (the str family, never str8 or bin). msgpack-python
writes the same bytes with `use_bin_type=False`, and the encoders build their dicts with keys
already in Go's sorted field order, so no sorting happens at run time.

Decoding must tell a str-family string from a bin blob, because Go refuses bin where it
expects a `string`. With `raw=True` msgpack-python returns bytes for both, so we decode with
`raw=False` and `surrogateescape`: str-family values arrive as `str` (invalid UTF-8 escaped,
losslessly), bin values as `bytes`. Byte fields take either and turn a `str` back into the
exact wire bytes; text fields take only a `str` without escapes (valid UTF-8).

Readers follow go-msgpack: nil decodes to the zero value of every field, bools accept 0/1,
integers must fit the Go type, a byte slice may also arrive as an array of small ints. They
raise `DecodeError` and nothing else, so the codecs above stay total.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

import msgpack

from gossip.errors import DecodeError

U8_MAX = 0xFF
U16_MAX = 0xFFFF
U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
VSN_MIN_BYTES = 6
"""A non-empty Vsn shorter than this crashes Go peers (memberlist state.go `aliveNode` reads
`Vsn[0..5]` whenever Vsn is non-empty): refused both ways."""

# One Packer for the process: reusing it halves the cost of `packb`. `pack` runs in C without
# calling back into Python (no `default` hook) and resets its buffer even on error, so it is
# safe to share under the GIL.
_PACKER = msgpack.Packer(use_bin_type=False)
pack: Callable[[object], bytes] = _PACKER.pack
"""One value as msgpack bytes (msgpack ships no types: with autoreset, `Packer.pack` returns
the bytes it wrote)."""

UNPACK_OPTIONS: dict[str, Any] = {"raw": False, "unicode_errors": "surrogateescape"}
"""How every decoder reads msgpack; `Unpacker(**UNPACK_OPTIONS)` for incremental parsing."""


class StreamUnpacker(Protocol):
    """The part of `msgpack.Unpacker` the stream parser uses, typed (msgpack has no stubs)."""

    def feed(self, data: bytes | memoryview) -> None: ...
    def unpack(self) -> Any: ...
    def skip(self) -> None: ...
    def tell(self) -> int: ...


def unpack(data: bytes | memoryview) -> Any:
    """Exactly one msgpack object; trailing bytes are an error.

    Raises:
        DecodeError: malformed or truncated msgpack, or bytes after the object.
    """
    try:
        return msgpack.unpackb(data, **UNPACK_OPTIONS)
    except Exception as exc:  # msgpack's error set is not closed (ValueError, TypeError ...)
        raise DecodeError(f"bad msgpack: {exc!r}") from None


def unpack_first(data: bytes | memoryview) -> Any:
    """The first msgpack object; bytes after it are ignored, as Go's `decode()` does.

    Raises:
        DecodeError: malformed or truncated msgpack.
    """
    try:
        return msgpack.unpackb(data, **UNPACK_OPTIONS)
    except msgpack.ExtraData as extra:
        return extra.unpacked
    except Exception as exc:
        raise DecodeError(f"bad msgpack: {exc!r}") from None


def unpack_map(data: bytes | memoryview, *, strict: bool = False) -> dict[str, Any]:
    """One msgpack map (a Go struct); `strict` also refuses trailing bytes.

    Raises:
        DecodeError: malformed msgpack, or not a map.
    """
    obj = unpack(data) if strict else unpack_first(data)
    if type(obj) is not dict:
        raise DecodeError(f"expected a msgpack map, got {type(obj).__name__}")
    return obj


def as_map(obj: object) -> dict[str, Any]:
    """An already unpacked value that must be a map (a nested Go struct)."""
    if type(obj) is not dict:
        raise DecodeError(f"expected a msgpack map, got {type(obj).__name__}")
    return obj


def text(value: object) -> str:
    """A Go `string`: str family only (bin is refused, as go-msgpack does), valid UTF-8."""
    if type(value) is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # an escaped byte: the wire string was not UTF-8
                raise DecodeError("string is not valid UTF-8") from None
        return value
    if value is None:
        return ""
    raise DecodeError(f"expected a string, got {type(value).__name__}")


def name(value: object) -> str:
    """A node name: `text`, interned (thousands of views hold the same few names)."""
    return sys.intern(text(value))


def raw(value: object) -> bytes:
    """A Go `[]byte`: str-family, bin, nil (empty) or an array of ints 0..255."""
    if type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    if type(value) is list and all(type(i) is int and 0 <= i <= U8_MAX for i in value):
        return bytes(value)
    raise DecodeError(f"expected bytes, got {type(value).__name__}")


def optional_raw(value: object) -> bytes | None:
    """A `[]byte` where nil and empty differ for us (ackResp.Payload)."""
    return None if value is None else raw(value)


def vsn(value: object) -> bytes:
    """The 6 version bytes; empty means "not set", 1..5 bytes is refused (`VSN_MIN_BYTES`)."""
    out = raw(value)
    if 0 < len(out) < VSN_MIN_BYTES:
        raise DecodeError(f"Vsn has {len(out)} bytes, needs {VSN_MIN_BYTES}")
    return out


def uint(value: object, limit: int) -> int:
    """An unsigned Go integer no larger than `limit` (U16_MAX, U32_MAX ...)."""
    if type(value) is int and 0 <= value <= limit:  # `type is`: refuses bool, like Go
        return value
    if value is None:
        return 0
    raise DecodeError(f"expected an integer in 0..{limit}, got {value!r:.40}")


def int64(value: object) -> int:
    """A signed Go int64 (time.Duration)."""
    if type(value) is int and I64_MIN <= value <= I64_MAX:
        return value
    if value is None:
        return 0
    raise DecodeError(f"expected an int64, got {value!r:.40}")


def boolean(value: object) -> bool:
    """A Go bool; go-msgpack also takes the integers 0 and 1."""
    if value is True or value is False:
        return value
    if value is None:
        return False
    if type(value) is int and (value == 0 or value == 1):
        return value == 1
    raise DecodeError(f"expected a bool, got {value!r:.40}")


def array(value: object) -> list[Any]:
    """A Go slice: a msgpack array, nil meaning empty."""
    if type(value) is list:
        return value
    if value is None:
        return []
    raise DecodeError(f"expected an array, got {type(value).__name__}")
