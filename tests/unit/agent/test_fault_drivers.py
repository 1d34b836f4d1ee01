"""Injected faults in the asyncio drivers, on real loopback sockets with scripted cores.

Each test proves a loss or a hold-back by order, never by waiting and seeing nothing: a
dropped message is followed by a marker sent after the fault is lifted, and the marker must
be the only thing that arrives; a delayed one must arrive after a marker sent later. Waits
poll against a generous deadline.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import AsyncIterator, Callable

import pytest

from agent.rpc.wire import FrameKind, decode_frame, encode_frame
from agent.runtime.delay_line import DelayLine
from agent.runtime.faults import Direction, Fault, FaultKind, FaultTable, Peer
from agent.runtime.gossip_aio import AioRuntime
from agent.runtime.rpc_aio import AioRpcRuntime
from gossip.codec import encode_stream
from gossip.messages import AckResp, Ping
from gossip.outputs import Datagram, StreamRequest
from tests.helpers.recorder import RecorderCore
from tests.unit.agent.test_aio_rpc import ScriptedCore

pytestmark = pytest.mark.anyio

A_IP, B_IP, C_IP = "127.0.0.76", "127.0.0.77", "127.0.0.78"
DEADLINE = 20.0
HOLD_MS = 300.0
PING = encode_stream(Ping(seq_no=7, node="b"), compress=False)
ACK = encode_stream(AckResp(seq_no=7), compress=False)


async def until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def drop(peer: str, direction: Direction = Direction.BOTH, rate: float = 1.0) -> Fault:
    return Fault(FaultKind.DROP, Peer.parse(peer), direction, rate=rate)


def delay(peer: str, direction: Direction = Direction.BOTH, ms: float = HOLD_MS) -> Fault:
    return Fault(FaultKind.DELAY, Peer.parse(peer), direction, delay_ms=ms)


class Serf:
    """One gossip runtime, its recording core and its fault table."""

    def __init__(self, runtime: AioRuntime) -> None:
        self.runtime = runtime
        self.core = RecorderCore(str(runtime.addr))
        self.core.reply = lambda data: ACK
        self.faults = FaultTable(random.Random(7))
        runtime.set_faults(self.faults)
        runtime.attach(self.core, lambda event: None)

    @property
    def addr(self) -> str:
        return str(self.runtime.addr)

    def send(self, dst: Serf, data: bytes) -> None:
        self.core.outbox.append(Datagram(dst.runtime.addr, data))
        self.runtime.flush()

    def open_stream(self, dst: Serf, token: int, timeout: float = 1.0) -> None:
        self.core.stream_out.append(StreamRequest(token, dst.runtime.addr, PING, timeout=timeout))
        self.runtime.flush()

    def received(self) -> list[bytes]:
        return [i[3] for i in self.core.of("datagram")]

    def results(self) -> dict[int, tuple[bytes | None, str | None]]:
        return {i[2]: (i[3], i[4]) for i in self.core.of("result")}


@pytest.fixture
async def serf() -> AsyncIterator[tuple[Serf, Serf]]:
    a, b = Serf(await AioRuntime.open(A_IP, 0)), Serf(await AioRuntime.open(B_IP, 0))
    yield a, b
    await a.runtime.close()
    await b.runtime.close()


# ---- the table ---------------------------------------------------------------------------


def test_peer_matching_by_ip_or_ip_port() -> None:
    assert Peer.parse("127.0.0.1").matches("127.0.0.1", 4648)
    assert Peer.parse("127.0.0.1:4648").matches("127.0.0.1", 4648)
    assert not Peer.parse("127.0.0.1:4648").matches("127.0.0.1", 4647)
    assert Peer.parse("127.0.0.1:4648").matches("127.0.0.1", None)  # an ephemeral source
    assert not Peer.parse("127.0.0.1").matches("127.0.0.2", 4648)
    assert Peer.parse("[0::1]:80") == Peer("::1", 80)


def test_table_rates_directions_and_the_empty_check() -> None:
    table = FaultTable(random.Random(3))
    assert not table.active
    table.add(drop("10.0.0.1", Direction.IN, rate=0.25))
    table.add(delay("10.0.0.1", Direction.OUT, ms=50))
    table.add(delay("10.0.0.1:80", Direction.OUT, ms=70))
    assert table.active
    assert not table.drops(Direction.OUT, "10.0.0.1", 80)
    lost = sum(table.drops(Direction.IN, "10.0.0.1", 80) for _ in range(4000))
    assert 800 < lost < 1200
    assert table.delay(Direction.OUT, "10.0.0.1", 80) == pytest.approx(0.07)
    assert table.delay(Direction.OUT, "10.0.0.1", 81) == pytest.approx(0.05)
    assert table.delay(Direction.IN, "10.0.0.1", 80) == 0.0
    assert table.clear(Peer.parse("10.0.0.1")) == 2
    assert table.active
    assert table.clear() == 1
    assert not table.active


async def test_delay_line_keeps_order_whatever_the_due_times() -> None:
    loop = asyncio.get_running_loop()
    line, seen = DelayLine(loop), list[int]()
    now = loop.time()
    for i, due in enumerate([0.2, 0.05, 0.1, 0.0]):
        line.push(now + due, functools.partial(seen.append, i))
    await until(lambda: len(seen) == 4, "the held callbacks")
    assert seen == [0, 1, 2, 3]
    assert loop.time() - now >= 0.2


# ---- serf datagrams ------------------------------------------------------------------------


async def test_dropped_outbound_datagram_never_arrives(serf: tuple[Serf, Serf]) -> None:
    a, b = serf
    a.faults.add(drop(b.addr, Direction.OUT))
    a.send(b, b"lost")
    b.send(a, b"inbound is not dropped")
    await until(lambda: a.received(), "b's datagram")
    a.faults.clear()
    a.send(b, b"marker")
    await until(lambda: b.received(), "the marker")
    assert b.received() == [b"marker"]
    assert a.received() == [b"inbound is not dropped"]


async def test_dropped_inbound_datagram_is_not_handed_to_the_core(
    serf: tuple[Serf, Serf],
) -> None:
    a, b = serf
    b.faults.add(drop(A_IP, Direction.IN))
    a.send(b, b"lost")
    b.send(a, b"outbound is not dropped")
    await until(lambda: a.received(), "b's datagram")
    b.faults.clear(Peer.parse(A_IP))
    a.send(b, b"marker")
    await until(lambda: b.received(), "the marker")
    assert b.received() == [b"marker"]


async def test_a_fault_on_another_port_leaves_the_datagram_alone(serf: tuple[Serf, Serf]) -> None:
    a, b = serf
    a.faults.add(drop(f"{B_IP}:{b.runtime.addr.port + 1}"))
    a.send(b, b"kept")
    await until(lambda: b.received(), "the datagram")
    assert b.received() == [b"kept"]


async def test_partial_drop_rate_loses_some(serf: tuple[Serf, Serf]) -> None:
    a, b = serf
    a.faults.add(drop(b.addr, Direction.OUT, rate=0.5))
    for i in range(200):
        a.send(b, b"n%d" % i)
    a.faults.clear()
    a.send(b, b"marker")
    await until(lambda: b"marker" in b.received(), "the marker")
    kept = b.received()[:-1]
    assert 50 < len(kept) < 150
    assert b.received()[-1] == b"marker"


async def test_delayed_outbound_datagram_arrives_after_a_later_one(
    serf: tuple[Serf, Serf],
) -> None:
    a, b = serf
    a.faults.add(delay(b.addr, Direction.OUT))
    start = time.monotonic()
    a.send(b, b"slow")
    a.faults.clear()
    a.send(b, b"fast")
    await until(lambda: len(b.received()) == 2, "both datagrams")
    assert b.received() == [b"fast", b"slow"]
    assert time.monotonic() - start >= HOLD_MS / 1000 * 0.9


async def test_delayed_inbound_datagram_reaches_the_core_after_a_later_one(
    serf: tuple[Serf, Serf],
) -> None:
    a, b = serf
    c = Serf(await AioRuntime.open(C_IP, 0))
    try:
        b.faults.add(delay(A_IP, Direction.IN))
        start = time.monotonic()
        a.send(b, b"slow")
        a.send(c, b"probe")  # once c has it, b has read its copy too
        await until(lambda: c.received(), "the probe")
        c.send(b, b"from c, later")
        await until(lambda: len(b.received()) == 2, "both datagrams")
        assert b.received() == [b"from c, later", b"slow"]
        assert time.monotonic() - start >= HOLD_MS / 1000 * 0.9
    finally:
        await c.runtime.close()


# ---- serf streams --------------------------------------------------------------------------


async def test_dropped_outbound_stream_times_out_and_never_arrives(
    serf: tuple[Serf, Serf],
) -> None:
    a, b = serf
    a.faults.add(drop(B_IP, Direction.OUT))
    a.open_stream(b, 1, timeout=0.3)
    await until(lambda: 1 in a.results(), "the lost stream's result")
    assert a.results()[1] == (None, f"dial tcp {b.addr}: i/o timeout")
    a.faults.clear()
    a.open_stream(b, 2)
    await until(lambda: 2 in a.results(), "the marker stream")
    assert a.results()[2] == (ACK, None)
    assert len(b.core.of("stream")) == 1


async def test_lost_reply_to_an_outbound_stream_is_a_read_timeout(
    serf: tuple[Serf, Serf],
) -> None:
    a, b = serf
    a.faults.add(drop(B_IP, Direction.IN))
    a.open_stream(b, 1, timeout=0.5)
    await until(lambda: 1 in a.results(), "the stream's result")
    reply, error = a.results()[1]
    assert reply is None
    assert error is not None and error.startswith("read tcp ") and error.endswith("i/o timeout")
    assert len(b.core.of("stream")) == 1  # the request did arrive


async def test_dropped_inbound_stream_is_never_answered(serf: tuple[Serf, Serf]) -> None:
    a, b = serf
    b.faults.add(drop(A_IP, Direction.IN))
    a.open_stream(b, 1, timeout=0.5)
    await until(lambda: 1 in a.results(), "the stream's result")
    assert a.results()[1][0] is None
    assert "i/o timeout" in str(a.results()[1][1])
    b.faults.clear()
    a.open_stream(b, 2)
    await until(lambda: 2 in a.results(), "the marker stream")
    assert len(b.core.of("stream")) == 1


async def test_lost_reply_of_an_inbound_stream(serf: tuple[Serf, Serf]) -> None:
    a, b = serf
    b.faults.add(drop(A_IP, Direction.OUT))
    a.open_stream(b, 1, timeout=0.5)
    await until(lambda: 1 in a.results(), "the stream's result")
    assert a.results()[1][0] is None and "i/o timeout" in str(a.results()[1][1])
    assert len(b.core.of("stream")) == 1


async def test_delayed_stream_answers_late_or_times_out(serf: tuple[Serf, Serf]) -> None:
    a, b = serf
    a.faults.add(delay(B_IP, Direction.OUT))
    a.open_stream(b, 1, timeout=5.0)
    a.faults.clear()
    a.open_stream(b, 2, timeout=5.0)  # no fault: overtakes the held one
    await until(lambda: len(a.results()) == 2, "both streams")
    assert [i[2] for i in a.core.of("result")] == [2, 1]
    assert a.results()[1] == (ACK, None)
    a.faults.add(delay(B_IP, Direction.IN, ms=1000))
    a.open_stream(b, 3, timeout=0.3)  # the reply is held past the timeout
    await until(lambda: 3 in a.results(), "the third stream")
    assert a.results()[3][0] is None and "i/o timeout" in str(a.results()[3][1])


# ---- RPC frames ------------------------------------------------------------------------------


class Rpc:
    def __init__(self, runtime: AioRpcRuntime) -> None:
        self.runtime = runtime
        self.core = ScriptedCore()
        self.faults = FaultTable(random.Random(7))
        runtime.set_faults(self.faults)
        runtime.attach(self.core, lambda event: None)

    def send(self, dst: Rpc, body: str) -> None:
        frame = encode_frame(self.runtime.addr, FrameKind.RAFT, body.encode())
        self.core.outbox.append((dst.runtime.addr, frame))
        self.runtime.flush()

    def received(self) -> list[str]:
        return [bytes(decode_frame(f).body).decode() for f in self.core.received]


@pytest.fixture
async def rpc() -> AsyncIterator[tuple[Rpc, Rpc, Rpc]]:
    runtimes = [Rpc(await AioRpcRuntime.open(ip, 0)) for ip in (A_IP, B_IP, C_IP)]
    yield runtimes[0], runtimes[1], runtimes[2]
    for r in runtimes:
        await r.runtime.close()


async def test_dropped_outbound_frame(rpc: tuple[Rpc, Rpc, Rpc]) -> None:
    a, b, _ = rpc
    a.faults.add(drop(b.runtime.addr, Direction.OUT))
    a.send(b, "lost")
    a.faults.clear()
    a.send(b, "marker")
    await until(lambda: b.received(), "the marker")
    assert b.received() == ["marker"]


async def test_dropped_inbound_frame_is_matched_on_its_sender_listener(
    rpc: tuple[Rpc, Rpc, Rpc],
) -> None:
    a, b, c = rpc
    # The connection comes from an ephemeral port; the frame names a's RPC listener.
    b.faults.add(drop(a.runtime.addr, Direction.IN))
    a.send(b, "lost")
    c.send(b, "from c")
    await until(lambda: b.received(), "c's frame")
    b.faults.clear()
    port = int(a.runtime.addr.rpartition(":")[2])
    b.faults.add(drop(f"{A_IP}:{port + 1}", Direction.IN))  # a's IP, another listener
    a.send(b, "marker")
    await until(lambda: len(b.received()) == 2, "the marker")
    assert b.received() == ["from c", "marker"]


async def test_delayed_outbound_frames_keep_their_order(rpc: tuple[Rpc, Rpc, Rpc]) -> None:
    a, b, c = rpc
    a.faults.add(delay(B_IP, Direction.OUT, ms=2000))
    start = time.monotonic()
    for i in range(5):
        a.send(b, f"held {i}")
    a.faults.clear()
    a.send(b, "after the clear")  # queues behind the held frames: TCP keeps order
    a.send(c, "marker")  # sent last, not held: arrives first
    await until(lambda: c.received(), "the marker")
    assert b.received() == []
    await until(lambda: len(b.received()) == 6, "all frames")
    assert b.received() == [*(f"held {i}" for i in range(5)), "after the clear"]
    assert time.monotonic() - start >= 2.0 * 0.9


async def test_delayed_inbound_frames_keep_their_order(rpc: tuple[Rpc, Rpc, Rpc]) -> None:
    a, b, c = rpc
    b.faults.add(delay(A_IP, Direction.IN))
    start = time.monotonic()
    for i in range(5):
        a.send(b, f"held {i}")
    a.send(c, "probe")  # once c has it, b has read a's frames too
    await until(lambda: c.received(), "the probe")
    c.send(b, "from c")
    await until(lambda: len(b.received()) == 6, "all frames")
    assert b.received() == ["from c", *(f"held {i}" for i in range(5))]
    assert time.monotonic() - start >= HOLD_MS / 1000 * 0.9


async def test_delayed_inbound_frames_arrive_after_the_sender_hangs_up(
    rpc: tuple[Rpc, Rpc, Rpc],
) -> None:
    a, b, _ = rpc
    b.faults.add(delay(A_IP, Direction.IN, ms=1000))
    a.send(b, "held")
    await until(lambda: any(conn.held for conn in b.runtime._inbound), "the frame held")
    a.runtime._peers[b.runtime.addr].close()  # a hangs up while b still holds its frame
    await until(lambda: not b.runtime._inbound, "b to see the hang-up")
    await until(lambda: b.received(), "the held frame")
    assert b.received() == ["held"]
