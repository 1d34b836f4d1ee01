"""AioRpcRuntime: the RPC port (TCP) on asyncio, feeding one `MessageCore`.

Both directions are plain `asyncio.Protocol`s, not streams and tasks, because an idle server's
CPU is made of raft heartbeats (ten a second from the leader to every follower, each answered)
and each loop callback costs tens of µs in an idle, cache-cold Python process: with
protocols, the readable socket's callback decodes the frame, runs the core and writes the
replies in that one callback (bench/idle_profile.py shows the table).

Inbound: `loop.create_server`; each connection's bytes are split into frames (length header,
payload) as they arrive, every frame handed to the core with `now`, then a flush. A bad length
closes that connection; the core drops bad payloads itself. A connection with no frame for
`INBOUND_IDLE_TIMEOUT` is closed.

Outbound: one connection per destination, dialled on the first frame and kept open; frames
are written to it as they are sent, and the few sent while it is still being dialled wait
(at most `QUEUE_FRAMES`). Frames are one-way, so a broken or refused connection just drops
what was waiting or buffered (raft retries, clients fail over on their own timeouts); after a
failed dial the destination is not dialled again for `REDIAL_BACKOFF`, so a dead server costs
one connection attempt a second, not one per raft heartbeat. A connection that will not take
more than `MAX_BUFFERED_BYTES` drops frames until it drains (a stalled peer must not grow the
buffer without bound; raft sends again).

Injected faults (`agent.runtime.faults`, set with `set_faults`) act on frames: an outbound
frame is dropped or held back before it is queued for its destination, an inbound one after
it is read and before the core sees it. A frame names its sender's RPC listener (`src`),
which is the remote address an inbound frame is matched on. Held frames wait in a
`DelayLine` per connection, so a delay slows a connection without reordering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from agent.config.listeners import WILDCARDS
from agent.rpc.endpoint import BeforeSend, MessageCore, RpcEvent, flush_messages
from agent.rpc.wire import HEADER_BYTES, RpcDecodeError, decode_frame, frame_length
from agent.runtime.delay_line import DelayLine
from agent.runtime.faults import Direction, FaultTable
from agent.runtime.loop_timer import LoopTimer, wait_until_done
from agent.runtime.rpc_driver import RpcEventCallback
from gocompat import AddressError, join_host_port, split_host_port

log = logging.getLogger("gossip_agent.rpc")

DIAL_TIMEOUT = 2.0
REDIAL_BACKOFF = 1.0
QUEUE_FRAMES = 1024
"""Frames kept for a destination while its connection is being dialled."""
MAX_BUFFERED_BYTES = 16 * 1024 * 1024
"""Bytes an outbound connection may hold unsent before further frames are dropped."""
INBOUND_IDLE_TIMEOUT = 300.0


class _Peer(asyncio.Protocol):
    """The outbound connection to one destination; frames sent while dialling wait."""

    def __init__(self, runtime: AioRpcRuntime, dst: str) -> None:
        self.runtime = runtime
        self.dst = dst
        self.transport: asyncio.Transport | None = None
        self.waiting: list[bytes] = []
        self.dialling: asyncio.Task[None] | None = None
        self.dead_until = 0.0

    def put(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None:
            if transport.get_write_buffer_size() <= MAX_BUFFERED_BYTES:
                transport.write(data)
            return
        if self.runtime._loop.time() < self.dead_until:
            return
        if len(self.waiting) < QUEUE_FRAMES:
            self.waiting.append(data)
        if self.dialling is None:
            self.dialling = self.runtime._loop.create_task(self._dial())

    async def _dial(self) -> None:
        loop = self.runtime._loop
        try:
            host, port = split_host_port(self.dst, 0)
            async with asyncio.timeout(DIAL_TIMEOUT):
                await loop.create_connection(
                    lambda: self, host, port, local_addr=self.runtime._local_addr()
                )
        except (OSError, TimeoutError, AddressError) as exc:
            log.debug("rpc: dial %s: %s", self.dst, exc)
            self.dead_until = loop.time() + REDIAL_BACKOFF
            self.waiting.clear()
        finally:
            self.dialling = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        waiting, self.waiting = self.waiting, []
        if waiting:
            transport.write(b"".join(waiting))

    def data_received(self, data: bytes) -> None:
        pass  # frames are one-way: replies come to our listener, not down this connection

    def eof_received(self) -> bool | None:
        return False  # the peer hung up: close, and dial again on the next frame

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("rpc: connection to %s lost: %s", self.dst, exc)
        self.transport = None

    def close(self) -> None:
        if self.dialling is not None:
            self.dialling.cancel()
        if self.transport is not None:
            self.transport.abort()
        self.waiting.clear()


class _Inbound(asyncio.Protocol):
    """One accepted connection: splits its bytes into frames for the runtime."""

    def __init__(self, runtime: AioRpcRuntime) -> None:
        self.runtime = runtime
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.connection_host = "0.0.0.0"
        self.held: DelayLine | None = None
        self.last_frame = runtime._loop.time()
        self.idle_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connection_host = str((transport.get_extra_info("peername") or ("0.0.0.0",))[0])
        self.runtime._inbound.add(self)
        self.idle_check = self.runtime._loop.call_later(INBOUND_IDLE_TIMEOUT, self._check_idle)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        try:
            while len(buffer) >= HEADER_BYTES:
                end = HEADER_BYTES + frame_length(buffer)
                if len(buffer) < end:
                    break
                frame = bytes(buffer[:end])
                del buffer[:end]
                self.last_frame = self.runtime._loop.time()
                if not self.runtime._on_inbound_frame(self, frame):
                    self.close()
                    return
        except RpcDecodeError as exc:
            log.debug("rpc: inbound connection closed: %s", exc)
            self.close()

    def _check_idle(self) -> None:
        idle = self.runtime._loop.time() - self.last_frame
        if idle >= INBOUND_IDLE_TIMEOUT:
            log.debug("rpc: inbound connection closed: idle for %.0f s", idle)
            self.close()
        else:
            self.idle_check = self.runtime._loop.call_later(
                INBOUND_IDLE_TIMEOUT - idle, self._check_idle
            )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        log.debug("rpc: inbound connection closed: %s", exc or "EOF")
        self.runtime._inbound.discard(self)
        if self.idle_check is not None:
            self.idle_check.cancel()
        # Frames a delay fault holds were read before the hang-up: they are still delivered
        # (after a close, `_on_frame` finds no core and drops them).
        self.transport = None


def _remote(addr: str) -> tuple[str, int | None]:
    """`ip:port` as faults match it; anything unparsable is a host of unknown port."""
    try:
        host, port = split_host_port(addr, 0)
    except AddressError:
        return addr, None
    return host, port or None


def _sender(data: bytes, connection_host: str) -> tuple[str, int | None]:
    """Whom an inbound frame is from: its `src` listener, else the connection's IP."""
    try:
        return _remote(decode_frame(data).src)
    except RpcDecodeError:
        return connection_host, None


