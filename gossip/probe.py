"""Failure detection: memberlist's probe round and the serving side of probes (state.go:
probe, probeNode; net.go: handlePing, handleIndirectPing, handleAck, handleNack).

Theory of operation. Every `probe_interval` the prober picks the next node in a shuffled
round-robin order and pings it. An ack within `probe_timeout` ends the probe well. Otherwise
`indirect_checks` random alive peers are asked to ping the target for us (they nack if they
get nothing, when they understand protocol 4), and the target is also pinged over TCP. If
nothing answers before the probe's end (probe_interval scaled by our health score) the target
becomes suspect, and our health score rises by one, or by the number of missing nacks: when
helpers could not reach the target either we are probably not the problem.

A suspect target gets the accusation with its ping (Lifeguard's buddy system) so it can
refute at once. Ticks that fall while a probe runs are dropped, but one fires as soon as it
ends, as with Go's ticker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gossip.awareness import Awareness
from gossip.codec import decode_stream, encode, encode_compound
from gossip.config import GossipConfig
from gossip.deadlines import DeadlineScheduler
from gossip.errors import DecodeError
from gossip.flyweights import address_of
from gossip.membership import Membership, NodeEntry
from gossip.messages import AckResp, IndirectPing, NackResp, Ping, Suspect
from gossip.outbox import Outbox
from gossip.stream_purposes import TcpPing
from gossip.timers import (
    ProbeEnd,
    ProbeFallback,
    ProbeTimeout,
    ProbeTimer,
    RelayTimeout,
    TimerKind,
)
from gossip.types import Address, NodeState


def next_tick(phase: float, interval: float, now: float) -> float:
    """The first tick of a ticker started at `phase` that falls strictly after `now`.

    Like Go's ticker, a late reader does not get the missed ticks, only the next one.
    """
    if now < phase:
        return phase
    at = phase + (int((now - phase) // interval) + 1) * interval
    while at <= now:  # float rounding can land a tick back on `now`
        at += interval
    return at


@dataclass(slots=True)
class _Probe:
    seq: int
    target: NodeEntry
    incarnation: int
    end_at: float
    timeout_key: ProbeTimeout
    end_key: ProbeEnd
    """The probe's deadline keys, built once: every node arms and cancels them each second."""
    fallback_key: ProbeFallback | None = None
    """Set once the fallback deadline is armed (the only time it needs cancelling)."""
    expected_nacks: int = 0
    nacks: int = 0
    fallback_pending: bool = False
    fallback_ok: bool = False
    expired: bool = False


@dataclass(slots=True)
class _Relay:
    requester: Address
    seq_no: int
    nack: bool


