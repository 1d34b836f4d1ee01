"""The simulated network: latency, loss, duplication, partitions, route hook, streams."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

import pytest

from agent.sim import NetworkConditions, Scheduler, SimDatagram, SimNetwork
from agent.sim.network import StreamExchange
from gossip.outputs import StreamRequest
from gossip.types import Address

A = Address("127.1.0.1", 7946)
B = Address("127.1.0.2", 7946)
C = Address("127.1.0.3", 7946)
FIXED = NetworkConditions(latency_min=0.001, latency_mean=0.0)


class Listener:
    """A bare Receiver: records datagrams and results, answers streams with a canned reply."""

    def __init__(self, net: SimNetwork, sched: Scheduler, addr: Address) -> None:
        self.net, self.sched, self.addr = net, sched, addr
        self.running = True
        self.datagrams: list[tuple[float, Address, bytes]] = []
        self.streams: list[tuple[float, Address, bytes]] = []
        self.results: list[tuple[float, int, bytes | None, str | None]] = []
        self.reply: bytes | None = b"pong"
        net.bind(addr, self)

    def receive_datagram(self, src: Address, data: bytes) -> None:
        self.datagrams.append((self.sched.now, src, data))

    def receive_stream(self, exchange: StreamExchange) -> None:
        self.streams.append((self.sched.now, exchange.src, exchange.request.data))
        self.net.reply_stream(exchange, self.reply)

    def receive_stream_result(self, token: int, reply: bytes | None, error: str | None) -> None:
        self.results.append((self.sched.now, token, reply, error))


def make_net(
    conditions: NetworkConditions = FIXED, seed: int = 1
) -> tuple[Scheduler, SimNetwork, Listener, Listener, Listener]:
    sched = Scheduler()
    net = SimNetwork(sched, random.Random(seed), conditions)
    return sched, net, Listener(net, sched, A), Listener(net, sched, B), Listener(net, sched, C)


def test_fixed_latency_delivers_at_send_time_plus_latency() -> None:
    sched, net, _, b, _ = make_net()
    sched.run_until(1.0)
    net.send_datagram(A, B, b"hi")
    sched.run_until(2.0)
    assert b.datagrams == [(pytest.approx(1.001), A, b"hi")]


def test_latency_is_min_plus_exponential() -> None:
    sched, net, _, b, _ = make_net(NetworkConditions(latency_min=0.01, latency_mean=0.005))
    for _ in range(2000):
        net.send_datagram(A, B, b"x")
    sched.run_until(10.0)
    delays = [at for at, _, _ in b.datagrams]
    assert len(delays) == 2000
    assert min(delays) >= 0.01
    assert statistics.mean(delays) == pytest.approx(0.015, rel=0.1)


def test_default_conditions_are_loopback_like() -> None:
    c = NetworkConditions()
    assert c.latency_min == pytest.approx(0.0002) and c.latency_mean == pytest.approx(0.0001)
    assert c.loss == 0.0 and c.duplicate == 0.0
    assert NetworkConditions.lan().latency_min >= c.latency_min
    assert NetworkConditions.wan().latency_min > NetworkConditions.lan().latency_min


@pytest.mark.parametrize("field", ["loss", "duplicate", "reorder", "stream_stall"])
def test_probabilities_are_validated(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        NetworkConditions(**{field: 1.5})


def test_loss_drops_about_that_fraction() -> None:
    sched, net, _, b, _ = make_net(NetworkConditions(loss=0.3))
    for _ in range(3000):
        net.send_datagram(A, B, b"x")
    sched.run_until(1.0)
    assert len(b.datagrams) == pytest.approx(2100, abs=120)
    assert net.datagrams_dropped == 3000 - len(b.datagrams)


def test_total_loss_and_duplication() -> None:
    sched, net, _, b, _ = make_net(NetworkConditions(loss=1.0))
    net.send_datagram(A, B, b"x")
    sched.run_until(1.0)
    assert b.datagrams == []
    sched, net, _, b, _ = make_net(NetworkConditions(duplicate=1.0))
    net.send_datagram(A, B, b"x")
    sched.run_until(1.0)
    assert [d for _, _, d in b.datagrams] == [b"x", b"x"]


def test_reorder_lets_later_packets_overtake() -> None:
    cond = NetworkConditions(latency_min=0.001, latency_mean=0.0, reorder=0.5, reorder_delay=0.01)
    sched, net, _, b, _ = make_net(cond)
    for i in range(200):
        net.send_datagram(A, B, bytes([i]))
    sched.run_until(1.0)
    order = [d[0] for _, _, d in b.datagrams]
    assert sorted(order) == list(range(200)) and order != list(range(200))


def test_unbound_destination_drops_silently() -> None:
    sched, net, _, b, _ = make_net()
    net.unbind(B)
    net.send_datagram(A, B, b"x")
    sched.run_until(1.0)
    assert b.datagrams == [] and net.datagrams_dropped == 1


def test_symmetric_partition_and_nodes_outside_groups() -> None:
    sched, net, a, b, c = make_net()
    net.partition([[A], [B]])
    for src, dst in [(A, B), (B, A), (A, C), (C, A), (B, C), (C, B)]:
        net.send_datagram(src, dst, str(src.host).encode())
    sched.run_until(1.0)
    assert [d for _, _, d in a.datagrams] == [b"127.1.0.3"]
    assert [d for _, _, d in b.datagrams] == [b"127.1.0.3"]
    assert sorted(d for _, _, d in c.datagrams) == [b"127.1.0.1", b"127.1.0.2"]
    net.heal()
    net.send_datagram(A, B, b"healed")
    sched.run_until(2.0)
    assert b.datagrams[-1][2] == b"healed"


def test_asymmetric_partition_blocks_only_forward() -> None:
    sched, net, a, b, _ = make_net()
    net.partition([[A], [B]], symmetric=False)
    net.send_datagram(A, B, b"a->b")
    net.send_datagram(B, A, b"b->a")
    sched.run_until(1.0)
    assert b.datagrams == [] and [d for _, _, d in a.datagrams] == [b"b->a"]


def test_one_way_block() -> None:
    sched, net, a, b, _ = make_net()
    net.block(B, A)
    net.send_datagram(A, B, b"a->b")
    net.send_datagram(B, A, b"b->a")
    sched.run_until(1.0)
    assert a.datagrams == [] and len(b.datagrams) == 1
    assert net.blocked(B, A) and not net.blocked(A, B)


def test_partition_rejects_an_address_in_two_groups() -> None:
    _, net, *_ = make_net()
    with pytest.raises(ValueError, match="two partition groups"):
        net.partition([[A, B], [B]])


def test_per_link_override() -> None:
    sched, net, a, b, _ = make_net()
    net.set_link(A, B, NetworkConditions(latency_min=0.5, latency_mean=0.0))
    net.send_datagram(A, B, b"slow")
    net.send_datagram(B, A, b"fast")
    sched.run_until(1.0)
    assert b.datagrams[0][0] == pytest.approx(0.5)
    assert a.datagrams[0][0] == pytest.approx(0.001)
    net.set_link(A, B, None)
    net.send_datagram(A, B, b"normal")
    sched.run_until(2.0)
    assert b.datagrams[1][0] == pytest.approx(1.001)


def test_route_hook_decides_per_packet() -> None:
    seen: list[SimDatagram] = []

    def route(packet: SimDatagram) -> Sequence[float] | None:
        seen.append(packet)
        return {b"drop": (), b"dup": (0.0, 0.0), b"late": (0.5,)}.get(packet.data)

    sched, net, _, b, _ = make_net(
        NetworkConditions(latency_min=0.001, latency_mean=0.0, route=route)
    )
    for data in (b"drop", b"dup", b"late", b"normal"):
        net.send_datagram(A, B, data)
    sched.run_until(1.0)
    got = [(round(at, 6), d) for at, _, d in b.datagrams]
    assert got == [(0.001, b"dup"), (0.001, b"dup"), (0.001, b"normal"), (0.501, b"late")]
    assert seen[0] == SimDatagram(A, B, b"drop", 0.0)
    with pytest.raises(AttributeError):
        seen[0].data = b"mutated"  # type: ignore[misc]


def test_network_rng_only_drives_fates() -> None:
    """Same network seed, same fates; a different seed gives different delays."""

    def delays(seed: int) -> list[float]:
        sched, net, _, b, _ = make_net(NetworkConditions(), seed=seed)
        for _ in range(20):
            net.send_datagram(A, B, b"x")
        sched.run_until(1.0)
        return [at for at, _, _ in b.datagrams]

    assert delays(5) == delays(5)
    assert delays(5) != delays(6)


# -- streams ------------------------------------------------------------------------------


def request(token: int = 1, dst: Address = B, timeout: float = 2.0, **kw: bool) -> StreamRequest:
    return StreamRequest(token, dst, b"ping", timeout, **kw)


def test_stream_round_trip_takes_two_latencies() -> None:
    sched, net, a, b, _ = make_net()
    net.open_stream(a, A, request())
    sched.run_until(5.0)
    assert len(b.streams) == 1
    at, src, data = b.streams[0]
    assert at == pytest.approx(0.001) and data == b"ping"
    assert src.host == A.host and src.port != A.port  # an ephemeral port, as RemoteAddr shows
    assert a.results == [(pytest.approx(0.002), 1, b"pong", None)]


def test_stream_to_unbound_address_is_refused_promptly() -> None:
    sched, net, a, _, _ = make_net()
    net.unbind(B)
    net.open_stream(a, A, request(timeout=10.0))
    sched.run_until(20.0)
    (at, _, reply, error) = a.results[0]
    assert len(a.results) == 1 and at < 0.01 and reply is None
    assert error == "dial tcp 127.1.0.2:7946: connect: connection refused"


def test_partitioned_stream_times_out_at_its_deadline() -> None:
    sched, net, a, b, _ = make_net()
    net.partition([[A], [B]], symmetric=False)  # even one direction cut stops a TCP dial
    net.open_stream(a, A, request(timeout=3.0))
    sched.run_until(20.0)
    assert b.streams == []
    assert a.results == [(3.0, 1, None, "dial tcp 127.1.0.2:7946: i/o timeout")]


def test_cut_reply_leg_is_a_read_timeout() -> None:
    sched, net, a, b, _ = make_net()

    def cut_then_reply(exchange: StreamExchange) -> None:
        net.block(B, A)
        net.reply_stream(exchange, b"lost")

    b.receive_stream = cut_then_reply  # type: ignore[method-assign]
    net.open_stream(a, A, request(timeout=3.0))
    sched.run_until(20.0)
    (at, _, reply, error) = a.results[0]
    assert at == 3.0 and reply is None
    assert error is not None and error.startswith("read tcp 127.1.0.1:") and "i/o timeout" in error


def test_stream_without_reply_and_write_only_streams() -> None:
    sched, net, a, b, _ = make_net()
    b.reply = None
    net.open_stream(a, A, request(token=1))
    net.open_stream(a, A, request(token=2, expect_reply=False))
    sched.run_until(5.0)
    assert sorted(r[1:] for r in a.results) == [(1, None, "EOF"), (2, None, None)]


def test_stall_makes_streams_time_out() -> None:
    sched, net, a, _, _ = make_net(NetworkConditions(stream_stall=1.0))
    net.open_stream(a, A, request(timeout=1.5))
    sched.run_until(5.0)
    assert a.results == [(1.5, 1, None, "dial tcp 127.1.0.2:7946: i/o timeout")]


def test_result_for_a_stopped_opener_is_discarded() -> None:
    sched, net, a, b, _ = make_net()
    net.open_stream(a, A, request())
    a.running = False
    sched.run_until(5.0)
    assert len(b.streams) == 1 and a.results == []
