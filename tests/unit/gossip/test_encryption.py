"""Gossip encryption in the cores: memberlist's byte layout (security.go, net.go), its keyring
(keyring.go), and serf's key queries (internal_query.go, keymanager.go), in virtual time.

Why these: a real serf agent reads our sealed bytes only if the version byte, nonce, padding
and AAD are exactly memberlist's, so the layout is pinned here against AES-GCM used directly;
the mixed-pool tests (`tests/e2e/test_serf_interop_keyring.py`) prove the same against the
binary. The keyring rules decide whether a rotation partitions a pool, so each is pinned.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gocompat import Base64Error, decode_std_base64
from gossip import (
    KeyOp,
    KeyQueryCompleted,
    Keyring,
    KeyringError,
    SerfConfig,
    SerfCore,
)
from gossip.codec import decode_packet, decode_stream
from gossip.key_queries import (
    KeyQueries,
    NodeKeyResponse,
    decode_key_request,
    decode_key_response,
    encode_key,
    encode_key_request,
    encode_key_response,
    tally,
)
from gossip.messages import ErrResp
from gossip.security import (
    DecryptError,
    Encryption,
    EncryptionVersion,
    decrypt_payload,
    encrypt_overhead,
    encrypt_payload,
    encrypted_length,
    encryption_version,
    open_stream_frame,
    seal_stream_frame,
)
from tests.helpers.core import Net, addr, drain_events, status

A, B, C = "10.0.0.1", "10.0.0.2", "10.0.0.3"
K1 = bytes(range(16))
K2 = bytes(range(100, 132))
K3 = bytes(range(200, 224))
NONCE = bytes(range(1, 13))
MSG = b"\x00\x81\xa5SeqNo\x01"


# ---- the byte layout --------------------------------------------------------------------------


def test_version_1_is_version_byte_nonce_and_the_gcm_seal_without_padding() -> None:
    sealed = encrypt_payload(EncryptionVersion.UNPADDED, AESGCM(K1), MSG, None, NONCE)
    assert sealed == b"\x01" + NONCE + AESGCM(K1).encrypt(NONCE, MSG, None)
    assert len(sealed) == encrypted_length(EncryptionVersion.UNPADDED, len(MSG))


def test_version_0_pads_pkcs7_to_the_aes_block_before_sealing() -> None:
    sealed = encrypt_payload(EncryptionVersion.PADDED, AESGCM(K1), MSG, None, NONCE)
    pad = 16 - len(MSG) % 16
    assert sealed == b"\x00" + NONCE + AESGCM(K1).encrypt(NONCE, MSG + bytes([pad]) * pad, None)
    assert len(sealed) == encrypted_length(EncryptionVersion.PADDED, len(MSG))
    # A whole block of plaintext still gets a whole block of padding, as pkcs7encode adds.
    assert encrypted_length(EncryptionVersion.PADDED, 16) == 1 + 12 + 32 + 16


def test_overheads_and_versions_are_memberlists() -> None:
    assert encrypt_overhead(EncryptionVersion.PADDED) == 45
    assert encrypt_overhead(EncryptionVersion.UNPADDED) == 29
    assert encryption_version(1) is EncryptionVersion.PADDED
    assert encryption_version(2) is EncryptionVersion.UNPADDED
    assert encryption_version(5) is EncryptionVersion.UNPADDED


@pytest.mark.parametrize("vsn", list(EncryptionVersion))
def test_both_versions_open_whatever_version_the_sender_chose(vsn: EncryptionVersion) -> None:
    sealed = encrypt_payload(vsn, AESGCM(K2), MSG, b"aad", NONCE)
    assert decrypt_payload([AESGCM(K1), AESGCM(K2)], sealed, b"aad") == MSG


def test_decryption_tries_every_key_and_names_each_failure_as_memberlist() -> None:
    sealed = encrypt_payload(EncryptionVersion.UNPADDED, AESGCM(K3), MSG, None, NONCE)
    with pytest.raises(DecryptError, match="No installed keys could decrypt the message"):
        decrypt_payload([AESGCM(K1), AESGCM(K2)], sealed, None)
    with pytest.raises(DecryptError, match="Cannot decrypt empty payload"):
        decrypt_payload([AESGCM(K1)], b"", None)
    with pytest.raises(DecryptError, match="Unsupported encryption version 2"):
        decrypt_payload([AESGCM(K1)], b"\x02" + sealed[1:], None)
    with pytest.raises(DecryptError, match="Payload is too small to decrypt: 28"):
        decrypt_payload([AESGCM(K1)], b"\x01" + bytes(27), None)


def test_a_stream_frame_is_type_10_and_length_and_both_are_authenticated() -> None:
    frame = seal_stream_frame(EncryptionVersion.UNPADDED, AESGCM(K1), MSG, NONCE)
    header = bytes([10]) + encrypted_length(EncryptionVersion.UNPADDED, len(MSG)).to_bytes(4, "big")
    assert frame == header + b"\x01" + NONCE + AESGCM(K1).encrypt(NONCE, MSG, header)
    assert open_stream_frame([AESGCM(K1)], frame) == MSG
    with pytest.raises(DecryptError):  # the sealed bytes moved under another header
        open_stream_frame([AESGCM(K1)], header[:4] + bytes([header[4] + 1]) + frame[5:] + b"x")
    with pytest.raises(DecryptError, match="larger than limit"):
        open_stream_frame([AESGCM(K1)], b"\x0a\xff\xff\xff\xff")


def test_a_keyed_node_refuses_plaintext_streams_and_a_plain_one_refuses_sealed_ones() -> None:
    enc = Encryption(Keyring(K1), random.Random(1), 2)
    with pytest.raises(DecryptError, match="Encryption is configured but remote state is not"):
        enc.open_stream(MSG)
    plain = make("p", A)
    sealed = enc.seal_stream(b"\x00" + MSG)
    reply = plain.handle_stream(1.0, addr(B), sealed)
    assert reply is not None
    assert decode_stream(reply) == ErrResp(
        "Remote state is encrypted and encryption is not configured"
    )
    assert plain.swim.unencrypted == 1


def test_nonces_come_from_the_cores_generator_so_runs_repeat() -> None:
    def seal() -> bytes:
        return Encryption(Keyring(K1), random.Random(7), 2).seal_packet(MSG)

    assert seal() == seal()
    one = Encryption(Keyring(K1), random.Random(7), 2)
    assert one.seal_packet(MSG)[1:13] != one.seal_packet(MSG)[1:13]


# ---- the keyring ------------------------------------------------------------------------------


def test_keyring_rules_are_memberlists() -> None:
    ring = Keyring(K1, [K2])
    assert ring.keys == (K1, K2) and ring.primary == K1
    ring.add(K2)  # already there: nothing changes
    ring.add(K3)
    assert ring.keys == (K1, K2, K3)
    ring.use(K3)
    assert ring.keys == (K3, K1, K2)
    with pytest.raises(KeyringError, match="Removing the primary key is not allowed"):
        ring.remove(K3)
    ring.remove(K1)
    ring.remove(b"\x09" * 16)  # not installed: nothing happens
    assert ring.keys == (K3, K2)
    with pytest.raises(KeyringError, match="Requested key is not in the keyring"):
        ring.use(K1)
    with pytest.raises(KeyringError, match="key size must be 16, 24 or 32 bytes"):
        ring.add(b"short")
    with pytest.raises(KeyringError, match="Empty primary key not allowed"):
        Keyring(b"")


# ---- cores ------------------------------------------------------------------------------------


def make(name: str, ip: str, keys: tuple[bytes, ...] = (), **overrides: Any) -> SerfCore:
    """A LAN-profile core with a keyring of `keys` (primary first), or none."""
    return SerfCore(
        SerfConfig.profile("lan", **overrides),
        name=name,
        addr=addr(ip),
        tags={},
        rng=random.Random(zlib.crc32(name.encode())),
        now=0.0,
        keyring=Keyring(keys[0], keys[1:]) if keys else None,
    )


class KeyedNet(Net):
    """`Net` whose cores may hold keyrings."""

    def add_keyed(self, name: str, ip: str, *keys: bytes) -> SerfCore:
        core = make(name, ip, keys)
        self.cores[name] = core
        self.addrs[name] = addr(ip)
        self.names[addr(ip)] = name
        self._collect(name)
        return core


def test_two_nodes_with_one_key_join_and_every_datagram_is_sealed() -> None:
    net = KeyedNet()
    net.add_keyed("a", A, K2, K1)  # sends with K2, reads b's K1 as its secondary key
    net.add_keyed("b", B, K1, K2)  # and the other way round
    assert net.join("a", "b").num_joined == 1
    net.run(10.0)
    assert status(net["a"], "b") == status(net["b"], "a") == "alive"
    assert net.packets and all(p.data[0] == 1 for p in net.packets)
    assert all(decode_packet(p.data).messages == [] for p in net.packets)  # not plaintext
    assert net.exchanges and all(e.request.data[0] == 10 for e in net.exchanges)
    assert net["a"].stats()["encrypted"] == "true"


def test_a_node_with_another_key_or_none_stays_out_and_is_counted() -> None:
    net = KeyedNet()
    net.add_keyed("a", A, K1)
    net.add_keyed("b", B, K2)
    net.add_keyed("c", C)  # no keyring
    assert net.join("b", "a").num_joined == 0
    assert net.join("c", "a").num_joined == 0
    net.run(10.0)
    assert [m.name for m in net["a"].members()] == ["a"]
    assert net["a"].swim.undecryptable >= 1 and net["a"].swim.unencrypted >= 1
    assert net["c"].stats()["encrypted"] == "false"


def key_op(net: Net, name: str, op: KeyOp, key: bytes | None = None) -> Any:
    token = net[name].key_operation(net.now, op, key)
    net.run(net.now + 5.0)
    done = [e for _, n, e in net.events if n == name and isinstance(e, KeyQueryCompleted)]
    return next(e.response for e in done if e.token == token)


def three_keyed() -> KeyedNet:
    net = KeyedNet()
    for name, ip in (("a", A), ("b", B), ("c", C)):
        net.add_keyed(name, ip, K1)
    assert net.join("b", "a").num_joined == 1
    assert net.join("c", "a").num_joined == 1
    net.run(10.0)
    return net


def test_a_key_rotates_across_the_pool_by_query_and_gossip_keeps_flowing() -> None:
    net = three_keyed()
    listed = key_op(net, "a", KeyOp.LIST)
    assert (listed.keys, listed.num_nodes, listed.error) == ({encode_key(K1): 3}, 3, None)
    assert key_op(net, "b", KeyOp.INSTALL, K2).error is None
    assert key_op(net, "a", KeyOp.LIST).keys == {encode_key(K1): 3, encode_key(K2): 3}
    assert key_op(net, "c", KeyOp.USE, K2).error is None
    assert all(net[n].swim.keyring.primary == K2 for n in "abc")  # type: ignore[union-attr]
    assert key_op(net, "a", KeyOp.REMOVE, K1).error is None
    assert key_op(net, "a", KeyOp.LIST).keys == {encode_key(K2): 3}
    net.run(net.now + 20.0)
    assert all(status(net[x], y) == "alive" for x in "abc" for y in "abc")
    assert net["a"].keyring_changes == 3


def test_a_refused_key_change_is_each_members_failure() -> None:
    net = three_keyed()
    unknown = bytes(16)
    response = key_op(net, "a", KeyOp.USE, unknown)
    assert response.error == "3/3 nodes reported failure"
    assert response.messages == dict.fromkeys("abc", "Requested key is not in the keyring")


def test_members_without_a_keyring_answer_as_serf_does() -> None:
    queries = make("p", A).keys
    assert queries.answer(KeyOp.LIST, b"") == NodeKeyResponse(
        False, "Keyring is empty (encryption not enabled)"
    )
    assert queries.answer(KeyOp.INSTALL, encode_key_request(K1)) == NodeKeyResponse(
        False, "No keyring to modify (encryption not enabled)"
    )
    assert isinstance(queries, KeyQueries)


def test_key_messages_round_trip_and_tally_as_keymanager() -> None:
    assert decode_key_request(encode_key_request(K2)) == K2
    answer = NodeKeyResponse(True, "", (encode_key(K1),))
    assert decode_key_response(encode_key_response(answer)) == answer
    assert encode_key_response(NodeKeyResponse(False, "no"))[0] == 8
    summary = tally(
        {"a": encode_key_response(answer), "b": b"\x05junk", "c": encode_key_response(answer)},
        num_nodes=4,
    )
    assert (summary.num_resp, summary.num_err, summary.keys) == (3, 1, {encode_key(K1): 2})
    assert summary.error == "1/4 nodes reported failure"
    assert tally({}, num_nodes=2).error == "0/2 nodes reported success"


def test_key_operations_report_at_once_after_shutdown() -> None:
    core = make("a", A, (K1,))
    core.shutdown(1.0)
    token = core.key_operation(1.0, KeyOp.LIST)
    [event] = [e for e in drain_events(core) if isinstance(e, KeyQueryCompleted)]
    assert event.token == token and event.response.error is not None


# ---- Go's base64, which names the offending byte ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [("abc", 0), ("abcde", 4), ("ab!d", 2), ("not base64!", 3)],
)
def test_bad_base64_names_the_offset_go_names(text: str, offset: int) -> None:
    with pytest.raises(Base64Error, match=f"illegal base64 data at input byte {offset}$"):
        decode_std_base64(text)


def test_good_base64_decodes_with_newlines_skipped() -> None:
    assert decode_std_base64("aGVs\nbG8=") == b"hello"
    assert decode_std_base64("aGVsbA==") == b"hell"
