"""A scripted stand-in for a protocol core, for testing drivers (asyncio, simulator).

It has the `Endpoint` shape, records every input as a `(kind, now, ...)` tuple, emits exactly
what a test queues, and answers streams with `reply`. Driver tests use it to check their side
of the contract (inputs stamped with `now`, outputs flushed, one timer per core) without
depending on what a real core would do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from gossip.events import GossipEvent
from gossip.outputs import Datagram, StreamRequest
from gossip.types import Address


class RecorderCore:
    """Records inputs; outputs are whatever the test queues in `outbox`, `stream_out`,
    `event_out` and `deadline` (cleared once a timer at or after it has been handled)."""

    def __init__(self, name: str = "rec") -> None:
        self._name = name
        self.inputs: list[tuple[Any, ...]] = []
        self.outbox: list[Datagram] = []
        self.stream_out: list[StreamRequest] = []
        self.event_out: deque[GossipEvent] = deque()
        self.deadline: float | None = None
        self.reply: Callable[[bytes], bytes | None] = lambda data: b"re:" + data

    @property
    def name(self) -> str:
        return self._name

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        self.inputs.append(("datagram", now, src, data))

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        self.inputs.append(("stream", now, src, data))
        return self.reply(data)

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        self.inputs.append(("result", now, token, reply, error))

    def handle_timer(self, now: float) -> None:
        self.inputs.append(("timer", now))
        if self.deadline is not None and self.deadline <= now:
            self.deadline = None

    def next_deadline(self) -> float | None:
        return self.deadline

    def datagrams_to_send(self) -> list[Datagram]:
        out, self.outbox = self.outbox, []
        return out

    def streams_to_open(self) -> list[StreamRequest]:
        out, self.stream_out = self.stream_out, []
        return out

    def next_event(self) -> GossipEvent | None:
        return self.event_out.popleft() if self.event_out else None

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        """The recorded inputs of one kind, in order."""
        return [i for i in self.inputs if i[0] == kind]