class AioRpcRuntime:
    """The RPC listener plus outbound connections; also the `MessageSink` flushes drain into."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._server: asyncio.Server | None = None
        self._host = "0.0.0.0"
        self._port = 0
        self._advertise: str | None = None
        self._core: MessageCore | None = None
        self._on_event: RpcEventCallback | None = None
        self._before_send: BeforeSend | None = None
        self._peers: dict[str, _Peer] = {}
        self._inbound: set[_Inbound] = set()
        self._timer = LoopTimer(loop, self._on_timer)
        self._closed = False
        self._faults: FaultTable | None = None
        self._held: dict[str, DelayLine] = {}
        """Outbound frames held back by a delay fault, per destination (kept once made)."""
        self.core_errors = 0

    @classmethod
    async def open(cls, host: str, port: int) -> AioRpcRuntime:
        """Listen on `host:port` (0: any free port).

        Raises:
            OSError: the address is taken or not local.
        """
        runtime = cls(asyncio.get_running_loop())
        runtime._server = await runtime._loop.create_server(lambda: _Inbound(runtime), host, port)
        runtime._host = host
        runtime._port = int(runtime._server.sockets[0].getsockname()[1])
        return runtime

    @property
    def port(self) -> int:
        return self._port

    def set_advertise(self, addr: str) -> None:
        """The address peers know us by (what frames carry as `src`)."""
        self._advertise = addr

    @property
    def addr(self) -> str:
        if self._advertise is not None:
            return self._advertise
        return join_host_port(self._host, self._port)

    def _local_addr(self) -> tuple[str, int] | None:
        return None if self._host in WILDCARDS else (self._host, 0)

    # ---- RpcRuntime -----------------------------------------------------------------------

    def now(self) -> float:
        return self._timer.now()

    def attach(
        self, core: MessageCore, on_event: RpcEventCallback, before_send: BeforeSend | None = None
    ) -> None:
        self._core, self._on_event, self._before_send = core, on_event, before_send
        self.flush()

    def flush(self) -> None:
        if self._core is not None and not self._closed:
            flush_messages(self._core, self, self._before_send)

    async def wait(self, futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
        await wait_until_done(futures, timeout)

    def set_faults(self, faults: FaultTable | None) -> None:
        self._faults = faults

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._core = None
        self._timer.cancel()
        for line in self._held.values():
            line.cancel()
        if self._server is not None:
            self._server.close()
        dialling = [p.dialling for p in self._peers.values() if p.dialling is not None]
        for peer in self._peers.values():
            peer.close()
        for inbound in list(self._inbound):
            inbound.close()
        await asyncio.gather(*dialling, return_exceptions=True)
        await asyncio.sleep(0)  # let the transports' closing callbacks run
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    # ---- MessageSink ----------------------------------------------------------------------

    def send(self, dst: str, data: bytes) -> None:
        if self._closed:
            return
        faults = self._faults
        if faults is not None and (faults.active or self._held):
            host, port = _remote(dst)
            if faults.drops(Direction.OUT, host, port):
                return
            hold = faults.delay(Direction.OUT, host, port)
            line = self._held.get(dst)
            if hold > 0 or line:  # behind frames still held, even once the fault is lifted
                if line is None:
                    line = self._held[dst] = DelayLine(self._loop)
                line.push(self._loop.time() + hold, partial(self._enqueue, dst, data))
                return
            if line is not None:  # drained: forget it, so sends take the fast path again
                del self._held[dst]
        self._enqueue(dst, data)

    def _enqueue(self, dst: str, data: bytes) -> None:
        if self._closed:
            return
        peer = self._peers.get(dst)
        if peer is None:
            peer = self._peers[dst] = _Peer(self, dst)
        peer.put(data)

    def deliver(self, event: RpcEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def set_deadline(self, at: float | None) -> None:
        self._timer.set(at)

    # ---- inputs ---------------------------------------------------------------------------

    def _guarded(self, what: str, call: Callable[[], None]) -> None:
        """A core bug is logged, never allowed to take the listener down."""
        try:
            call()
            self.flush()
        except Exception:
            self.core_errors += 1
            log.exception("rpc core failed handling %s", what)

    def _on_timer(self, now: float) -> None:
        core = self._core
        if core is not None:
            self._guarded("timer", lambda: core.handle_timer(now))

    def _on_inbound_frame(self, conn: _Inbound, data: bytes) -> bool:
        """One frame read from `conn`: faults, then the core; False closes the connection."""
        if self._closed:
            return False
        faults = self._faults
        held = conn.held
        hold = 0.0
        if faults is not None and faults.active:
            host, port = _sender(data, conn.connection_host)
            if faults.drops(Direction.IN, host, port):
                return True
            hold = faults.delay(Direction.IN, host, port)
        if hold > 0 or held:  # behind frames still held, even once the fault is lifted
            if held is None:
                held = conn.held = DelayLine(self._loop)
            held.push(self._loop.time() + hold, partial(self._on_frame, data))
            return True
        if self._core is None:
            return False
        self._on_frame(data)
        return True

    def _on_frame(self, data: bytes) -> None:
        core = self._core
        if core is not None:
            now = self.now()
            self._guarded("frame", partial(core.handle_message, now, data))
