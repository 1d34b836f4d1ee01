"""AioRpcRuntime: the RPC port (TCP) on asyncio, feeding one `MessageCore`.

Inbound: `asyncio.start_server`; each connection is read frame by frame (length header,
payload) until EOF, every frame handed to the core with `now`, then a flush. A bad length
closes that connection; the core drops bad payloads itself.

Outbound: one connection per destination, dialled on the first frame and kept open, fed by
a bounded queue. Frames are one-way, so a broken or refused connection just drops what was
queued (raft retries, clients fail over on their own timeouts); after a failed dial the
destination is not dialled again for `REDIAL_BACKOFF`, so a dead server costs one
connection attempt a second, not one per raft heartbeat.
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
from agent.rpc.wire import HEADER_BYTES, RpcDecodeError, frame_length
from agent.runtime.loop_timer import LoopTimer, wait_until_done
from agent.runtime.rpc_driver import RpcEventCallback
from gocompat import join_host_port, split_host_port

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

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._core = None
        self._timer.cancel()
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
        try:
            while not self._closed:
                async with asyncio.timeout(INBOUND_IDLE_TIMEOUT):
                    header = await reader.readexactly(HEADER_BYTES)
                    payload = await reader.readexactly(frame_length(header))
                core = self._core
                if core is None:
                    return
                data = header + payload
                now = self.now()
                self._guarded("frame", partial(core.handle_message, now, data))
        except (asyncio.IncompleteReadError, RpcDecodeError, TimeoutError, OSError) as exc:
            log.debug("rpc: inbound connection closed: %s", exc or "EOF")
        except asyncio.CancelledError:
            # Closing the runtime cancels connection handlers; asyncio's stream protocol
            # would log a cancelled handler as an error, so end it quietly.
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
