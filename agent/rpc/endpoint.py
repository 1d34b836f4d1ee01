"""RpcEndpoint: one agent's RPC port, routing frames to its server core and/or client core.

A dev agent runs both halves behind one port (its client registers with its own server
through real frames); a server-only or client-only agent has one. This is the object the
drivers (`agent.runtime.rpc_aio`, `agent.runtime.rpc_sim`) feed, through the `MessageCore`
protocol, and drain through `flush_messages`, in this order: first `before_send`, then frames,
then events, then the one timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from agent.rpc.client_rpc import ClientRpc, MembersAnswered
from agent.rpc.memo import Memo
from agent.rpc.server_rpc import ServerRpc
from agent.rpc.wire import CLIENT_BOUND, Frame, RpcDecodeError, decode_frame
from raft_stub import LeaderChanged

log = logging.getLogger("gossip_agent.rpc")

MEMO_FRAME_BYTES = 256
"""Frames up to this size (raft heartbeats and their answers) are decoded once and
remembered (`agent.rpc.memo`)."""

RpcEvent = LeaderChanged | MembersAnswered


class MessageCore(Protocol):
    """What the RPC drivers feed and drain (the RPC port's twin of `gossip.Endpoint`)."""

    def handle_message(self, now: float, data: bytes) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def messages_to_send(self) -> Sequence[tuple[str, bytes]]: ...

    def next_event(self) -> RpcEvent | None: ...

    def next_deadline(self) -> float | None: ...


class RpcEndpoint:
    """See the module docstring."""

    def __init__(self, server: ServerRpc | None, client: ClientRpc | None) -> None:
        self.server = server
        self.client = client
        self.malformed = 0
        self._decoded: Memo[bytes, Frame] = Memo()

    def handle_message(self, now: float, data: bytes) -> None:
        try:
            if len(data) <= MEMO_FRAME_BYTES:
                frame = self._decoded.get(data, decode_frame)
            else:
                frame = decode_frame(data)
        except RpcDecodeError as exc:
            self.malformed += 1
            log.debug("rpc: dropped a malformed frame: %s", exc)
            return
        target = self.client if frame.kind in CLIENT_BOUND else self.server
        if target is None:
            self.malformed += 1
            return
        target.handle_frame(now, frame)

    def handle_timer(self, now: float) -> None:
        if self.server is not None:
            self.server.handle_timer(now)
        if self.client is not None:
            self.client.handle_timer(now)

    def messages_to_send(self) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        if self.server is not None:
            out += self.server.messages_to_send()
        if self.client is not None:
            out += self.client.messages_to_send()
        return out

    def next_event(self) -> RpcEvent | None:
        event: RpcEvent | None = None
        if self.server is not None:
            event = self.server.next_event()
        if event is None and self.client is not None:
            event = self.client.next_event()
        return event

    def next_deadline(self) -> float | None:
        deadlines = [
            core.next_deadline() for core in (self.server, self.client) if core is not None
        ]
        present = [d for d in deadlines if d is not None]
        return min(present) if present else None


BeforeSend = Callable[[], None]
"""Called before a drain sends anything: the server saves raft's term, vote and log there,
since raft must not answer before its state is durable."""


class MessageSink(Protocol):
    def send(self, dst: str, data: bytes) -> None: ...

    def deliver(self, event: RpcEvent) -> None: ...

    def set_deadline(self, at: float | None) -> None: ...


def flush_messages(core: MessageCore, sink: MessageSink, before_send: BeforeSend | None) -> None:
    """Drain `core` into `sink` in the order the module docstring gives."""
    out = core.messages_to_send()
    if before_send is not None:
        before_send()
    for dst, data in out:
        sink.send(dst, data)
    while (event := core.next_event()) is not None:
        sink.deliver(event)
    sink.set_deadline(core.next_deadline())
