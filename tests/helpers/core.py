"""Helpers for the core unit tests: build cores, craft packets, move bytes in virtual time.

In the spirit of aioquic's `transfer()` / `roundtrip()`: a `Net` wires a few in-memory
`SerfCore`s by address. Tests either let it deliver everything (`flush`, `run`) or move
datagrams by hand (`tick`, `take`, `give`) and drop the ones they want lost. Addresses that
belong to no core can be registered as *fake peers*: they ack every ping addressed to them
and ignore everything else, so a core can know many live members without simulating them.

Only the cores' public API is used, plus the few reads the suite allows itself
(`swim.membership.node_map`, `swim.awareness.score`, the decode-error counters); they are
wrapped here so a refactor of the cores touches one file.
"""

from __future__ import annotations

import contextlib
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gossip import (
    Address,
    GossipEvent,
    JoinCompleted,
    MemberEvent,
    MemberEventType,
    SerfConfig,
    SerfCore,
    StreamRequest,
    Versions,
)
from gossip.codec import (
    decode_packet,
    decode_serf,
    decode_stream,
    encode,
    encode_compound,
    encode_serf,
    encode_tags,
)
from gossip.errors import DecodeError
from gossip.messages import (
    AckResp,
    Alive,
    PacketMessage,
    Ping,
    SerfMessage,
    StreamMessage,
    Suspect,
    UserMsg,
)
from gossip.types import NodeState, bytes_to_ip, ip_to_bytes

PORT = 7946
VSN = Versions().to_vsn()
"""What a default core advertises: [1, 5, 2, 2, 5, 4]."""
PROBER = Address("10.9.9.9", PORT)
"""A fake outsider used to pull piggybacked broadcasts out of a core."""

QUIET: dict[str, Any] = {
    "gossip_nodes": 0,
    "push_pull_interval": 0.0,
    "reap_interval": 1e6,
    "reconnect_interval": 1e6,
    "queue_check_interval": 1e6,
}
"""Overrides that leave only the probe loop running, so a probe's deadlines and datagrams
are exactly what `next_deadline()` and `datagrams_to_send()` show (broadcasts still ride
on pings and acks)."""


def addr(ip: str, port: int = PORT) -> Address:
    return Address(ip, port)


def make_core(
    name: str,
    ip: str,
    *,
    seed: int | None = None,
    tags: dict[str, str] | None = None,
    now: float = 0.0,
    versions: Versions | None = None,
    restored_clocks: tuple[int, int, int] | None = None,
    restored_incarnation: int = 0,
    **overrides: Any,
) -> SerfCore:
    """A LAN-profile SerfCore; the seed defaults to one derived from the name.

    `restored_*` stand for a snapshot of a previous run (SerfCore's restore hooks)."""
    if versions is not None:
        overrides["versions"] = versions
    config = SerfConfig.profile("lan", **overrides)
    rng = random.Random(zlib.crc32(name.encode()) if seed is None else seed)
    return SerfCore(
        config,
        name=name,
        addr=addr(ip),
        tags=tags if tags is not None else {},
        rng=rng,
        now=now,
        restored_clocks=restored_clocks,
        restored_incarnation=restored_incarnation,
    )


# ---- reading a core (the only non-API reads of the suite) ---------------------------------------


def entry(core: SerfCore, name: str) -> Any:
    """memberlist's entry for `name` in `core`'s table, or None."""
    return core.swim.membership.node_map.get(name)


def view(core: SerfCore, name: str) -> tuple[NodeState, int] | None:
    """(memberlist state, incarnation) of `name` as `core` sees it."""
    e = entry(core, name)
    return None if e is None else (e.state, e.incarnation)


def score(core: SerfCore) -> int:
    """Lifeguard health score (serf's `health_score`)."""
    return core.swim.awareness.score


def decode_errors(core: SerfCore) -> int:
    """Everything the core counted as undecodable, memberlist and serf layers together."""
    return core.swim.decode_errors + core.decode_errors


def status(core: SerfCore, name: str) -> str | None:
    """serf status of `name` in `core`'s member list, or None when absent."""
    for m in core.members():
        if m.name == name:
            return str(m.status)
    return None


def member(core: SerfCore, name: str) -> Any:
    return next((m for m in core.members() if m.name == name), None)