class Prober:
    """The probe loop of one node plus its answers to other nodes' probes."""

    def __init__(
        self,
        config: GossipConfig,
        *,
        name: str,
        addr: Address,
        addr_bytes: bytes,
        membership: Membership,
        awareness: Awareness,
        deadlines: DeadlineScheduler[ProbeTimer],
        outbox: Outbox,
        on_decode_error: Callable[[], None],
    ) -> None:
        self.config = config
        self.name = name
        self.addr = addr
        self.addr_bytes = addr_bytes
        self.membership = membership
        self.awareness = awareness
        self.deadlines = deadlines
        self.outbox = outbox
        self.on_decode_error = on_decode_error
        self.stopped = False
        self.tick_at = 0.0
        self._seq = 0
        self._acks: dict[int, _Probe | _Relay] = {}
        self._probe: _Probe | None = None
        self._tick_pending = False
        self._index = 0
        self.probes_sent = 0
        """Probes started, and those that ended without an ack (for metrics)."""
        self.probes_failed = 0

    def start(self, first_tick_at: float) -> None:
        if self.config.probe_interval > 0:
            self.tick_at = first_tick_at
            self.deadlines.schedule(TimerKind.PROBE, first_tick_at)

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    # ---- timers ---------------------------------------------------------------------------

    def on_deadline(self, now: float, key: ProbeTimer) -> None:
        match key:
            case TimerKind.PROBE:
                self.tick_at = next_tick(self.tick_at, self.config.probe_interval, now)
                self.deadlines.schedule(TimerKind.PROBE, self.tick_at)
                if self._probe is not None:
                    self._tick_pending = True
                else:
                    self._round(now)
            case ProbeTimeout(seq):
                self._on_probe_timeout(now, seq)
            case ProbeEnd(seq):
                self._on_probe_end(now, seq)
            case RelayTimeout(seq):
                self._on_relay_timeout(seq)
            case ProbeFallback(seq):
                self._on_fallback_overdue(now, seq)

    def _round(self, now: float) -> None:
        """memberlist probe: the next live node in the (shuffled) round-robin order."""
        membership = self.membership
        num_check = 0
        while num_check < len(membership.nodes):
            if self._index >= len(membership.nodes):
                membership.reset_nodes(now)
                self._index = 0
                num_check += 1
                continue
            node = membership.nodes[self._index]
            self._index += 1
            if node.name == self.name or node.dead_or_left():
                num_check += 1
                continue
            self._probe_node(now, node)
            return

    def _probe_node(self, now: float, node: NodeEntry) -> None:
        interval = self.awareness.scale_timeout(self.config.probe_interval)
        seq = self.next_seq()
        probe = _Probe(
            seq, node, node.incarnation, now + interval, ProbeTimeout(seq), ProbeEnd(seq)
        )
        self._acks[seq] = probe
        self._probe = probe
        self.probes_sent += 1
        ping = encode(Ping(seq, node.name, self.addr_bytes, self.addr.port, self.name))
        if node.state == NodeState.ALIVE:
            self.outbox.send_msg(node.address, ping)
        else:  # Lifeguard buddy system: tell the suspect at once so it can refute
            suspect = encode(Suspect(node.incarnation, node.name, self.name))
            compound = encode_compound([ping, suspect])
            self.outbox.raw_send(node.address, compound, crc=node.protocol_max >= 5)
        self.deadlines.schedule(probe.timeout_key, now + self.config.probe_timeout)
        self.deadlines.schedule(probe.end_key, probe.end_at)

    def _on_probe_timeout(self, now: float, seq: int) -> None:
        """No direct ack in time: ask helpers, and try the target over TCP."""
        probe = self._probe
        if probe is None or probe.seq != seq or seq not in self._acks:
            return
        target = probe.target
        me = self.name

        def exclude(n: NodeEntry) -> bool:
            return n.name == me or n.name == target.name or n.state != NodeState.ALIVE

        for peer in self.membership.k_random_nodes(self.config.indirect_checks, exclude):
            nack = peer.protocol_max >= 4
            probe.expected_nacks += nack
            req = IndirectPing(
                seq,
                target.addr,
                target.port,
                target.name,
                nack,
                self.addr_bytes,
                self.addr.port,
                self.name,
            )
            self.outbox.send_msg(peer.address, encode(req))
        if not self.config.disable_tcp_pings and target.protocol_max >= 3:
            ping = Ping(seq, target.name, self.addr_bytes, self.addr.port, self.name)
            timeout = max(0.0, probe.end_at - now)  # a late timer: the deadline may have passed
            self.outbox.open_stream(target.address, ping, timeout, TcpPing(seq))
            probe.fallback_pending = True

    def _on_probe_end(self, now: float, seq: int) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq:
            return
        self._acks.pop(seq, None)
        probe.expired = True
        if not probe.fallback_pending:
            self._finish(now, probe, success=probe.fallback_ok)
        else:  # the driver times the stream out by now; never wait on it forever
            probe.fallback_key = ProbeFallback(seq)
            self.deadlines.schedule(probe.fallback_key, now + self.config.probe_timeout)

    def _on_fallback_overdue(self, now: float, seq: int) -> None:
        probe = self._probe
        if probe is not None and probe.seq == seq and probe.fallback_pending:
            probe.fallback_pending = False
            self._finish(now, probe, success=False)

    def _finish(self, now: float, probe: _Probe, *, success: bool) -> None:
        self._acks.pop(probe.seq, None)
        self.deadlines.cancel(probe.timeout_key)
        self.deadlines.cancel(probe.end_key)
        if probe.fallback_key is not None:
            self.deadlines.cancel(probe.fallback_key)
        self._probe = None
        if success:
            self.awareness.apply_delta(-1)
        else:
            self.probes_failed += 1
            if probe.expected_nacks > 0:
                self.awareness.apply_delta(max(0, probe.expected_nacks - probe.nacks))
            else:
                self.awareness.apply_delta(1)
            target = probe.target
            self.membership.apply_suspect(now, Suspect(probe.incarnation, target.name, self.name))
        if self._tick_pending and not self.stopped:
            self._tick_pending = False
            self._round(now)

    def on_tcp_ping_result(self, now: float, seq: int, reply: bytes | None) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq:
            return
        ok = False
        if reply is not None:
            try:
                msg = decode_stream(reply)
            except DecodeError:
                self.on_decode_error()
            else:
                ok = isinstance(msg, AckResp) and msg.seq_no == seq
        probe.fallback_pending = False
        probe.fallback_ok = ok
        if probe.expired:
            self._finish(now, probe, success=ok)

    # ---- serving other nodes' probes --------------------------------------------------------

    def on_ping(self, src: Address, ping: Ping) -> None:
        if ping.node and ping.node != self.name:
            return  # as memberlist: a ping for a previous owner of this address
        dst = src
        if ping.source_addr and ping.source_port:
            dst = address_of(ping.source_addr, ping.source_port)
        self.outbox.send_msg(dst, encode(AckResp(ping.seq_no)))

    def on_ack(self, now: float, ack: AckResp) -> None:
        handler = self._acks.pop(ack.seq_no, None)
        if handler is None:
            return
        if isinstance(handler, _Probe):
            self._finish(now, handler, success=True)
        else:
            self.deadlines.cancel(RelayTimeout(ack.seq_no))
            self.outbox.send_msg(handler.requester, encode(AckResp(handler.seq_no)))

    def on_nack(self, nack: NackResp) -> None:
        handler = self._acks.get(nack.seq_no)
        if isinstance(handler, _Probe) and handler.nacks < self.config.indirect_checks + 1:
            handler.nacks += 1

    def on_indirect_ping(self, now: float, src: Address, req: IndirectPing) -> None:
        """Probe `req.target` on the requester's behalf; relay the ack, or a nack if asked."""
        target = address_of(req.target, req.port or self.addr.port)
        requester = src
        if req.source_addr and req.source_port:
            requester = address_of(req.source_addr, req.source_port)
        seq = self.next_seq()
        self._acks[seq] = _Relay(requester, req.seq_no, req.nack)
        self.deadlines.schedule(RelayTimeout(seq), now + self.config.probe_timeout)
        ping = Ping(seq, req.node, self.addr_bytes, self.addr.port, self.name)
        self.outbox.send_msg(target, encode(ping))

    def _on_relay_timeout(self, seq: int) -> None:
        handler = self._acks.pop(seq, None)
        if isinstance(handler, _Relay) and handler.nack:
            self.outbox.send_msg(handler.requester, encode(NackResp(handler.seq_no)))
