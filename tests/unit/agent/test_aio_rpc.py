"""The RPC port's asyncio driver on real loopback sockets, with a scripted core.

Checks the driver's side: frames arrive whole and in order on one connection, `before_send`
runs before frames leave, the timer follows `next_deadline()`, a refused destination drops
frames instead of raising, and garbage on the port closes only that connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agent.rpc.endpoint import RpcEvent
from agent.rpc.wire import FrameKind, decode_frame, encode_frame
from agent.runtime import rpc_aio
from agent.runtime.rpc_aio import AioRpcRuntime

pytestmark = pytest.mark.anyio
DEADLINE = 10.0


class ScriptedCore:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.timers: list[float] = []
        self.outbox: list[tuple[str, bytes]] = []
        self.deadline: float | None = None

    def handle_message(self, now: float, data: bytes) -> None:
        self.received.append(data)

    def handle_timer(self, now: float) -> None:
        self.timers.append(now)
        self.deadline = None

    def messages_to_send(self) -> list[tuple[str, bytes]]:
        out, self.outbox = self.outbox, []
        return out

    def next_event(self) -> RpcEvent | None:
        return None

    def next_deadline(self) -> float | None:
        return self.deadline


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_frames_travel_in_order_and_persist_runs_first() -> None:
    a, b = await AioRpcRuntime.open("127.0.0.1", 0), await AioRpcRuntime.open("127.0.0.1", 0)
    core_a, core_b = ScriptedCore(), ScriptedCore()
    order: list[str] = []
    try:
        a.attach(core_a, lambda e: None, before_send=lambda: order.append("persist"))
        b.attach(core_b, lambda e: None)
        order.clear()
        frames = [encode_frame(a.addr, FrameKind.RAFT, bytes([i]) * i) for i in range(1, 50)]
        core_a.outbox = [(b.addr, f) for f in frames]
        a.flush()
        order.append("sent")
        await until(lambda: len(core_b.received) == len(frames))
        assert core_b.received == frames
        assert order == ["persist", "sent"]
        assert decode_frame(core_b.received[0]).src == a.addr
    finally:
        await a.close()
        await b.close()


async def test_timer_follows_next_deadline() -> None:
    rt = await AioRpcRuntime.open("127.0.0.1", 0)
    core = ScriptedCore()
    try:
        due = core.deadline = rt.now() + 0.05
        rt.attach(core, lambda e: None)
        await until(lambda: bool(core.timers))
        assert core.timers == [pytest.approx(core.timers[0])]
        assert core.timers[0] >= due
    finally:
        await rt.close()


async def test_refused_destination_drops_frames_without_holding_up_others() -> None:
    rt, live = await AioRpcRuntime.open("127.0.0.1", 0), await AioRpcRuntime.open("127.0.0.1", 0)
    dead = await AioRpcRuntime.open("127.0.0.1", 0)
    dead_addr = dead.addr
    await dead.close()
    core, live_core = ScriptedCore(), ScriptedCore()
    try:
        rt.attach(core, lambda e: None)
        live.attach(live_core, lambda e: None)
        lost = encode_frame(rt.addr, FrameKind.RAFT, b"lost")
        core.outbox = [(dead_addr, lost)] * 5
        rt.flush()
        peer = rt._peers[dead_addr]
        await until(lambda: peer.dead_until > 0)  # the dial was refused...
        assert not peer.waiting  # ...and what was waiting for it is dropped
        core.outbox = [(dead_addr, lost)]
        rt.flush()
        assert not peer.waiting and peer.dialling is None  # no new dial within the backoff
        good = encode_frame(rt.addr, FrameKind.RAFT, b"ok")
        core.outbox = [(live.addr, good)]
        rt.flush()
        await until(lambda: live_core.received == [good])
        assert rt.core_errors == 0
    finally:
        await rt.close()
        await live.close()


async def test_garbage_closes_only_that_connection() -> None:
    rt = await AioRpcRuntime.open("127.0.0.1", 0)
    core = ScriptedCore()
    try:
        rt.attach(core, lambda e: None)
        reader, writer = await asyncio.open_connection("127.0.0.1", rt.port)
        writer.write(b"\xff\xff\xff\xff garbage")
        await writer.drain()
        async with asyncio.timeout(DEADLINE):
            assert await reader.read() == b""  # the agent hung up
        writer.close()
        good = encode_frame("127.0.0.1:1", FrameKind.RAFT, b"ok")
        _, writer = await asyncio.open_connection("127.0.0.1", rt.port)
        writer.write(good)
        await writer.drain()
        await until(lambda: core.received == [good])
        writer.close()
    finally:
        await rt.close()


async def test_frames_split_across_reads_arrive_whole() -> None:
    rt = await AioRpcRuntime.open("127.0.0.1", 0)
    core = ScriptedCore()
    try:
        rt.attach(core, lambda e: None)
        frames = [encode_frame("127.0.0.1:1", FrameKind.RAFT, bytes([i]) * 300) for i in range(3)]
        _, writer = await asyncio.open_connection("127.0.0.1", rt.port)
        stream = b"".join(frames)
        for i in range(0, len(stream), 7):  # header and payload cut anywhere
            writer.write(stream[i : i + 7])
            await writer.drain()
            await asyncio.sleep(0)
        await until(lambda: len(core.received) == len(frames))
        assert core.received == frames
        writer.close()
    finally:
        await rt.close()


async def test_a_connection_the_peer_closed_is_dialled_again() -> None:
    a, b = await AioRpcRuntime.open("127.0.0.1", 0), await AioRpcRuntime.open("127.0.0.1", 0)
    core_a, core_b = ScriptedCore(), ScriptedCore()
    try:
        a.attach(core_a, lambda e: None)
        b.attach(core_b, lambda e: None)
        first = encode_frame(a.addr, FrameKind.RAFT, b"first")
        core_a.outbox = [(b.addr, first)]
        a.flush()
        await until(lambda: core_b.received == [first])
        for inbound in list(b._inbound):  # b hangs up, as a restarting server would
            inbound.close()
        peer = a._peers[b.addr]
        await until(lambda: peer.transport is None)
        second = encode_frame(a.addr, FrameKind.RAFT, b"second")
        core_a.outbox = [(b.addr, second)]
        a.flush()
        await until(lambda: core_b.received == [first, second])
    finally:
        await a.close()
        await b.close()


async def test_closing_with_connections_open_leaves_nothing_running() -> None:
    before = asyncio.all_tasks()
    a, b = await AioRpcRuntime.open("127.0.0.1", 0), await AioRpcRuntime.open("127.0.0.1", 0)
    core_a, core_b = ScriptedCore(), ScriptedCore()
    a.attach(core_a, lambda e: None)
    b.attach(core_b, lambda e: None)
    frame = encode_frame(a.addr, FrameKind.RAFT, b"x")
    core_a.outbox = [(b.addr, frame)]
    a.flush()
    await until(lambda: core_b.received == [frame])
    await b.close()  # b's end of a's connection closes first, as at Ctrl-C
    await a.close()
    assert not b._inbound and all(p.transport is None for p in a._peers.values())
    assert asyncio.all_tasks() - before == set()


async def test_an_idle_inbound_connection_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_aio, "INBOUND_IDLE_TIMEOUT", 0.2)
    rt = await AioRpcRuntime.open("127.0.0.1", 0)
    core = ScriptedCore()
    try:
        rt.attach(core, lambda e: None)
        reader, writer = await asyncio.open_connection("127.0.0.1", rt.port)
        frame = encode_frame("127.0.0.1:1", FrameKind.RAFT, b"x")
        writer.write(frame)
        await until(lambda: core.received == [frame])  # a frame keeps it open a while...
        async with asyncio.timeout(DEADLINE):
            assert await reader.read() == b""  # ...then, with none, the agent hangs up
        assert not rt._inbound
        writer.close()
    finally:
        await rt.close()
