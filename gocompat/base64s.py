"""Go's `base64.StdEncoding.DecodeString`, for gossip keys (`-encrypt`, the keyring API).

Why not `base64.b64decode`: Nomad answers a bad key with Go's error text, which names the
offset of the first byte it could not use ("illegal base64 data at input byte 4"); Python's
decoder says neither where nor in those words. Go skips `\\r` and `\\n` anywhere, requires
padding to a whole 4-character quantum, and refuses anything after the padding.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["Base64Error", "decode_std_base64"]

_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


class Base64Error(ValueError):
    """Go's base64.CorruptInputError, with its message."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def decode_std_base64(text: str) -> bytes:
    """Decode as Go's StdEncoding does.

    Raises:
        Base64Error: at the offset Go reports (in the input as given, newlines included).
    """
    raw = text.encode("utf-8", "surrogateescape")
    kept = [(i, c) for i, c in enumerate(raw) if c not in b"\r\n"]
    chars = bytes(c for _, c in kept)
    for pos, (i, c) in enumerate(kept):
        if c in _ALPHABET:
            continue
        # '=' may only pad the last quantum, and only in its third or fourth place.
        tail = chars[pos:]
        if c == ord("=") and pos % 4 >= 2 and tail in (b"=", b"==")[: 4 - pos % 4]:
            if pos % 4 == 2 and tail != b"==":
                raise Base64Error(len(raw) if tail == b"=" else kept[pos + 1][0])
            break
        raise Base64Error(i)
    if len(chars) % 4:
        start = len(chars) - len(chars) % 4
        raise Base64Error(kept[start][0] if start < len(kept) else len(raw))
    try:
        return base64.b64decode(chars, validate=True)
    except binascii.Error:  # anything the checks above let through: report its start
        raise Base64Error(0) from None
