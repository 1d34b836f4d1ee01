"""Injected network faults: what `-enable-fault-injection` lets an operator drop or delay.

A `Fault` names a peer, a direction and what happens to that peer's traffic: a `drop` (each
packet, stream or frame lost with probability `rate`) or a `delay` (held back `delay_ms`).
The `FaultTable` holds the agent's active faults and answers the asyncio drivers' one
question per packet, stream or frame: drop it, or hold it back for how long? It lives in the
Agent (one table per agent, no module state) and rolls its drops on a seeded RNG derived from
the agent's, so a seeded agent drops the same packets every run.

Matching: a peer is an `ip` (every port of that host) or an `ip:port` (that socket address
only). Traffic is matched on its remote address: the destination of what we send, the source
of a datagram we receive. An inbound TCP connection comes from an ephemeral port, so it is
matched by IP alone unless its payload names the sender's listener (RPC frames carry it).

The drivers check `FaultTable.active` first, so an agent without faults pays one attribute
read per packet. The sans-IO cores never see any of this: to them a dropped packet is one the
network lost, a delayed one is a slow network.
"""

from __future__ import annotations

import ipaddress
import math
import random
from dataclasses import dataclass
from enum import StrEnum

from gocompat import AddressError, join_host_port, split_host_port

MAX_DELAY_MS = 3_600_000.0
"""An hour: longer holds are a typo, not a test, and would pin memory for that long."""


class FaultError(ValueError):
    """A fault that cannot be applied: a malformed peer, direction, rate or delay."""


class Direction(StrEnum):
    """Which way the affected traffic flows, seen from this agent."""

    IN = "in"
    OUT = "out"
    BOTH = "both"

    def covers(self, flow: Direction) -> bool:
        """Whether a fault in this direction applies to traffic flowing `flow` (IN or OUT)."""
        return self is Direction.BOTH or self is flow

    @classmethod
    def parse(cls, text: str) -> Direction:
        """Raises FaultError naming the allowed values."""
        try:
            return cls(text)
        except ValueError:
            raise FaultError(f"invalid direction {text!r}: expected in, out or both") from None


class FaultKind(StrEnum):
    DROP = "drop"
    DELAY = "delay"


@dataclass(frozen=True, slots=True)
class Peer:
    """A remote host (`port` None: every port of it) or one remote socket address."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Peer:
        """`ip`, `ip:port` or `[ipv6]:port`; the IP is normalised (`::1`, not `0::1`).

        Raises:
            FaultError: not an IP literal (host names are not resolved), or a bad port.
        """
        raw = text.strip()
        if not raw:
            raise FaultError("missing peer")
        expected = f"invalid peer {text!r}: expected an IP address or ip:port"
        host, port = raw, None
        try:
            ipaddress.ip_address(raw)
        except ValueError:
            if not (raw.startswith("[") or raw.count(":") == 1):
                raise FaultError(expected) from None
            try:
                host, port = split_host_port(raw, 0)
            except AddressError as exc:
                raise FaultError(f"invalid peer {text!r}: {exc}") from None
            if not 0 < port <= 65535:
                raise FaultError(f"invalid peer {text!r}: port must be 1-65535") from None
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise FaultError(expected) from None
        return cls(str(ip), port)

    def matches(self, host: str, port: int | None) -> bool:
        """Whether traffic with remote `host:port` is this peer's (`port` None: unknown, as
        for an inbound connection's ephemeral source, so the host alone decides)."""
        return host == self.host and (self.port is None or port is None or port == self.port)

    def __str__(self) -> str:
        return self.host if self.port is None else join_host_port(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. `rate` is the fraction of matching traffic affected."""

    kind: FaultKind
    peer: Peer
    direction: Direction = Direction.BOTH
    rate: float = 1.0
    delay_ms: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and 0.0 <= self.rate <= 1.0):
            raise FaultError(f"invalid rate {self.rate!r}: must be between 0 and 1")
        if not (math.isfinite(self.delay_ms) and 0.0 <= self.delay_ms <= MAX_DELAY_MS):
            raise FaultError(
                f"invalid ms {self.delay_ms!r}: must be between 0 and {MAX_DELAY_MS:.0f}"
            )

    @property
    def key(self) -> tuple[FaultKind, Peer, Direction]:
        """Faults with the same key replace each other; others add up."""
        return (self.kind, self.peer, self.direction)


@dataclass(frozen=True, slots=True)
class ExchangeVerdict:
    """What the faults do to one request-and-reply exchange (a serf stream), decided when
    it starts: whether the request and the reply are lost, and how long each is held."""

    request_lost: bool = False
    request_hold: float = 0.0
    reply_lost: bool = False
    reply_hold: float = 0.0


UNTOUCHED = ExchangeVerdict()


class FaultTable:
    """The agent's active faults, and the drivers' per-packet verdicts on them.

    Several matching drops each roll on their own (any one drops the packet); several
    matching delays hold it for the longest of them.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._faults: dict[tuple[FaultKind, Peer, Direction], Fault] = {}
        self.active = False
        """False while the table is empty: the drivers' one check on their hot path."""

    def list(self) -> list[Fault]:
        """The active faults, in the order they were first set."""
        return list(self._faults.values())

    def add(self, fault: Fault) -> None:
        self._faults[fault.key] = fault
        self.active = True

    def clear(self, peer: Peer | None = None) -> int:
        """Remove every fault (`peer` None) or that peer's; returns how many went."""
        if peer is None:
            gone = len(self._faults)
            self._faults.clear()
        else:
            keys = [key for key, fault in self._faults.items() if fault.peer == peer]
            for key in keys:
                del self._faults[key]
            gone = len(keys)
        self.active = bool(self._faults)
        return gone

    def drops(self, flow: Direction, host: str, port: int | None) -> bool:
        """Whether to lose one packet, stream or frame flowing `flow` with that remote."""
        for fault in self._faults.values():
            if (
                fault.kind is FaultKind.DROP
                and fault.direction.covers(flow)
                and fault.peer.matches(host, port)
                and (fault.rate >= 1.0 or self._rng.random() < fault.rate)
            ):
                return True
        return False

    def exchange(self, request_flow: Direction, host: str, port: int | None) -> ExchangeVerdict:
        """The verdict on an exchange whose request flows `request_flow` (IN or OUT)."""
        reply_flow = Direction.IN if request_flow is Direction.OUT else Direction.OUT
        return ExchangeVerdict(
            request_lost=self.drops(request_flow, host, port),
            request_hold=self.delay(request_flow, host, port),
            reply_lost=self.drops(reply_flow, host, port),
            reply_hold=self.delay(reply_flow, host, port),
        )

    def delay(self, flow: Direction, host: str, port: int | None) -> float:
        """Seconds to hold back one packet, stream or frame flowing `flow` (0: none)."""
        longest = 0.0
        for fault in self._faults.values():
            if (
                fault.kind is FaultKind.DELAY
                and fault.direction.covers(flow)
                and fault.peer.matches(host, port)
                and (fault.rate >= 1.0 or self._rng.random() < fault.rate)
            ):
                longest = max(longest, fault.delay_ms / 1000.0)
        return longest
