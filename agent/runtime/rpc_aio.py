"""AioRpcRuntime: the RPC port (TCP) on asyncio, feeding one `MessageCore`.

Inbound: `asyncio.start_server`; each connection is read frame by frame (length header,
payload) until EOF, every frame handed to the core with `now`, then a flush. A bad length
closes that connection; the core drops bad payloads itself.

Outbound: one connection per destination, dialled on the first frame and kept open, fed by
a bounded queue. Frames are one-way, so a broken or refused connection just drops what was
queued (raft retries, clients fail over on their own timeouts); after a failed dial the
destination is not dialled again for `REDIAL_BACKOFF`, so a dead server costs one
connection attempt a second, not one per raft heartbeat.

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
INBOUND_IDLE_TIMEOUT = 300.0


class _Peer:
    """The outbound connection to one destination and its queue."""

    def __init__(self, runtime: AioRpcRuntime, dst: str) -> None:
        self.runtime = runtime
        self.dst = dst
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_FRAMES)
        self.dead_until = 0.0
        self.task = runtime._loop.create_task(self._run())

    def put(self, data: bytes) -> None:
        if self.runtime._loop.time() < self.dead_until:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(data)

    async def _run(self) -> None:
        host, port = split_host_port(self.dst, 0)
        loop = self.runtime._loop
        while True:
            first = await self.queue.get()
            try:
                async with asyncio.timeout(DIAL_TIMEOUT):
                    _, writer = await asyncio.open_connection(
                        host, port, local_addr=self.runtime._local_addr()
                    )
            except (OSError, TimeoutError) as exc:
                log.debug("rpc: dial %s: %s", self.dst, exc)
                self.dead_until = loop.time() + REDIAL_BACKOFF
                _drain(self.queue)
                continue
            try:
                writer.write(first)
                while True:
                    while not self.queue.empty():
                        writer.write(self.queue.get_nowait())
                    await writer.drain()
                    writer.write(await self.queue.get())
            except OSError as exc:
                log.debug("rpc: write to %s: %s", self.dst, exc)
                _drain(self.queue)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


def _drain(queue: asyncio.Queue[bytes]) -> None:
    while not queue.empty():
        queue.get_nowait()


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
        self._inbound: set[asyncio.Task[None]] = set()
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
        runtime._server = await asyncio.start_server(runtime._serve, host, port)
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
        tasks = [p.task for p in self._peers.values()] + list(self._inbound)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inbound.add(task)
            task.add_done_callback(self._inbound.discard)
        held: DelayLine | None = None
        connection_host = str((writer.get_extra_info("peername") or ("0.0.0.0",))[0])
        try:
            while not self._closed:
                async with asyncio.timeout(INBOUND_IDLE_TIMEOUT):
                    header = await reader.readexactly(HEADER_BYTES)
                    payload = await reader.readexactly(frame_length(header))
                data = header + payload
                faults = self._faults
                if faults is not None and faults.active:
                    host, port = _sender(data, connection_host)
                    if faults.drops(Direction.IN, host, port):
                        continue
                    hold = faults.delay(Direction.IN, host, port)
                    if hold > 0 or held:
                        if held is None:
                            held = DelayLine(self._loop)
                        held.push(self._loop.time() + hold, partial(self._on_frame, data))
                        continue
                if held:
                    held.push(self._loop.time(), partial(self._on_frame, data))
                    continue
                if self._core is None:
                    return
                self._on_frame(data)
        except (asyncio.IncompleteReadError, RpcDecodeError, TimeoutError, OSError) as exc:
            log.debug("rpc: inbound connection closed: %s", exc or "EOF")
        except asyncio.CancelledError:
            # Closing the runtime cancels connection handlers; asyncio's stream protocol
            # would log a cancelled handler as an error, so end it quietly.
            pass
        finally:
            writer.close()
            # The cancel may also land here, while the handler already waits for the close
            # (the peer hung up just before shutdown): a handler must never end cancelled,
            # since asyncio's stream protocol (CPython 3.12.0-3.12.1) then logs
            # `[ERR] asyncio` with a CancelledError traceback at every Ctrl-C.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    def _on_frame(self, data: bytes) -> None:
        core = self._core
        if core is not None:
            now = self.now()
            self._guarded("frame", partial(core.handle_message, now, data))
