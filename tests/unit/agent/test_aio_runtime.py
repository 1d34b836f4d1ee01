"""The asyncio runtime on real loopback sockets, driving a scripted fake core.

Checks the driver's side of the contract: every input stamped and flushed, one timer re-armed
from `next_deadline()`, stream framing by `stream_message_length`, Go-worded failures.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import pytest

from agent.runtime.gossip_aio import AioRuntime
from agent.runtime.resolver import AioResolver, ResolveError
from gossip.codec import encode_stream
from gossip.events import GossipEvent, JoinCompleted
from gossip.messages import AckResp, Ping
from gossip.outputs import Datagram, StreamRequest
from gossip.types import Address
from tests.helpers.recorder import RecorderCore

pytestmark = pytest.mark.anyio

PING = encode_stream(Ping(seq_no=7, node="b"), compress=False)
ACK = encode_stream(AckResp(seq_no=7), compress=False)
DEADLINE = 10.0


class FakeCore(RecorderCore):
    """The recorder, answering streams with an ack, and able to fail on datagrams."""

    def __init__(self) -> None:
        super().__init__("fake")
        self.reply = lambda data: ACK
        self.fail_datagrams = False

    @property
    def events(self) -> deque[GossipEvent]:
        return self.event_out

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        if self.fail_datagrams:
            raise RuntimeError("core bug")
        super().handle_datagram(now, src, data)


async def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


@pytest.fixture
async def pair():
    runtimes = [await AioRuntime.open(ip, 0) for ip in ("127.0.0.41", "127.0.0.42")]
    cores = [FakeCore(), FakeCore()]
    events: list[GossipEvent] = []
    for runtime, core in zip(runtimes, cores, strict=True):
        runtime.attach(core, events.append)
    yield runtimes, cores, events
    for runtime in runtimes:
        await runtime.close()


async def test_datagrams_and_events_flow(pair) -> None:
    (ra, rb), (a, b), events = pair
    a.outbox.append(Datagram(rb.addr, b"hello"))
    a.events.append(JoinCompleted(1, 1))
    ra.flush()
    await _until(lambda: b.of("datagram"), "the datagram")
    [(_, now, src, data)] = b.of("datagram")
    assert (src, data) == (ra.addr, b"hello")
    assert now <= rb.now()
    assert events == [JoinCompleted(1, 1)]


async def test_timer_fires_at_the_deadline_and_is_rearmed(pair) -> None:
    (ra, _), (a, _), _ = pair
    a.deadline = ra.now() + 0.05
    ra.flush()
    await _until(lambda: a.of("timer"), "the timer")
    [(_, fired_at)] = a.of("timer")
    assert a.deadline is None  # handle_timer saw a now at or past the deadline
    a.deadline = ra.now() - 1.0  # already due: fires at once, with a non-decreasing now
    ra.flush()
    await _until(lambda: len(a.of("timer")) == 2, "the past deadline")
    assert a.of("timer")[1][1] >= fired_at


async def test_stream_exchange_is_framed_and_answered(pair) -> None:
    (ra, rb), (a, b), _ = pair
    a.stream_out.append(StreamRequest(5, rb.addr, PING, timeout=5.0))
    ra.flush()
    await _until(lambda: a.of("result"), "the stream result")
    assert b.of("stream")[0][3] == PING
    [(_, _, token, reply, error)] = a.of("result")
    assert (token, reply, error) == (5, ACK, None)


async def test_write_only_stream_reports_no_reply(pair) -> None:
    (ra, rb), (a, b), _ = pair
    b.reply = lambda data: None
    a.stream_out.append(StreamRequest(6, rb.addr, PING, timeout=5.0, expect_reply=False))
    ra.flush()
    await _until(lambda: a.of("result") and b.of("stream"), "the write-only exchange")
    assert a.of("result")[0][2:] == (6, None, None)


async def test_closed_without_reply_is_eof(pair) -> None:
    (ra, rb), (a, b), _ = pair
    b.reply = lambda data: None
    a.stream_out.append(StreamRequest(8, rb.addr, PING, timeout=5.0))
    ra.flush()
    await _until(lambda: a.of("result"), "the result")
    assert a.of("result")[0][2:] == (8, None, "EOF")


async def test_refused_dial_reads_like_go(pair) -> None:
    (ra, _), (a, _), _ = pair
    a.stream_out.append(StreamRequest(9, Address("127.0.0.49", 1), PING, timeout=5.0))
    ra.flush()
    await _until(lambda: a.of("result"), "the result")
    assert a.of("result")[0][2:] == (
        9,
        None,
        "dial tcp 127.0.0.49:1: connect: connection refused",
    )


async def test_silent_peer_is_a_read_timeout(pair) -> None:
    (ra, _), (a, _), _ = pair
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.43", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        a.stream_out.append(StreamRequest(10, Address("127.0.0.43", port), PING, timeout=0.2))
        ra.flush()
        await _until(lambda: a.of("result"), "the timeout")
    finally:
        for writer in held:
            writer.close()
        server.close()
    token, reply, error = a.of("result")[0][2:]
    assert (token, reply) == (10, None)
    assert error.startswith("read tcp 127.0.0.41:")
    assert error.endswith(f"->127.0.0.43:{port}: i/o timeout")


async def test_inbound_message_arriving_in_pieces(pair) -> None:
    (_, rb), (_, b), _ = pair
    reader, writer = await asyncio.open_connection(*rb.addr)
    for i in range(len(PING)):
        writer.write(PING[i : i + 1])
        await writer.drain()
    reply = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    assert reply == ACK
    assert [i[3] for i in b.of("stream")] == [PING]


async def test_inbound_garbage_goes_to_the_core(pair) -> None:
    (_, rb), (_, b), _ = pair
    b.reply = lambda data: b"err"
    reader, writer = await asyncio.open_connection(*rb.addr)
    writer.write(b"\xff\x00garbage")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), DEADLINE) == b"err"
    writer.close()
    assert b.of("stream")[0][3] == b"\xff\x00garbage"


async def test_core_bug_is_logged_and_the_runtime_keeps_going(
    pair, caplog: pytest.LogCaptureFixture
) -> None:
    (ra, rb), (a, b), _ = pair
    b.fail_datagrams = True
    a.outbox.append(Datagram(rb.addr, b"boom"))
    ra.flush()
    await _until(lambda: rb.core_errors == 1, "the logged failure")
    assert "core failed handling datagram" in caplog.text
    b.fail_datagrams = False
    a.outbox.append(Datagram(rb.addr, b"fine"))
    ra.flush()
    await _until(lambda: b.of("datagram"), "the next datagram")


class _Catcher(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.received.put_nowait(data)


async def test_close_is_idempotent_and_stops_input(pair) -> None:
    """After close nothing reaches the core: not a timer armed before the close, not a
    stream result, not a datagram (the ports are released, so a late datagram lands on a
    plain socket that took the address over). Each absence is checked only after a marker
    proves the moment it would have happened has passed."""
    (ra, rb), (a, b), _ = pair
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.43", 0)
    port = server.sockets[0].getsockname()[1]
    b.deadline = rb.now() + 0.05
    b.stream_out.append(StreamRequest(11, Address("127.0.0.43", port), PING, timeout=0.05))
    rb.flush()
    await _until(lambda: bool(held), "the stream to connect")
    await rb.close()
    await rb.close()
    takeover, catcher = await asyncio.get_running_loop().create_datagram_endpoint(
        _Catcher, local_addr=tuple(rb.addr)
    )
    listener = await asyncio.start_server(silent, *rb.addr)  # the TCP port is free as well
    try:
        a.outbox.append(Datagram(rb.addr, b"late"))
        a.deadline = ra.now() + 0.2  # the marker: later than b's timer and b's stream timeout
        ra.flush()
        assert await asyncio.wait_for(catcher.received.get(), DEADLINE) == b"late"
        await _until(lambda: a.of("timer"), "the marker timer")
    finally:
        takeover.close()
        listener.close()
        for writer in held:
            writer.close()
        server.close()
    assert b.inputs == []


async def test_port_taken_by_tcp_is_an_error() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.44", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OSError):
            await AioRuntime.open("127.0.0.44", port)
    finally:
        blocker.close()


async def test_resolver() -> None:
    resolver = AioResolver()
    assert "127.0.0.1" in await resolver.resolve("localhost", 5.0)
    # No such name, or no DNS server answering at all (a loopback-only CI): Go's texts both.
    pattern = r"^lookup no\.such\.host\.invalid: (no such host|i/o timeout)$"
    with pytest.raises(ResolveError, match=pattern):
        await resolver.resolve("no.such.host.invalid", 2.0)