def snapshot(core: SerfCore) -> tuple[Any, ...]:
    """Everything a malformed input must leave alone: members, table, stats."""
    table = sorted(
        (e.name, int(e.state), e.incarnation, e.addr, e.port, e.meta, e.vsn)
        for e in core.swim.membership.node_map.values()
    )
    members = sorted((m.name, str(m.status), m.addr, m.port) for m in core.members())
    return (table, members, core.stats())


def drain_events(core: SerfCore) -> list[GossipEvent]:
    out = []
    while (ev := core.next_event()) is not None:
        out.append(ev)
    return out


def member_events(events: Iterable[GossipEvent]) -> list[tuple[str, str]]:
    """(event type, member name) pairs, e.g. ("member-join", "b")."""
    return [(str(e.type), e.member.name) for e in events if isinstance(e, MemberEvent)]


# ---- crafting and reading packets ---------------------------------------------------------------


def alive(
    name: str,
    ip: str,
    inc: int = 1,
    *,
    meta: bytes | None = None,
    vsn: bytes = VSN,
    port: int = PORT,
) -> Alive:
    meta = encode_tags({}) if meta is None else meta
    return Alive(inc, name, ip_to_bytes(ip), port, meta, vsn)


def user(msg: SerfMessage) -> UserMsg:
    """A serf message as memberlist carries it."""
    return UserMsg(encode_serf(msg))


def packet(*msgs: PacketMessage) -> bytes:
    """One datagram: a bare message, or a compound of several."""
    parts = [encode(m) for m in msgs]
    return parts[0] if len(parts) == 1 else encode_compound(parts)


def inject(core: SerfCore, now: float, *msgs: PacketMessage, src: Address = PROBER) -> None:
    """Hand `core` one datagram holding `msgs`."""
    core.handle_datagram(now, src, packet(*msgs))


def messages(data: bytes) -> list[PacketMessage]:
    return decode_packet(data).messages


def serf_of(msgs: Iterable[PacketMessage]) -> list[SerfMessage]:
    """The serf messages riding in memberlist user messages."""
    out = []
    for m in msgs:
        if isinstance(m, UserMsg):
            with contextlib.suppress(DecodeError):
                out.append(decode_serf(m.payload))
    return out


def of(kind: type, msgs: Iterable[Any]) -> list[Any]:
    return [m for m in msgs if isinstance(m, kind)]


def piggyback(core: SerfCore, now: float, seq: int = 4242) -> list[Any]:
    """Ping `core` from PROBER and return what rides on its ack: memberlist broadcasts as
    messages, serf broadcasts decoded. Use on a core whose other output does not matter."""
    ping = Ping(seq, core.swim.name, ip_to_bytes(PROBER.host), PROBER.port, "prober")
    core.handle_datagram(now, PROBER, encode(ping))
    out: list[Any] = []
    for d in core.datagrams_to_send():
        if d.dst != PROBER:
            continue
        msgs = messages(d.data)
        assert AckResp(seq) in msgs, msgs
        out += [m for m in msgs if not isinstance(m, AckResp | UserMsg)]
        out += serf_of(msgs)
    return out


def drain_broadcasts(core: SerfCore, now: float) -> None:
    """Pull piggybacks until nothing is left queued."""
    for _ in range(64):
        if not piggyback(core, now):
            return
    raise AssertionError("broadcast queue never drained")


# ---- the in-memory network ----------------------------------------------------------------------


@dataclass(frozen=True)
class Packet:
    """One datagram that left a node, delivered or not."""

    at: float
    src: Address
    dst: Address
    data: bytes

    @property
    def messages(self) -> list[PacketMessage]:
        return messages(self.data)

    @property
    def serf(self) -> list[SerfMessage]:
        return serf_of(self.messages)


@dataclass(frozen=True)
class Exchange:
    """One stream a node opened, with the reply it got (None = failed, see `error`)."""

    at: float
    src: str
    request: StreamRequest
    reply: bytes | None
    error: str | None

    @property
    def message(self) -> StreamMessage:
        return decode_stream(self.request.data)


def refused(dst: Address) -> str:
    """The error text Go's dialer gives for a closed port."""
    return f"dial tcp {dst}: connect: connection refused"


