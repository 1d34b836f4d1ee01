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

from agent.rpc.wire import RpcDecodeError, decode_frame
from agent.sim.network import SimNetwork
from agent.sim.scheduler import Scheduler
from gossip import Address

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
    """Records what one network sends while `enabled`: a `NetworkTap` on it."""

    def __init__(self, network: SimNetwork, scheduler: Scheduler) -> None:
        self.enabled = False
        self.names: dict[Address, str] = {}
        self.rpc_addrs: frozenset[Address] = frozenset()
        """Addresses of RPC ports: their datagrams are RPC frames, not memberlist messages."""
        self.packets: deque[Packet] = deque(maxlen=PACKETS_KEPT)
        self._seq = 0
        self._network = network
        self._scheduler = scheduler
        network.taps.append(self)

    def datagram_sent(self, src: Address, dst: Address, data: bytes, dropped: bool) -> None:
        if self.enabled:
            self._record(src, dst, label(data, dst in self.rpc_addrs), dropped)

    def stream_opened(self, src: Address, dst: Address, cut: bool) -> None:
        if self.enabled:
            self._record(src, dst, "push-pull", cut)

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
