"""memberlist's keyring (keyring.go: Keyring, NewKeyring, AddKey, UseKey, RemoveKey,
ValidateKey): the AES keys a node holds, the primary one first.

Why an ordered list: every message a node sends is sealed with its primary key, and every
message it receives is tried against the primary first and then every other installed key.
That is what lets an operator rotate a pool's key without a partition: install the new key
everywhere (all nodes still send with the old one, all can read the new one), make it the
primary everywhere (nodes that switched first are still readable by those that have not),
then remove the old one. serf's `_serf_*-key` queries (`gossip/key_queries.py`) run those
three steps across the pool.

The AES-GCM instances are built once per key here, not per message: a key's cipher object is
the expensive part of sealing a small datagram. `cryptography` is imported by the first key
installed, not with this module: it adds ~6.5 MiB of RSS (its Rust extension and OpenSSL),
which an agent without `-encrypt` never needs (bench/memory.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gossip.errors import UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_SIZES", "Keyring", "KeyringError", "validate_key"]

KEY_SIZES = (16, 24, 32)
"""AES-128, AES-192 and AES-256: the only key lengths memberlist accepts."""


class KeyringError(UsageError):
    """A key operation memberlist refuses; the message is memberlist's own words."""


def validate_key(key: bytes) -> None:
    """memberlist ValidateKey.

    Raises:
        KeyringError: the key is not 16, 24 or 32 bytes long.
    """
    if len(key) not in KEY_SIZES:
        raise KeyringError("key size must be 16, 24 or 32 bytes")


class Keyring:
    """The installed keys, primary first, each with its ready cipher."""

    __slots__ = ("_ciphers", "_keys")

    def __init__(self, primary: bytes, others: Sequence[bytes] = ()) -> None:
        """memberlist NewKeyring(keys, primaryKey): the primary, then the others in order.

        Raises:
            KeyringError: an empty primary key, or any key of the wrong size.
        """
        if not primary:
            raise KeyringError("Empty primary key not allowed")
        self._keys: list[bytes] = []
        self._ciphers: dict[bytes, AESGCM] = {}
        self.add(primary)
        for key in others:
            self.add(key)

    @property
    def keys(self) -> tuple[bytes, ...]:
        """Every installed key, the primary first (memberlist GetKeys)."""
        return tuple(self._keys)

    @property
    def primary(self) -> bytes:
        """The key every outgoing message is sealed with (memberlist GetPrimaryKey)."""
        return self._keys[0]

    def cipher(self, key: bytes) -> AESGCM:
        """The AES-GCM instance of an installed key."""
        return self._ciphers[key]

    def ciphers(self) -> list[AESGCM]:
        """The ciphers in the order decryption tries them: primary first."""
        return [self._ciphers[k] for k in self._keys]

    def add(self, key: bytes) -> None:
        """memberlist AddKey: append a secondary key; installing a known key changes nothing.

        Raises:
            KeyringError: the key is not 16, 24 or 32 bytes long.
        """
        validate_key(key)
        if key in self._ciphers:
            return
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._keys.append(bytes(key))
        self._ciphers[bytes(key)] = AESGCM(key)

    def use(self, key: bytes) -> None:
        """memberlist UseKey: make an installed key the primary; the others keep their order.

        Raises:
            KeyringError: the key is not installed.
        """
        if key not in self._ciphers:
            raise KeyringError("Requested key is not in the keyring")
        self._keys = [bytes(key), *(k for k in self._keys if k != key)]

    def remove(self, key: bytes) -> None:
        """memberlist RemoveKey: drop a secondary key; an unknown key changes nothing.

        Raises:
            KeyringError: the key is the primary.
        """
        if key == self._keys[0]:
            raise KeyringError("Removing the primary key is not allowed")
        if key in self._ciphers:
            self._keys.remove(key)
            del self._ciphers[key]
