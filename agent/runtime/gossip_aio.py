"""The asyncio driver: real UDP and TCP sockets on the Serf port, feeding one sans-IO core.

Theory of operation (after aioquic's `asyncio/protocol.py`). The core never sees a socket or a
clock. Every input is stamped with `loop.time()` (clamped so it never goes backwards) and is
followed by `flush_outputs(core, self)`, which drains the core into this object's
`OutputSink` methods:

- datagrams go out through one `DatagramProtocol` transport bound to the Serf address;
- each `StreamRequest` becomes a task: connect, write the request, read one reply framed by
  `gossip.codec.stream_message_length` (memberlist streams carry no length prefix), all under
  the request's own timeout, then `handle_stream_result` with a Go-worded error on failure;
- events go to the Agent's callback;
- the next deadline re-arms one `loop.call_at` timer, only when it changed.

Inbound TCP (`asyncio.start_server` on the same port) reads one complete message, hands it to
`handle_stream` and writes the reply, one exchange per connection as memberlist does.

A bug in the core must not take the listeners down: core calls made from socket callbacks
are guarded and logged.

Injected faults (`agent.runtime.faults`, set with `set_faults`) act here, on whole messages,
where they leave and arrive: a dropped datagram is not sent or not handed to the core; a
dropped outbound stream never connects (or its reply is lost) and the core hears Go's
`i/o timeout` when the request's timeout runs out; a dropped inbound stream is held open
unanswered until the peer gives up. A delay holds the datagram, or the stream's request or
reply, back on the loop. Streams are one exchange each, so holding them cannot reorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from agent.runtime.faults import UNTOUCHED, Direction, ExchangeVerdict, FaultTable
from agent.runtime.gossip_driver import EventCallback
from agent.runtime.loop_timer import LoopTimer, wait_until_done
from gossip import (
    Address,
    Datagram,
    DecodeError,
    Endpoint,
    GossipEvent,
    StreamRequest,
    flush_outputs,
    stream_message_length,
)

log = logging.getLogger("gossip_agent.runtime")

T = TypeVar("T")

READ_CHUNK_BYTES = 64 * 1024
INBOUND_STREAM_TIMEOUT = 10.0
"""How long an inbound exchange may take (memberlist's default TCPTimeout)."""
BIND_ATTEMPTS = 20
"""Tries to find a port free for both UDP and TCP when port 0 is asked for."""


def _go_errno_text(exc: OSError) -> str:
    """Go prints syscall errors in lower case: `connection refused`, `no route to host`."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]


def _fmt(addr: Any) -> str:
    """A socket address tuple (IPv4 or IPv6) as Go prints it."""
    return str(Address(addr[0], addr[1]))


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, runtime: AioRuntime) -> None:
        self._runtime = runtime

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._runtime._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)  # ICMP unreachable and the like: UDP is best effort


class AioRuntime:
    """Drives one core on real sockets; also the `OutputSink` its flushes drain into."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._addr = Address("0.0.0.0", 0)
        self._core: Endpoint | None = None
        self._on_event: EventCallback | None = None
        self._timer = LoopTimer(loop, self._on_timer)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._faults: FaultTable | None = None
        self.core_errors = 0

    @classmethod
    async def open(cls, host: str, port: int) -> AioRuntime:
        """Bind UDP and TCP on `host:port` (port 0: one port free for both).

        Raises:
            OSError: the address is taken or not local.
        """
        runtime = cls(asyncio.get_running_loop())
        await runtime._bind(host, port)
        return runtime

    async def _bind(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        attempts = BIND_ATTEMPTS if port == 0 else 1
        for attempt in range(attempts):
            udp, _ = await self._loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(host, port), family=family
            )
            bound_port = int(udp.get_extra_info("sockname")[1])
            try:
                tcp = await asyncio.start_server(
                    self._serve_stream, host, bound_port, family=family
                )
            except OSError as exc:
                udp.close()
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                continue
            self._udp, self._tcp = udp, tcp
            self._addr = Address(host, bound_port)
            return

    # ---- Runtime protocol ---------------------------------------------------------------

    @property
    def addr(self) -> Address:
        return self._addr

    def now(self) -> float:
        return self._timer.now()

    def attach(self, core: Endpoint, on_event: EventCallback) -> None:
        self._core = core
        self._on_event = on_event
        self.flush()

    def flush(self) -> None:
        if self._core is not None and not self._closed:
            flush_outputs(self._core, self)

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
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)

    # ---- OutputSink ---------------------------------------------------------------------

    def send_datagram(self, datagram: Datagram) -> None:
        faults = self._faults
        if faults is not None and faults.active:
            dst = datagram.dst
            if faults.drops(Direction.OUT, dst.host, dst.port):
                return
            hold = faults.delay(Direction.OUT, dst.host, dst.port)
            if hold > 0:
                self._loop.call_later(hold, self._sendto, datagram)
                return
        self._sendto(datagram)

    def _sendto(self, datagram: Datagram) -> None:
        if self._udp is None or self._closed:
            return
        try:
            self._udp.sendto(datagram.data, (datagram.dst.host, datagram.dst.port))
        except (OSError, ValueError) as exc:  # wrong family, unreachable: UDP is best effort
            log.debug("udp send to %s failed: %s", datagram.dst, exc)

    def open_stream(self, request: StreamRequest) -> None:
        verdict = UNTOUCHED
        faults = self._faults
        if faults is not None and faults.active:
            verdict = faults.exchange(Direction.OUT, request.dst.host, request.dst.port)
        self._spawn(self._exchange(request, verdict))

    def deliver_event(self, event: GossipEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def set_deadline(self, at: float | None) -> None:
        self._timer.set(at)

    # ---- inputs -------------------------------------------------------------------------

    def _guarded(self, what: str, subject: object, call: Callable[[], T]) -> T | None:
        """Run one core input plus the flush after it; a core bug is logged, not raised.

        `what` and `subject` name the input in the log line, which is formatted only then:
        this runs for every datagram."""
        try:
            result = call()
            self.flush()
            return result
        except Exception:
            self.core_errors += 1
            log.exception("core failed handling %s %s", what, subject)
            return None

    def _on_timer(self, now: float) -> None:
        core = self._core
        if core is not None:
            self._guarded("timer at", now, lambda: core.handle_timer(now))

    def _on_datagram(self, data: bytes, addr: Any) -> None:
        faults = self._faults
        if faults is not None and faults.active:
            host, port = str(addr[0]), int(addr[1])
            if faults.drops(Direction.IN, host, port):
                return
            hold = faults.delay(Direction.IN, host, port)
            if hold > 0:
                self._loop.call_later(hold, self._deliver_datagram, data, addr)
                return
        self._deliver_datagram(data, addr)

    def _deliver_datagram(self, data: bytes, addr: Any) -> None:
        core = self._core
        if core is None:
            return
        src = Address(str(addr[0]), int(addr[1]))
        now = self.now()
        self._guarded("datagram from", src, lambda: core.handle_datagram(now, src, data))

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """One inbound exchange: read one message, let the core answer, write the reply."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        verdict = UNTOUCHED
        faults = self._faults
        if faults is not None and faults.active:
            # The source port is ephemeral: the peer is known by its IP only.
            verdict = faults.exchange(Direction.IN, str(peer[0]), None)
        try:
            async with asyncio.timeout(INBOUND_STREAM_TIMEOUT):
                data = await _read_message(reader)
                if verdict.request_lost and data is not None:
                    await _hold_until_eof(reader)
                    return
                if verdict.request_hold > 0:
                    await asyncio.sleep(verdict.request_hold)
                core = self._core
                if data is None or core is None:
                    return
                src = Address(str(peer[0]), int(peer[1]))
                now = self.now()
                reply = self._guarded(
                    "stream from", src, lambda: core.handle_stream(now, src, data)
                )
                if reply and verdict.reply_lost:
                    await _hold_until_eof(reader)
                    return
                if reply:
                    if verdict.reply_hold > 0:
                        await asyncio.sleep(verdict.reply_hold)
                    writer.write(reply)
                    await writer.drain()
        except (TimeoutError, OSError) as exc:
            log.debug("inbound stream from %s: %s", _fmt(peer), exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(self, request: StreamRequest, verdict: ExchangeVerdict) -> None:
        """One outbound exchange under `request.timeout`, reported to the core."""
        reply, error = await self._dial_and_exchange(request, verdict)
        core = self._core
        if core is None or self._closed:
            return
        now = self.now()
        self._guarded(
            "stream result",
            request.token,
            lambda: core.handle_stream_result(now, request.token, reply, error),
        )

    async def _dial_and_exchange(
        self, request: StreamRequest, verdict: ExchangeVerdict
    ) -> tuple[bytes | None, str | None]:
        dst = request.dst
        deadline = self._loop.time() + request.timeout
        local = None if self._addr.host in ("0.0.0.0", "::") else (self._addr.host, 0)
        if verdict.request_lost or self._loop.time() + verdict.request_hold >= deadline:
            await asyncio.sleep(max(0.0, deadline - self._loop.time()))
            return None, f"dial tcp {dst}: i/o timeout"
        if verdict.request_hold > 0:
            await asyncio.sleep(verdict.request_hold)
        try:
            async with asyncio.timeout_at(deadline):
                reader, writer = await asyncio.open_connection(dst.host, dst.port, local_addr=local)
        except TimeoutError:
            return None, f"dial tcp {dst}: i/o timeout"
        except OSError as exc:
            return None, f"dial tcp {dst}: connect: {_go_errno_text(exc)}"
        conn = f"{_fmt(writer.get_extra_info('sockname'))}->{dst}"
        try:
            async with asyncio.timeout_at(deadline):
                writer.write(request.data)
                await writer.drain()
                if not request.expect_reply:
                    return None, None
                reply = await _read_message(reader)
                if reply is not None and verdict.reply_lost:
                    await asyncio.sleep(deadline - self._loop.time() + 1.0)  # never comes
                elif reply is not None and verdict.reply_hold > 0:
                    await asyncio.sleep(verdict.reply_hold)
            return (reply, None) if reply is not None else (None, "EOF")
        except TimeoutError:
            return None, f"read tcp {conn}: i/o timeout"
        except OSError as exc:
            return None, f"read tcp {conn}: read: {_go_errno_text(exc)}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _hold_until_eof(reader: asyncio.StreamReader) -> None:
    """Leave a connection whose message was lost unanswered until the peer gives up."""
    while await reader.read(READ_CHUNK_BYTES):
        pass


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """Read until one complete stream message is buffered; None on EOF before that.

    Bytes that cannot start a valid message are returned as they are, so the core answers
    them with memberlist's error response.
    """
    buf = bytearray()
    while True:
        chunk = await reader.read(READ_CHUNK_BYTES)
        if not chunk:
            return None
        buf += chunk
        try:
            length = stream_message_length(bytes(buf))
        except DecodeError:
            return bytes(buf)
        if length is not None:
            return bytes(buf[:length])