class Net:
    """A few cores and fake peers on a lossless, zero-latency network in virtual time."""

    def __init__(self) -> None:
        self.cores: dict[str, SerfCore] = {}
        self.addrs: dict[str, Address] = {}
        self.names: dict[Address, str] = {}
        self.fakes: dict[Address, str] = {}
        self.down: set[str] = set()
        self.drop: Callable[[Packet], bool] = lambda p: False
        """Loss: datagrams for which this returns True are logged but not delivered."""
        self.now = 0.0
        self.packets: list[Packet] = []
        self.exchanges: list[Exchange] = []
        self.events: list[tuple[float, str, GossipEvent]] = []

    # ---- building -------------------------------------------------------------------------------

    def add(self, name: str, ip: str, **kwargs: Any) -> SerfCore:
        core = make_core(name, ip, now=self.now, **kwargs)
        self.cores[name] = core
        self.addrs[name] = addr(ip)
        self.names[addr(ip)] = name
        self._collect(name)
        return core

    def restart(self, name: str, **kwargs: Any) -> SerfCore:
        """Replace `name` by a fresh process at the same address that knows nobody."""
        self.down.discard(name)
        ip = self.addrs[name].host
        core = make_core(name, ip, now=self.now, **kwargs)
        self.cores[name] = core
        self._collect(name)
        return core

    def add_fake(self, name: str, ip: str) -> Address:
        """A peer that acks pings for `name` (or for no name) and ignores everything else."""
        self.fakes[addr(ip)] = name
        self.addrs[name] = addr(ip)
        return addr(ip)

    def __getitem__(self, name: str) -> SerfCore:
        return self.cores[name]

    # ---- time -----------------------------------------------------------------------------------

    def at(self, now: float) -> float:
        assert now >= self.now, f"time can't go backwards in a test: {now} < {self.now}"
        self.now = now
        return now

    # ---- manual moves (aioquic style) -----------------------------------------------------------

    def tick(self, name: str, now: float) -> list[Packet]:
        """Run `name`'s timers at `now`; return (without delivering) the datagrams it sent."""
        self.cores[name].handle_timer(self.at(now))
        return self.take(name)

    def take(self, name: str) -> list[Packet]:
        """Drain `name`'s outgoing datagrams (logged, not delivered)."""
        core = self.cores[name]
        self._collect(name)
        out = [Packet(self.now, self.addrs[name], d.dst, d.data) for d in core.datagrams_to_send()]
        self.packets += out
        return out

    def streams(self, name: str) -> list[StreamRequest]:
        """Drain `name`'s stream requests (not carried out)."""
        return self.cores[name].streams_to_open()

    def give(self, packets: Iterable[Packet], now: float | None = None) -> None:
        """Deliver datagrams to their destinations at `now`; replies stay queued."""
        now = self.at(self.now if now is None else now)
        for p in packets:
            self._deliver(p, now)

    def exchange(self, name: str, request: StreamRequest, now: float | None = None) -> Exchange:
        """Carry out one stream `name` asked for: the peer answers (or the dial fails)."""
        now = self.at(self.now if now is None else now)
        core = self.cores[name]
        dst = self.names.get(request.dst)
        reply: bytes | None = None
        error: str | None = None
        if dst is None or dst in self.down or name in self.down:
            error = refused(request.dst)
        else:
            reply = self.cores[dst].handle_stream(now, self.addrs[name], request.data)
            self._collect(dst)
            if reply is None:
                error = "EOF"
        core.handle_stream_result(now, request.token, reply, error)
        self._collect(name)
        ex = Exchange(now, name, request, reply, error)
        self.exchanges.append(ex)
        return ex

    def inject(self, name: str, now: float, *msgs: PacketMessage, src: Address = PROBER) -> None:
        """Hand `name` one datagram holding `msgs` at `now` (replies stay queued)."""
        inject(self.cores[name], self.at(now), *msgs, src=src)
        self._collect(name)

    def fail(self, name: str, request: StreamRequest, now: float, error: str) -> None:
        """Report a stream as failed with the driver's `error` text."""
        self.cores[name].handle_stream_result(self.at(now), request.token, None, error)
        self._collect(name)

    # ---- automatic delivery ---------------------------------------------------------------------

    def flush(self, now: float | None = None) -> list[Packet]:
        """Deliver everything queued, and everything that provokes, until quiet."""
        now = self.at(self.now if now is None else now)
        start = len(self.packets)
        busy = True
        while busy:
            busy = False
            for name in list(self.cores):
                for p in self.take(name):
                    busy = True
                    self._deliver(p, now)
                for request in self.streams(name):
                    busy = True
                    self.exchange(name, request, now)
        return self.packets[start:]

    def run(self, until: float) -> None:
        """Fire every core's deadlines in time order up to `until`, flushing after each."""
        self.flush()
        while True:
            due = [
                (d, n)
                for n, c in self.cores.items()
                if n not in self.down and (d := c.next_deadline()) is not None
            ]
            if not due or min(due)[0] > until:
                break
            t = max(self.now, min(due)[0])
            self.at(t)
            for d, n in sorted(due):
                if d <= t:
                    self.cores[n].handle_timer(t)
            self.flush()
        if until > self.now:
            self.at(until)

    def join(self, name: str, *seeds: str, now: float | None = None) -> JoinCompleted:
        """`name` joins the named seeds; streams run at once. Returns the JoinCompleted."""
        now = self.at(self.now if now is None else now)
        token = self.cores[name].join(now, [self.addrs[s] for s in seeds])
        self.flush()
        done = [e for _, n, e in self.events if n == name and isinstance(e, JoinCompleted)]
        return next(e for e in done if e.token == token)

    # ---- observing ------------------------------------------------------------------------------

    def events_of(self, name: str, since: float = 0.0) -> list[GossipEvent]:
        """Events `name` emitted at or after `since` (times are when the Net collected them)."""
        for n in self.cores:
            self._collect(n)
        return [e for at, n, e in self.events if n == name and at >= since]

    def member_events(self, name: str, since: float = 0.0) -> list[tuple[str, str]]:
        return member_events(self.events_of(name, since))

    def event_times(self, name: str, kind: MemberEventType, member_name: str) -> list[float]:
        for n in self.cores:
            self._collect(n)
        return [
            at
            for at, n, e in self.events
            if n == name
            and isinstance(e, MemberEvent)
            and e.type is kind
            and e.member.name == member_name
        ]

    def sent(self, src: str, kind: type | None = None, since: float = 0.0) -> list[Packet]:
        """Datagrams `src` sent since `since`, optionally only those holding a `kind`."""
        me = self.addrs[src]
        out = [p for p in self.packets if p.src == me and p.at >= since]
        if kind is not None:
            out = [p for p in out if of(kind, p.messages) or of(kind, p.serf)]
        return out

    # ---- internals ------------------------------------------------------------------------------

    def _collect(self, name: str) -> None:
        core = self.cores[name]
        while (ev := core.next_event()) is not None:
            self.events.append((self.now, name, ev))

    def _lost(self, p: Packet) -> bool:
        src, dst = self.names.get(p.src), self.names.get(p.dst)
        return src in self.down or dst in self.down or self.drop(p)

    def _deliver(self, p: Packet, now: float) -> None:
        if self._lost(p):
            return
        dst = self.names.get(p.dst)
        if dst is not None:
            self.cores[dst].handle_datagram(now, p.src, p.data)
            self._collect(dst)
            return
        fake = self.fakes.get(p.dst)
        if fake is None:
            return
        for m in p.messages:
            if isinstance(m, Ping) and m.node in ("", fake):
                to = p.src
                if m.source_addr and m.source_port:
                    to = Address(bytes_to_ip(m.source_addr), m.source_port)
                ack = Packet(now, p.dst, to, encode(AckResp(m.seq_no)))
                self.packets.append(ack)
                self._deliver(ack, now)

    # ---- probing --------------------------------------------------------------------------------

    def run_core(self, name: str, until: float) -> list[Packet]:
        """Fire only `name`'s deadlines up to `until`, each at its exact time; return what it
        sent, undelivered."""
        core = self.cores[name]
        out: list[Packet] = []
        while (d := core.next_deadline()) is not None and d <= until:
            out += self.tick(name, max(d, self.now))
        return out

    def probe(self, prober: str, target: str | None = None) -> tuple[float, Packet]:
        """Run `prober`'s own deadlines until it pings `target` (anyone if None).

        Returns the probe's start time (a tick of the probe loop) and the datagram holding
        the ping, undelivered. Probes of other nodes on the way are answered at once.
        """
        core = self.cores[prober]
        for _ in range(64):
            now = core.next_deadline()
            assert now is not None
            out = self.tick(prober, max(now, self.now))
            for p in out:
                pings = of(Ping, p.messages)
                if pings and (target is None or pings[0].node == target):
                    self.give([q for q in out if q is not p])
                    return self.now, p
            self.give(out)  # someone else was probed: let it ack
            for name in list(self.cores):
                if name != prober:
                    self.give(self.take(name))
        raise AssertionError(f"{prober} never probed {target}")


def suspect_of(msgs: Iterable[Any], node: str) -> list[Suspect]:
    return [m for m in msgs if isinstance(m, Suspect) and m.node == node]
