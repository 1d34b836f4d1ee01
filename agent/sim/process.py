"""One simulated process: a sans-IO core driven by the scheduler and the simulated network.

The process is the simulator's runtime for a single core (the simulated twin of one asyncio
driver): it stamps every input with the scheduler's `now`, drains the core through the shared
`flush_outputs` contract after each input, and keeps the core's one timer on the heap.

Faults a process can suffer:

- `crash()`: the process vanishes. Nothing is flushed, its address stops listening (datagrams
  drop, streams are refused), in-flight results addressed to it are discarded. A restart is a
  new `SimProcess` with a new core, so nothing leaks from the old incarnation.
- `pause(until)`: the process stalls (GC, swapped out, SIGSTOP). Inputs and its timer that fall
  in the pause queue up and are handled, in arrival order, at the resume time: the burst a
  stalled process sees when it wakes, the situation Lifeguard was built for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from agent.sim.network import SimNetwork, StreamExchange
from agent.sim.scheduler import Scheduler, Timer
from gossip import Address, Datagram, Endpoint, GossipEvent, StreamRequest, flush_outputs

C = TypeVar("C", bound=Endpoint)
"""The core's own type, so a caller gets back the commands of the core it put in."""
EventHandler = Callable[["SimProcess[C]", GossipEvent], None]

# Kinds of inputs held back while a process is paused.
_DATAGRAM = 0
_STREAM = 1
_RESULT = 2
_TIMER = 3


class SimProcess(Generic[C]):
    """Runs one core on the simulated network; also the `OutputSink` its flushes drain into."""

    __slots__ = (
        "_backlog",
        "_network",
        "_on_event",
        "_paused_until",
        "_scheduler",
        "_timer",
        "addr",
        "core",
        "running",
    )

    def __init__(
        self,
        core: C,
        addr: Address,
        scheduler: Scheduler,
        network: SimNetwork,
        on_event: EventHandler[C],
    ) -> None:
        self.core = core
        self.addr = addr
        self.running = True
        self._scheduler = scheduler
        self._network = network
        self._on_event = on_event
        self._timer = Timer(scheduler, self._on_timer)
        self._backlog: list[tuple[Any, ...]] | None = None  # not None while paused
        self._paused_until = 0.0
        network.bind(addr, self)
        self.flush()

    @property
    def paused(self) -> bool:
        return self._backlog is not None

    def flush(self) -> None:
        """Drain the core; call after any input, including commands issued on the core."""
        flush_outputs(self.core, self)

    # -- OutputSink ----------------------------------------------------------------------

    def send_datagram(self, datagram: Datagram) -> None:
        self._network.send_datagram(self.addr, datagram.dst, datagram.data)

    def open_stream(self, request: StreamRequest) -> None:
        self._network.open_stream(self, self.addr, request)

    def deliver_event(self, event: GossipEvent) -> None:
        self._on_event(self, event)

    def set_deadline(self, at: float | None) -> None:
        self._timer.set(at)

    # -- Receiver (inputs from the network and the timer) --------------------------------

    def receive_datagram(self, src: Address, data: bytes) -> None:
        if self._backlog is not None:
            self._backlog.append((_DATAGRAM, src, data))
            return
        self.core.handle_datagram(self._scheduler.now, src, data)
        flush_outputs(self.core, self)

    def receive_stream(self, exchange: StreamExchange) -> None:
        if self._backlog is not None:
            self._backlog.append((_STREAM, exchange))
            return
        reply = self.core.handle_stream(self._scheduler.now, exchange.src, exchange.request.data)
        flush_outputs(self.core, self)
        self._network.reply_stream(exchange, reply)

    def receive_stream_result(self, token: int, reply: bytes | None, error: str | None) -> None:
        if self._backlog is not None:
            self._backlog.append((_RESULT, token, reply, error))
            return
        self.core.handle_stream_result(self._scheduler.now, token, reply, error)
        flush_outputs(self.core, self)

    def _on_timer(self) -> None:
        if not self.running:
            return
        if self._backlog is not None:
            self._backlog.append((_TIMER,))
            return
        self.core.handle_timer(self._scheduler.now)
        flush_outputs(self.core, self)

    # -- faults --------------------------------------------------------------------------

    def crash(self) -> None:
        """Vanish without a word: no shutdown call, no flush, the address stops listening."""
        self.running = False
        self._timer.cancel()
        self._backlog = None
        self._network.unbind(self.addr)

    def pause(self, until: float) -> None:
        """Stall until `until`; a pause inside a pause extends it."""
        if until <= self._paused_until and self._backlog is not None:
            return
        self._paused_until = until
        if self._backlog is None:
            self._backlog = []
        self._scheduler.schedule(until, self._resume)

    def _resume(self) -> None:
        if self._backlog is None or self._scheduler.now < self._paused_until:
            return  # crashed meanwhile, or the pause was extended (a later entry resumes)
        backlog, self._backlog = self._backlog, None
        for index, item in enumerate(backlog):
            if not self.running:
                return
            if self._backlog is not None:  # paused again by an event handler: keep the rest
                self._backlog.extend(backlog[index:])
                return
            self._replay(item)

    def _replay(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == _DATAGRAM:
            self.receive_datagram(item[1], item[2])
        elif kind == _STREAM:
            self.receive_stream(item[1])
        elif kind == _RESULT:
            self.receive_stream_result(item[1], item[2], item[3])
        else:
            self._on_timer()
