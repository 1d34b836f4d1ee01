"""memberlist 0.2.2's gossip encryption (security.go: encryptPayload, decryptPayload,
encryptedLength, pkcs7encode/decode; net.go: rawSendMsgPacket, ingestPacket,
encryptLocalState, decryptRemoteState, readStream).

The byte layout, which a real serf agent must be able to read and write:

* A sealed payload is `version (1 byte) | nonce (12 bytes) | AES-GCM ciphertext + tag (16)`.
  Version 0 pads the plaintext PKCS#7-style to a whole AES block before sealing (a peer
  speaking memberlist protocol 1); version 1, which every protocol >= 2 node sends, does not
  pad. Decryption reads the version from the payload, so both are accepted.
* A datagram is sealed whole, as the outermost layer (after compression and the CRC layer),
  with no additional authenticated data.
* A stream message is `0x0a (encryptMsg) | sealed length (uint32, big endian) | sealed
  payload`, and those first five bytes are the AAD: a peer cannot splice a sealed payload
  into a frame that announces another length. (memberlist 0.5 added a label to both AADs;
  0.2.2, which serf 0.9.4 and Nomad 0.x use, has none.)
* Sending always uses the primary key; receiving tries the primary, then each other key.
* The version byte is outside the seal (memberlist authenticates only the nonce and the
  ciphertext, plus the stream header), so flipping it turns a version-1 payload into a
  version-0 one that opens and then loses its "padding". The CRC layer inside catches what
  that leaves; we also check the whole padding, as Go's pkcs7decode does not.

Receiving with encryption on (memberlist's GossipVerifyIncoming, on by default): a datagram
that no key opens is dropped; a plaintext stream is refused with "Encryption is configured
but remote state is not encrypted". Without a keyring an encrypted stream is refused with
"Remote state is encrypted and encryption is not configured".

One deliberate difference: memberlist draws nonces from crypto/rand. The cores are sans-IO
(no `os.urandom`), so `Encryption` draws them from the core's injected `random.Random`. A
driver that needs nonces an attacker cannot predict seeds that generator from the OS (the
agent does: `agent/launch/real.py`); the simulator's fixed seeds keep runs reproducible.
AES-GCM stays correct as long as a (key, nonce) pair never repeats, which 96 random bits
make as unlikely as memberlist's own choice does.
"""

from __future__ import annotations

import random
from enum import IntEnum
from typing import TYPE_CHECKING

from gossip.errors import DecodeError
from gossip.keyring import Keyring
from gossip.messages import MessageType

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "NONCE_SIZE",
    "TAG_SIZE",
    "DecryptError",
    "Encryption",
    "EncryptionVersion",
    "decrypt_payload",
    "encrypt_overhead",
    "encrypt_payload",
    "encrypted_length",
    "encryption_version",
    "open_stream_frame",
    "seal_stream_frame",
]

VERSION_SIZE = 1
NONCE_SIZE = 12
TAG_SIZE = 16
BLOCK_SIZE = 16
"""AES's block: what version 0 pads to."""
STREAM_HEADER_SIZE = 5
"""encryptMsg's type byte and the uint32 length: the stream AAD."""
MAX_STREAM_SEALED = 20 * 1024 * 1024
"""memberlist maxPushStateBytes: a sealed stream announcing more is refused unread."""
ENCRYPT_MSG = MessageType.ENCRYPT.value


class EncryptionVersion(IntEnum):
    """memberlist encryptionVersion: 0 pads to the AES block, 1 does not."""

    PADDED = 0
    UNPADDED = 1


class DecryptError(DecodeError):
    """Bytes that should be sealed and are not, or that no installed key opens."""


def encryption_version(protocol_version: int) -> EncryptionVersion:
    """memberlist encryptionVersion(): protocol 1 nodes seal with version 0, newer with 1."""
    return EncryptionVersion.PADDED if protocol_version <= 1 else EncryptionVersion.UNPADDED


def encrypted_length(vsn: EncryptionVersion, plain: int) -> int:
    """memberlist encryptedLength: the sealed size of `plain` bytes."""
    if vsn is EncryptionVersion.UNPADDED:
        return VERSION_SIZE + NONCE_SIZE + plain + TAG_SIZE
    padding = BLOCK_SIZE - plain % BLOCK_SIZE
    return VERSION_SIZE + NONCE_SIZE + plain + padding + TAG_SIZE


def encrypt_overhead(vsn: EncryptionVersion) -> int:
    """memberlist encryptOverhead: what sealing adds at most (45 for version 0, 29 for 1),
    taken off the space a gossip packet leaves for broadcasts."""
    return encrypted_length(vsn, 0)


