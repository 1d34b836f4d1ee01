"""Compression changes no behaviour in the simulated network, so SimCluster leaves it off.

memberlist decides what fits in a datagram before it compresses (net.go: `sendMsg` sizes the
piggyback from the uncompressed message; `rawSendMsgPacket` compresses afterwards), and the
simulated network delivers a datagram whatever its size. So the same seed gives the same run
with LZW on or off, and the simulator skips it by default; real agents keep memberlist's
default (`DefaultLANConfig`: EnableCompression true).
"""

from __future__ import annotations

from agent.sim import NetworkConditions, SimCluster
from agent.sim.network import NetworkTap
from gossip import Address, GossipConfig

COMPRESS = 0x09
"""memberlist's compressMsg type byte."""


class CompressedCount(NetworkTap):
    """Counts datagrams that left as an LZW frame, looking past a CRC wrap if there is one."""

    def __init__(self) -> None:
        self.compressed = 0

    def datagram_sent(self, src: Address, dst: Address, data: bytes, dropped: bool) -> None:
        body = data[5:] if data[:1] == b"\x0c" else data
        self.compressed += body[:1] == bytes((COMPRESS,))

    def stream_opened(self, src: Address, dst: Address, cut: bool) -> None:
        pass


def scenario(compression: bool) -> tuple[SimCluster, CompressedCount]:
    c = SimCluster(seed=42, network=NetworkConditions(loss=0.03), enable_compression=compression)
    tap = CompressedCount()
    c.network.taps.append(tap)
    for i in range(1, 9):
        c.add_node(f"n{i}", {"role": "test", "dc": "dc1"})
    for i in range(2, 9):
        c.join(f"n{i}", ["n1"])
    c.run(10.0)
    c.kill("n3")
    c.run(20.0)
    c.leave("n4")
    c.run(5.0)
    c.force_leave("n1", "n3")
    c.run(10.0)
    c.join("n2", ["n5"])
    c.run(5.0)
    return c, tap


def test_the_same_seed_gives_the_same_events_with_and_without_compression() -> None:
    plain, plain_tap = scenario(False)
    packed, packed_tap = scenario(True)
    assert packed.config.memberlist.enable_compression
    assert packed_tap.compressed > 0 and plain_tap.compressed == 0  # LZW really ran in one
    kinds = {event.kind for event in plain.events}
    assert {"member-join", "member-failed", "member-leave"} <= kinds, plain.describe_failure()
    assert plain.events == packed.events
    assert plain.trace == packed.trace
    assert plain.trace_digest() == packed.trace_digest()


def test_simcluster_leaves_compression_off_by_default_and_real_agents_keep_it() -> None:
    assert not SimCluster(seed=1).config.memberlist.enable_compression
    assert SimCluster(seed=1, enable_compression=True).config.memberlist.enable_compression
    assert GossipConfig.lan().enable_compression  # memberlist DefaultLANConfig
