"""The simulated network: datagrams and stream exchanges between in-memory addresses.

Theory of operation. Every send becomes one frozen `SimDatagram` and one or more delivery
entries on the scheduler (TigerBeetle's packet simulator, trio's `FakeNet`). Fates are decided
when a packet is sent, from the network's own RNG (never a node's, so changing the network
never shifts a node's random stream):

1. blocked by a partition or a one-way `block` -> dropped;
2. a `route` hook on the link's conditions may decide instead (drop, duplicate, delay);
3. otherwise lost with probability `loss`, else delivered after `latency_min` + an exponential
   with mean `latency_mean` (plus, with probability `reorder`, up to `reorder_delay` more), and
   with probability `duplicate` a second copy with its own latency.

Whether anyone is listening is decided on arrival: an unbound address drops datagrams
silently and refuses streams, as a host whose process crashed does.

Streams are TCP exchanges: request there, reply back, each leg one latency. They are reliable
(TCP retransmits) unless the link is cut in either direction at dial time, the reply leg is cut
when the reply is sent, or `stream_stall` fires; then the opener gets `reply=None` and an
"i/o timeout" error at the request's own deadline. Results and errors use Go's wording.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple, Protocol

from agent.sim.scheduler import Scheduler
from gossip import Address, StreamRequest

EPHEMERAL_PORT_FIRST = 32768
"""Linux's default ephemeral range (32768-60999) for the opener's side of a stream."""
EPHEMERAL_PORT_COUNT = 60999 - EPHEMERAL_PORT_FIRST + 1


class SimDatagram(NamedTuple):
    """One datagram in flight (a tuple: immutable and cheap, as there is one per send)."""

    src: Address
    dst: Address
    data: bytes
    sent_at: float


Route = Callable[[SimDatagram], Sequence[float] | None]
"""Per-packet hook: return None to let the conditions decide, else one extra delay per copy to
deliver on top of the normal latency: `()` drops, `(0.0,)` delivers once, `(0.0, 0.0)`
duplicates, `(0.5,)` delays by half a second. It sees datagrams only, never streams."""


@dataclass(frozen=True, slots=True)
class NetworkConditions:
    """How one link (or the whole network, by default) behaves; seconds and probabilities."""

    latency_min: float = 0.0002
    """One-way delay floor (loopback-like by default)."""
    latency_mean: float = 0.0001
    """Mean of the exponential added to the floor; 0 gives a fixed latency."""
    loss: float = 0.0
    """Probability that a datagram is dropped."""
    duplicate: float = 0.0
    """Probability that a delivered datagram arrives twice."""
    reorder: float = 0.0
    """Probability that a datagram is held back up to `reorder_delay` more (overtaken)."""
    reorder_delay: float = 0.005
    stream_stall: float = 0.0
    """Probability that a stream exchange hangs until its timeout (a TCP flow stalling)."""
    route: Route | None = field(default=None, compare=False)
    """Optional per-packet hook (trio's `route_packet`); see `Route`."""

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder", "stream_stall"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        for name in ("latency_min", "latency_mean", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    @classmethod
    def loopback(cls) -> NetworkConditions:
        """Processes on one host: ~0.2 ms floor, ~0.1 ms mean on top (the default)."""
        return cls()

    @classmethod
    def lan(cls) -> NetworkConditions:
        """A switched LAN: ~0.3 ms floor, ~0.5 ms mean, rare reordering."""
        return cls(latency_min=0.0003, latency_mean=0.0005, reorder=0.001)

    @classmethod
    def wan(cls) -> NetworkConditions:
        """Across regions: 30 ms floor, 10 ms mean, a little loss and reordering."""
        return cls(latency_min=0.03, latency_mean=0.01, loss=0.001, reorder=0.01)


class Receiver(Protocol):
    """What the network delivers into: one process bound to an address."""

    @property
    def running(self) -> bool: ...

    def receive_datagram(self, src: Address, data: bytes) -> None: ...

    def receive_stream(self, exchange: StreamExchange) -> None: ...

    def receive_stream_result(self, token: int, reply: bytes | None, error: str | None) -> None: ...


class StreamExchange:
    """One TCP exchange in flight.

    `origin` is the opener's listening address (what partitions are keyed by); `src` is the
    (host, ephemeral port) the listener sees, as `conn.RemoteAddr()` would show it.
    """

    __slots__ = ("connected", "done", "dst", "opener", "origin", "request", "src")

    def __init__(
        self, opener: Receiver, origin: Address, src: Address, request: StreamRequest
    ) -> None:
        self.opener = opener
        self.origin = origin
        self.src = src
        self.dst = request.dst
        self.request = request
        self.connected = False
        self.done = False


class NetworkTap(Protocol):
    """Watches what is put on the wire (the teaching demo draws packets in flight from it)."""

    def datagram_sent(self, src: Address, dst: Address, data: bytes, dropped: bool) -> None:
        """One datagram left `src`; `dropped`: the network decided at once it never arrives."""
        ...

    def stream_opened(self, src: Address, dst: Address, cut: bool) -> None:
        """`src` dialled `dst`; `cut`: a partition keeps the exchange from happening."""
        ...


class SimNetwork:
    """Addresses, link conditions, partitions, and the in-flight packets on the scheduler."""

    def __init__(
        self, scheduler: Scheduler, rng: random.Random, conditions: NetworkConditions | None = None
    ) -> None:
        self._scheduler = scheduler
        self._rng = rng
        self.conditions = conditions or NetworkConditions()
        self._links: dict[tuple[Address, Address], NetworkConditions] = {}
        self._bound: dict[Address, Receiver] = {}
        self._groups: dict[Address, int] = {}
        self._symmetric = True
        self._blocked: set[tuple[Address, Address]] = set()
        self._cut = False  # any partition or block in force: the fast path skips checks
        self._ports = itertools.count()
        self.datagrams_sent = 0
        self.datagrams_delivered = 0
        self.datagrams_dropped = 0
        self.streams_opened = 0
        self.taps: list[NetworkTap] = []
        """Observers of every send; empty (and free) unless someone watches."""

    # -- bindings ------------------------------------------------------------------------

    def bind(self, addr: Address, receiver: Receiver) -> None:
        """Listen on `addr` (replacing a previous, dead binding)."""
        self._bound[addr] = receiver

    def unbind(self, addr: Address) -> None:
        """Stop listening: datagrams to `addr` drop, streams are refused."""
        self._bound.pop(addr, None)

    # -- conditions and partitions -------------------------------------------------------

    def set_link(self, src: Address, dst: Address, conditions: NetworkConditions | None) -> None:
        """Override the conditions of the one-way link src -> dst; None removes the override."""
        if conditions is None:
            self._links.pop((src, dst), None)
        else:
            self._links[(src, dst)] = conditions

    def partition(self, groups: Sequence[Iterable[Address]], *, symmetric: bool = True) -> None:
        """Replace the partition: members of different groups cannot talk; others reach all.

        With `symmetric=False` only traffic from a group to a later-listed group is cut
        (`partition([a], [b], symmetric=False)`: a -> b blocked, b -> a open).

        Raises:
            ValueError: an address listed in two groups.
        """
        placed: dict[Address, int] = {}
        for index, group in enumerate(groups):
            for addr in group:
                if placed.setdefault(addr, index) != index:
                    raise ValueError(f"{addr} is listed in two partition groups")
        self._groups = placed
        self._symmetric = symmetric
        self._cut = bool(self._groups or self._blocked)

    def block(self, src: Address, dst: Address) -> None:
        """Cut the one-way link src -> dst until `heal()`."""
        self._blocked.add((src, dst))
        self._cut = True

    def heal(self) -> None:
        """Remove every partition and block (link condition overrides stay)."""
        self._groups = {}
        self._blocked = set()
        self._cut = False

    def blocked(self, src: Address, dst: Address) -> bool:
        """Whether a partition or block cuts src -> dst right now."""
        if not self._cut:
            return False
        if (src, dst) in self._blocked:
            return True
        a = self._groups.get(src)
        b = self._groups.get(dst)
        if a is None or b is None or a == b:
            return False
        return True if self._symmetric else a < b

    def _delay(self, conditions: NetworkConditions) -> float:
        rng = self._rng
        delay = conditions.latency_min
        if conditions.latency_mean > 0:
            delay += rng.expovariate(1.0 / conditions.latency_mean)
        if conditions.reorder and rng.random() < conditions.reorder:
            delay += rng.random() * conditions.reorder_delay
        return delay

    # -- datagrams -----------------------------------------------------------------------

    def send_datagram(self, src: Address, dst: Address, data: bytes) -> None:
        """Put one datagram on the wire; its fate is decided now, delivery is scheduled."""
        dropped = self._send_datagram(src, dst, data)
        for tap in self.taps:
            tap.datagram_sent(src, dst, data, dropped)

    def _send_datagram(self, src: Address, dst: Address, data: bytes) -> bool:
        """Decide the datagram's fate and schedule its deliveries; True if it is dropped."""
        self.datagrams_sent += 1
        if self._cut and self.blocked(src, dst):
            self.datagrams_dropped += 1
            return True
        conditions = (
            self._links.get((src, dst), self.conditions) if self._links else self.conditions
        )
        now = self._scheduler.now
        packet = SimDatagram(src, dst, data, now)
        deliver = partial(self._deliver, packet)
        schedule = self._scheduler.schedule
        if conditions.route is not None:
            extras = conditions.route(packet)
            if extras is not None:
                if not extras:
                    self.datagrams_dropped += 1
                for extra in extras:
                    schedule(now + self._delay(conditions) + extra, deliver)
                return not extras
        rng = self._rng
        if conditions.loss and rng.random() < conditions.loss:
            self.datagrams_dropped += 1
            return True
        schedule(now + self._delay(conditions), deliver)
        if conditions.duplicate and rng.random() < conditions.duplicate:
            schedule(now + self._delay(conditions), deliver)
        return False

    def _deliver(self, packet: SimDatagram) -> None:
        receiver = self._bound.get(packet.dst)
        if receiver is None:
            self.datagrams_dropped += 1
            return
        self.datagrams_delivered += 1
        receiver.receive_datagram(packet.src, packet.data)

    # -- streams -------------------------------------------------------------------------

    def open_stream(self, opener: Receiver, src: Address, request: StreamRequest) -> None:
        """Dial `request.dst` from `src`; the outcome reaches `opener.receive_stream_result`."""
        self.streams_opened += 1
        port = EPHEMERAL_PORT_FIRST + next(self._ports) % EPHEMERAL_PORT_COUNT
        exchange = StreamExchange(opener, src, Address(src.host, port), request)
        now = self._scheduler.now
        self._scheduler.schedule(now + request.timeout, partial(self._time_out, exchange))
        cut = self._cut and (self.blocked(src, request.dst) or self.blocked(request.dst, src))
        for tap in self.taps:
            tap.stream_opened(src, request.dst, cut)
        if cut:
            return  # the SYN (or its answer) never gets through: dial i/o timeout
        conditions = self._links.get((src, request.dst), self.conditions)
        if conditions.stream_stall and self._rng.random() < conditions.stream_stall:
            return
        self._scheduler.schedule(now + self._delay(conditions), partial(self._arrive, exchange))

    def _arrive(self, exchange: StreamExchange) -> None:
        if exchange.done:
            return
        receiver = self._bound.get(exchange.dst)
        if receiver is None:
            error = f"dial tcp {exchange.dst}: connect: connection refused"
            self._reply_later(exchange, None, error)
            return
        exchange.connected = True
        receiver.receive_stream(exchange)

    def reply_stream(self, exchange: StreamExchange, reply: bytes | None) -> None:
        """The listener handled `exchange` and answered `reply` (None: closed without one)."""
        if exchange.done:
            return  # the opener gave up already; the listener still did the work
        if self._cut and self.blocked(exchange.dst, exchange.origin):
            return  # the reply leg is cut now: the opener's read times out
        if not exchange.request.expect_reply:
            self._reply_later(exchange, None, None)
        elif reply is None:
            self._reply_later(exchange, None, "EOF")
        else:
            self._reply_later(exchange, reply, None)

    def _reply_later(
        self, exchange: StreamExchange, reply: bytes | None, error: str | None
    ) -> None:
        conditions = self._links.get((exchange.dst, exchange.origin), self.conditions)
        at = self._scheduler.now + self._delay(conditions)
        self._scheduler.schedule(at, partial(self._finish, exchange, reply, error))

    def _time_out(self, exchange: StreamExchange) -> None:
        if exchange.connected:
            error = f"read tcp {exchange.src}->{exchange.dst}: i/o timeout"
        else:
            error = f"dial tcp {exchange.dst}: i/o timeout"
        self._finish(exchange, None, error)

    def _finish(self, exchange: StreamExchange, reply: bytes | None, error: str | None) -> None:
        if exchange.done:
            return
        exchange.done = True
        if exchange.opener.running:
            exchange.opener.receive_stream_result(exchange.request.token, reply, error)
