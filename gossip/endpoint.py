"""The contract between the gossip core and whatever drives it.

The core (`gossip.serf.SerfCore`) never touches a socket or a clock: the driver feeds it
inputs stamped with `now`, then pulls what it wants done. Every driver (the asyncio runtime
`agent.runtime.gossip_aio` and the simulator's `agent.sim.process`) pulls through
`flush_outputs`, so the order of the drain is written down exactly once:

1. datagrams, in the order the core queued them;
2. stream exchanges to open;
3. events, until `next_event()` returns None;
4. the next deadline, which the driver turns into its one timer for this core.

Call `flush_outputs` after every input (h11, aioquic). The sink must not feed the core new
inputs while the flush runs; a driver that reacts to an event does so after the flush returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gossip.events import GossipEvent
from gossip.outputs import Datagram, StreamRequest
from gossip.types import Address


class Endpoint(Protocol):
    """What every sans-IO core offers its driver (commands such as `join` are core-specific)."""

    @property
    def name(self) -> str: ...

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None: ...

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None: ...

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def next_deadline(self) -> float | None: ...

    def datagrams_to_send(self) -> Sequence[Datagram]: ...

    def streams_to_open(self) -> Sequence[StreamRequest]: ...

    def next_event(self) -> GossipEvent | None: ...


class OutputSink(Protocol):
    """Where a driver puts a core's outputs; the simulator schedules, asyncio sends."""

    def send_datagram(self, datagram: Datagram) -> None: ...

    def open_stream(self, request: StreamRequest) -> None: ...

    def deliver_event(self, event: GossipEvent) -> None: ...

    def set_deadline(self, at: float | None) -> None: ...


def flush_outputs(core: Endpoint, sink: OutputSink) -> None:
    """Drain every output of `core` into `sink`, in the order the module docstring gives."""
    for datagram in core.datagrams_to_send():
        sink.send_datagram(datagram)
    for request in core.streams_to_open():
        sink.open_stream(request)
    while (event := core.next_event()) is not None:
        sink.deliver_event(event)
    sink.set_deadline(core.next_deadline())
