"""serf's key management across a pool (serf internal_query.go: handleInstallKey,
handleUseKey, handleRemoveKey, handleListKeys, sendKeyResponse; keymanager.go: KeyManager,
handleKeyRequest, streamKeyResp).

Why queries: a keyring change must reach every member, and only members that can already
read each other can be asked. serf sends one internal query per operation
(`_serf_install-key`, `_serf_use-key`, `_serf_remove-key`, `_serf_list-keys`) carrying
`keyRequest{Key}`; every member applies it to its own memberlist keyring and answers with
`nodeKeyResponse{Result, Message, Keys}` (type byte 8 + msgpack). The asker counts answers,
failures and, for a list, how many members hold each key, and stops as soon as every member
it knows (memberlist NumMembers) has answered, or at the query's timeout. A member without a
keyring answers `Result: false`, so a mixed encrypted/plain pool reports it as a failure
rather than silently skipping it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from gossip.errors import DecodeError
from gossip.keyring import Keyring, KeyringError
from gossip.messages import Query, SerfMessageType, type_byte
from gossip.queries import INTERNAL_QUERY_PREFIX, PendingQuery, Queries
from gossip.wire import array, as_map, boolean, optional_raw, pack, text, unpack_first

__all__ = ["KeyOp", "KeyQueries", "KeyResponse", "NodeKeyResponse"]

_REQUEST = type_byte(SerfMessageType.KEY_REQUEST)
_RESPONSE = type_byte(SerfMessageType.KEY_RESPONSE)


class KeyOp(StrEnum):
    """The four key operations; the value is the query name after `_serf_`."""

    INSTALL = "install-key"
    USE = "use-key"
    REMOVE = "remove-key"
    LIST = "list-keys"

    @property
    def query_name(self) -> str:
        return INTERNAL_QUERY_PREFIX + self.value


@dataclass(frozen=True, slots=True)
class NodeKeyResponse:
    """serf nodeKeyResponse: one member's answer."""

    result: bool
    message: str = ""
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyResponse:
    """serf KeyResponse: what the asker gathered (Nomad returns Messages, Keys, NumNodes)."""

    messages: dict[str, str] = field(default_factory=dict)
    """Member name -> the error message it answered with."""
    keys: dict[str, int] = field(default_factory=dict)
    """Base64 key -> how many members hold it (list-keys only)."""
    num_nodes: int = 0
    num_resp: int = 0
    num_err: int = 0
    failure: str | None = None
    """Why no query was sent at all (serf's Query returned an error)."""

    @property
    def error(self) -> str | None:
        """serf handleKeyRequest's verdict: failures first, then missing answers."""
        if self.failure is not None:
            return self.failure
        if self.num_err:
            return f"{self.num_err}/{self.num_nodes} nodes reported failure"
        if self.num_resp != self.num_nodes:
            return f"{self.num_resp}/{self.num_nodes} nodes reported success"
        return None


def encode_key_request(key: bytes | None) -> bytes:
    """serf keyRequest as a query payload: type 7 + msgpack `{"Key": raw}`."""
    return _REQUEST + pack({"Key": key})


def decode_key_request(payload: bytes) -> bytes | None:
    """Raises DecodeError unless `payload` is a keyRequest."""
    if not payload or payload[0] != SerfMessageType.KEY_REQUEST:
        raise DecodeError("not a key request")
    return optional_raw(as_map(unpack_first(payload[1:])).get("Key"))


def encode_key_response(resp: NodeKeyResponse) -> bytes:
    """serf sendKeyResponse: type 8 + msgpack nodeKeyResponse (Keys nil when empty)."""
    body = {"Result": resp.result, "Message": resp.message, "Keys": list(resp.keys) or None}
    return _RESPONSE + pack(body)


def decode_key_response(payload: bytes) -> NodeKeyResponse:
    """Raises DecodeError unless `payload` is a nodeKeyResponse."""
    if not payload or payload[0] != SerfMessageType.KEY_RESPONSE:
        raise DecodeError("Invalid key query response type")
    body = as_map(unpack_first(payload[1:]))
    keys = body.get("Keys")
    return NodeKeyResponse(
        result=boolean(body.get("Result", False)),
        message=text(body.get("Message", "")),
        keys=tuple(text(k) for k in (array(keys) if keys is not None else ())),
    )


def encode_key(key: bytes) -> str:
    """Keys travel and are shown in standard base64, as serf and Nomad print them."""
    return base64.b64encode(key).decode()


class KeyQueries:
    """Answers the four key queries for one member, and asks them for its owner."""

    def __init__(
        self,
        queries: Queries,
        keyring: Callable[[], Keyring | None],
        on_change: Callable[[], None],
    ) -> None:
        self.queries = queries
        self.keyring = keyring
        self.on_change = on_change
        """Called after our keyring changed (the agent persists it, as serf's keyring file)."""
        for op in KeyOp:
            queries.handlers[op.query_name] = self._handler(op)

    def _handler(self, op: KeyOp) -> Callable[[float, Query], bytes | None]:
        def handle(now: float, query: Query) -> bytes | None:
            return encode_key_response(self.answer(op, query.payload))

        return handle

    def answer(self, op: KeyOp, payload: bytes) -> NodeKeyResponse:
        """One member's handling of a key query, worded as serf's handlers."""
        keyring = self.keyring()
        if op is KeyOp.LIST:
            if keyring is None:
                return NodeKeyResponse(False, "Keyring is empty (encryption not enabled)")
            return NodeKeyResponse(True, "", tuple(encode_key(k) for k in keyring.keys))
        try:
            key = decode_key_request(payload) or b""
        except DecodeError:
            return NodeKeyResponse(False, "")  # serf: "Failed to decode key request"
        if keyring is None:
            return NodeKeyResponse(False, "No keyring to modify (encryption not enabled)")
        try:
            match op:
                case KeyOp.INSTALL:
                    keyring.add(key)
                case KeyOp.USE:
                    keyring.use(key)
                case KeyOp.REMOVE:
                    keyring.remove(key)
        except KeyringError as exc:
            return NodeKeyResponse(False, str(exc))
        self.on_change()
        return NodeKeyResponse(True)

    def ask(
        self,
        now: float,
        op: KeyOp,
        key: bytes | None,
        *,
        num_nodes: int,
        timeout: float,
        on_done: Callable[[float, KeyResponse], None],
    ) -> bool:
        """serf KeyManager: query every member, then `on_done` with the tally once all
        `num_nodes` answered or at `timeout`. False when the query could not be sent."""

        def done(at: float, pending: PendingQuery) -> None:
            on_done(at, tally(pending.responses, num_nodes))

        payload = encode_key_request(None if op is KeyOp.LIST else key)
        started = self.queries.start(
            now, op.query_name, payload, timeout=timeout, on_done=done, expected=num_nodes
        )
        return started is not None


def tally(responses: dict[str, bytes], num_nodes: int) -> KeyResponse:
    """serf streamKeyResp: count answers, failures and the members holding each key."""
    messages: dict[str, str] = {}
    keys: dict[str, int] = {}
    failures = 0
    for node, payload in responses.items():
        try:
            answer = decode_key_response(payload)
        except DecodeError:
            messages[node] = "Failed to decode key query response"
            failures += 1
            continue
        if not answer.result:
            messages[node] = answer.message
            failures += 1
        for key in answer.keys:
            keys[key] = keys.get(key, 0) + 1
    return KeyResponse(messages, keys, num_nodes, len(responses), failures)
