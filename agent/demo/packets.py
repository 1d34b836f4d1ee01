"""Packets in flight: a tap on the simulated network's sends, for the page to draw.

Only small clusters are tapped (the page draws packets up to 10 nodes), so the tap costs
nothing at scale. Each send is labelled from its first bytes: memberlist's message type for
the gossip port (ping, ack, ping-req, suspect, ...), the RPC frame's method for the RPC port
(raft calls, client heartbeats), and a dial for stream exchanges (push-pull). Whether the
network dropped it (partition, loss) is read from its counters around the send.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agent.rpc.wire import RpcDecodeError, decode_frame
from agent.sim.network import SimNetwork
from agent.sim.scheduler import Scheduler
from gossip import Address, StreamRequest

PACKETS_KEPT = 300

# memberlist's messageType values (net.go), as they lead a datagram; `gossip` does not export
# its MessageType, and only the labels are needed here.
_GOSSIP_KINDS: Mapping[int, str] = MappingProxyType(
    {
        0: "ping",
        1: "ping-req",
        2: "ack",
        3: "suspect",
        4: "alive",
        5: "dead",
        6: "push-pull",
        7: "gossip",
        8: "serf",
        9: "compressed",
        11: "nack",
    }
)
_HAS_CRC = 12
_CRC_BYTES = 4


@dataclass(frozen=True, slots=True)
class Packet:
    seq: int
    src: str
    dst: str
    kind: str
    at: float
    dropped: bool

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "src": self.src,
            "dst": self.dst,
            "kind": self.kind,
            "at": round(self.at, 4),
            "dropped": self.dropped,
        }


def label(data: bytes, rpc: bool) -> str:
    """A short name for a datagram's content; `rpc`: it goes to an RPC port."""
    if not data:
        return "empty"
    if rpc:
        try:
            frame = decode_frame(data)
        except (RpcDecodeError, ValueError, TypeError):
            return "rpc"
        return "raft" if frame.kind.value == "Raft" else frame.kind.value
    first = data[0]
    if first == _HAS_CRC and len(data) > _CRC_BYTES + 1:
        first = data[_CRC_BYTES + 1]
    return _GOSSIP_KINDS.get(first, "gossip")


class PacketTap:
    """Wraps one network's `send_datagram` and `open_stream` while `enabled`."""

    def __init__(self, network: SimNetwork, scheduler: Scheduler) -> None:
        self.enabled = False
        self.names: dict[Address, str] = {}
        self.rpc_addrs: frozenset[Address] = frozenset()
        """Addresses of RPC ports: their datagrams are RPC frames, not memberlist messages."""
        self.packets: deque[Packet] = deque(maxlen=PACKETS_KEPT)
        self._seq = 0
        self._network = network
        self._scheduler = scheduler
        send = network.send_datagram
        dial = network.open_stream

        def send_datagram(src: Address, dst: Address, data: bytes) -> None:
            if not self.enabled:
                send(src, dst, data)
                return
            dropped = network.datagrams_dropped
            send(src, dst, data)
            self._record(
                src, dst, label(data, dst in self.rpc_addrs), network.datagrams_dropped > dropped
            )

        def open_stream(opener: Any, src: Address, request: StreamRequest) -> None:
            dial(opener, src, request)
            if self.enabled:
                cut = network.blocked(src, request.dst) or network.blocked(request.dst, src)
                self._record(src, request.dst, "push-pull", cut)

        network.send_datagram = send_datagram  # type: ignore[method-assign]
        network.open_stream = open_stream  # type: ignore[method-assign]

    @property
    def last_seq(self) -> int:
        return self._seq

    def _record(self, src: Address, dst: Address, kind: str, dropped: bool) -> None:
        src_name = self.names.get(src)
        dst_name = self.names.get(dst)
        if src_name is None or dst_name is None:
            return
        self._seq += 1
        self.packets.append(
            Packet(self._seq, src_name, dst_name, kind, self._scheduler.now, dropped)
        )

    def since(self, seq: int) -> list[Packet]:
        if seq >= self._seq:
            return []
        return [p for p in self.packets if p.seq > seq]
