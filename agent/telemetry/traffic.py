"""`CountingEndpoint`: a gossip core as its driver sees it, counting the datagrams it moves.

Packets and bytes are a property of the wire, not of the protocol, so they are counted where
the driver hands datagrams in and takes them out, for any core, without a counter in the
sans-IO cores; the same wrapper counts on real sockets and in the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gossip import Address, Datagram, Endpoint, GossipEvent, StreamRequest


@dataclass(slots=True)
class TrafficCounts:
    """UDP datagrams and their bytes, each way, since the agent started."""

    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0


class CountingEndpoint:
    """Forwards every `Endpoint` call to `core`, counting datagrams in `counts`."""

    def __init__(self, core: Endpoint, counts: TrafficCounts) -> None:
        self.core = core
        self.counts = counts

    @property
    def name(self) -> str:
        return self.core.name

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        self.counts.packets_in += 1
        self.counts.bytes_in += len(data)
        self.core.handle_datagram(now, src, data)

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        return self.core.handle_stream(now, src, data)

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        self.core.handle_stream_result(now, token, reply, error)

    def handle_timer(self, now: float) -> None:
        self.core.handle_timer(now)

    def next_deadline(self) -> float | None:
        return self.core.next_deadline()

    def datagrams_to_send(self) -> Sequence[Datagram]:
        out = self.core.datagrams_to_send()
        self.counts.packets_out += len(out)
        self.counts.bytes_out += sum(len(d.data) for d in out)
        return out

    def streams_to_open(self) -> Sequence[StreamRequest]:
        return self.core.streams_to_open()

    def next_event(self) -> GossipEvent | None:
        return self.core.next_event()
