"""SimRpcRuntime: the RPC port on the simulator's network and virtual clock.

Frames travel as datagrams between RPC addresses, so partitions, loss and latency apply to
raft and heartbeats exactly as to gossip; a lost frame is what a broken TCP connection is
to these one-way messages. `wait` goes through the shared `SimTime`, as `SimRuntime.wait` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from agent.rpc.endpoint import BeforeSend, MessageCore, RpcEvent, flush_messages
from agent.runtime.faults import FaultTable
from agent.runtime.rpc_driver import RpcEventCallback
from agent.runtime.sim_time import SimTime, SteppedTime
from agent.sim.network import SimNetwork, StreamExchange
from agent.sim.scheduler import Scheduler, Timer
from gocompat import split_host_port
from gossip import Address


class SimRpcRuntime:
    """One agent's RPC port on a scheduler and network shared with other agents."""

    def __init__(
        self,
        scheduler: Scheduler,
        network: SimNetwork,
        addr: Address,
        *,
        time: SimTime | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.time = time or SteppedTime(scheduler)
        self.network = network
        self._address = addr
        self._core: MessageCore | None = None
        self._on_event: RpcEventCallback | None = None
        self._before_send: BeforeSend | None = None
        self._timer = Timer(scheduler, self._on_timer)
        self.running = False

    @property
    def addr(self) -> str:
        return str(self._address)

    def now(self) -> float:
        return self.scheduler.now

    def attach(
        self, core: MessageCore, on_event: RpcEventCallback, before_send: BeforeSend | None = None
    ) -> None:
        self._core, self._on_event, self._before_send = core, on_event, before_send
        self.running = True
        self.network.bind(self._address, self)
        self.flush()

    def flush(self) -> None:
        if self._core is not None and self.running:
            flush_messages(self._core, self, self._before_send)

    async def wait(self, futures: Sequence[asyncio.Future[Any]], timeout: float) -> None:
        until = self.scheduler.now + max(0.0, timeout)
        await self.time.wait(lambda: all(f.done() for f in futures), until)

    def set_faults(self, faults: FaultTable | None) -> None:
        """Ignored, as `SimRuntime.set_faults` says: the simulator has its own faults."""

    def crash(self) -> None:
        """Stop listening without a word."""
        self.running = False
        self._timer.cancel()
        self.network.unbind(self._address)

    async def close(self) -> None:
        self.crash()
        self._core = None

    # ---- MessageSink ----------------------------------------------------------------------

    def send(self, dst: str, data: bytes) -> None:
        host, port = split_host_port(dst, 0)
        self.network.send_datagram(self._address, Address(host, port), data)

    def deliver(self, event: RpcEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def set_deadline(self, at: float | None) -> None:
        self._timer.set(at)

    # ---- Receiver -------------------------------------------------------------------------

    def receive_datagram(self, src: Address, data: bytes) -> None:
        if self._core is not None and self.running:
            self._core.handle_message(self.scheduler.now, data)
            self.flush()

    def receive_stream(self, exchange: StreamExchange) -> None:
        self.network.reply_stream(exchange, None)  # nothing streams on the RPC port

    def receive_stream_result(self, token: int, reply: bytes | None, error: str | None) -> None:
        return None

    def _on_timer(self) -> None:
        if self._core is not None and self.running:
            self._core.handle_timer(self.scheduler.now)
            self.flush()