def encrypt_payload(
    vsn: EncryptionVersion, cipher: AESGCM, msg: bytes, aad: bytes | None, nonce: bytes
) -> bytes:
    """memberlist encryptPayload: `vsn | nonce | seal(msg, padded for version 0)`."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a nonce is {NONCE_SIZE} bytes, got {len(nonce)}")
    if vsn is EncryptionVersion.PADDED:
        pad = BLOCK_SIZE - len(msg) % BLOCK_SIZE
        msg = msg + bytes((pad,)) * pad
    return bytes((vsn,)) + nonce + cipher.encrypt(nonce, msg, aad)


def _invalid_tag() -> type[Exception]:
    """cryptography's InvalidTag, imported with the first key rather than with this module."""
    from cryptography.exceptions import InvalidTag

    return InvalidTag


def decrypt_payload(ciphers: list[AESGCM], msg: bytes, aad: bytes | None) -> bytes:
    """memberlist decryptPayload: open with the first key that works, primary first.

    Raises:
        DecryptError: empty, an unknown version, too short, or no key opens it (the
            messages are memberlist's).
    """
    if not msg:
        raise DecryptError("Cannot decrypt empty payload")
    if msg[0] > max(EncryptionVersion):
        raise DecryptError(f"Unsupported encryption version {msg[0]}")
    vsn = EncryptionVersion(msg[0])
    if len(msg) < encrypted_length(vsn, 0):
        raise DecryptError(f"Payload is too small to decrypt: {len(msg)}")
    nonce = msg[VERSION_SIZE : VERSION_SIZE + NONCE_SIZE]
    sealed = msg[VERSION_SIZE + NONCE_SIZE :]
    for cipher in ciphers:
        try:
            plain = cipher.decrypt(nonce, sealed, aad)
        except _invalid_tag():  # evaluated only when decrypt raises
            continue
        if vsn is EncryptionVersion.UNPADDED:
            return plain
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= min(BLOCK_SIZE, len(plain)) or plain[-pad:] != bytes((pad,)) * pad:
            # Go's pkcs7decode trusts the last byte (and panics past the start); we check the
            # whole padding. A version-0 sender always pads right, so only forgeries differ.
            raise DecryptError("Invalid padding in decrypted payload")
        return plain[:-pad]
    raise DecryptError("No installed keys could decrypt the message")


def seal_stream_frame(vsn: EncryptionVersion, cipher: AESGCM, plain: bytes, nonce: bytes) -> bytes:
    """memberlist encryptLocalState: `0x0a | len | sealed`, the first five bytes as AAD."""
    header = bytes((ENCRYPT_MSG,)) + encrypted_length(vsn, len(plain)).to_bytes(4, "big")
    return header + encrypt_payload(vsn, cipher, plain, header, nonce)


def open_stream_frame(ciphers: list[AESGCM], frame: bytes) -> bytes:
    """memberlist decryptRemoteState: check the announced length, open with the header as AAD.

    Raises:
        DecryptError: not an encrypt frame, a length that is too large or does not match, or
            the payload does not open.
    """
    if len(frame) < STREAM_HEADER_SIZE or frame[0] != ENCRYPT_MSG:
        raise DecryptError("not an encrypted stream message")
    announced = int.from_bytes(frame[1:STREAM_HEADER_SIZE], "big")
    if announced > MAX_STREAM_SEALED:
        raise DecryptError(f"Remote node state is larger than limit ({announced})")
    if len(frame) != STREAM_HEADER_SIZE + announced:
        raise DecryptError("EOF")
    return decrypt_payload(ciphers, frame[STREAM_HEADER_SIZE:], frame[:STREAM_HEADER_SIZE])


class Encryption:
    """One node's encryption: its keyring, the version it seals with, its nonce source."""

    __slots__ = ("keyring", "rng", "version")

    def __init__(self, keyring: Keyring, rng: random.Random, protocol_version: int) -> None:
        self.keyring = keyring
        self.rng = rng
        self.version = encryption_version(protocol_version)

    @property
    def overhead(self) -> int:
        return encrypt_overhead(self.version)

    def _nonce(self) -> bytes:
        return self.rng.getrandbits(NONCE_SIZE * 8).to_bytes(NONCE_SIZE, "big")

    def _primary(self) -> AESGCM:
        return self.keyring.cipher(self.keyring.primary)

    def seal_packet(self, msg: bytes) -> bytes:
        """A datagram as it leaves: sealed whole with the primary key, no AAD."""
        return encrypt_payload(self.version, self._primary(), msg, None, self._nonce())

    def open_packet(self, data: bytes) -> bytes:
        """A datagram as it arrives; raises DecryptError when no key opens it."""
        return decrypt_payload(self.keyring.ciphers(), data, None)

    def seal_stream(self, plain: bytes) -> bytes:
        """A stream message as it leaves (encryptLocalState)."""
        return seal_stream_frame(self.version, self._primary(), plain, self._nonce())

    def open_stream(self, frame: bytes) -> bytes:
        """A stream message as it arrives (readStream with encryption configured).

        Raises:
            DecryptError: plaintext (GossipVerifyIncoming refuses it), or it does not open.
        """
        if not frame or frame[0] != ENCRYPT_MSG:
            raise DecryptError("Encryption is configured but remote state is not encrypted")
        return open_stream_frame(self.keyring.ciphers(), frame)
