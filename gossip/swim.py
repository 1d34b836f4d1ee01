"""SwimNode: memberlist 0.2.2 as a sans-IO state machine.

Theory of operation. memberlist runs three loops (probe, gossip, push-pull) and reacts to
packets and streams. Here each loop is a deadline in one `DeadlineQueue`; every input takes
the caller's `now`; outputs (datagrams, stream exchanges) are queued for the driver to pull.

- Probing is randomized round robin: `probe_index` walks the member list, reshuffled each
  cycle. One probe: direct ping (plus a `suspect` to a suspect target: Lifeguard's buddy
  system); after `probe_timeout` without an ack, indirect pings through `indirect_checks`
  peers and a TCP fallback ping; when the awareness-scaled probe interval runs out, a failed
  probe raises our health score and suspects the target. Ticks that fall while a probe runs
  are dropped, except one that fires as soon as it ends (Go's ticker buffers one tick).
- Dissemination piggybacks broadcasts on every ping/ack and gossips every `gossip_interval`
  to `gossip_nodes` peers, recently dead ones included so they can refute.
- Push-pull exchanges the whole table with one random peer, on a period that grows with n.
  Join is a push-pull with `join=True`, one seed after another, as memberlist does.

The rules for changing the table live in `membership.py`; the wire format in `codec.py`.
Bad datagrams are counted in `decode_errors` and dropped; they never raise.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gossip.awareness import Awareness
from gossip.broadcasts import TransmitLimitedQueue
from gossip.codec import (
    decode_packet,
    decode_stream,
    encode,
    encode_compound,
    encode_stream,
    maybe_compress,
    wrap_crc,
)
from gossip.config import GossipConfig
from gossip.deadlines import DeadlineQueue
from gossip.errors import DecodeError, UsageError
from gossip.membership import Membership, MembershipListener, NodeEntry
from gossip.messages import (
    AckResp,
    Alive,
    Dead,
    ErrResp,
    IndirectPing,
    NackResp,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    UserMsg,
)
from gossip.outputs import Datagram, StreamRequest
from gossip.protocol import verify_protocol
from gossip.timing import push_pull_scale, retransmit_limit
from gossip.types import Address, NodeState, Versions, bytes_to_ip, ip_to_bytes

META_MAX_SIZE = 512
"""memberlist MetaMaxSize: node meta (serf tags) must fit in this many bytes."""
COMPOUND_HEADER_OVERHEAD = 2
"""Bytes a compound message adds before its parts (type + count)."""
COMPOUND_OVERHEAD = 2
"""Bytes each compound part adds (its u16 length)."""
USER_MSG_OVERHEAD = 1
"""The 0x08 type byte in front of a delegate message."""


def next_tick(phase: float, interval: float, now: float) -> float:
    """The first tick of a ticker started at `phase` that falls strictly after `now`.

    Like Go's ticker, a late reader does not get the missed ticks, only the next one.
    """
    if now < phase:
        return phase
    at = phase + (math.floor((now - phase) / interval) + 1) * interval
    while at <= now:  # float rounding can land a tick back on `now`
        at += interval
    return at


class SwimDelegate(MembershipListener, Protocol):
    """What memberlist asks of serf (memberlist's Delegate + EventDelegate)."""

    def node_meta(self, limit: int) -> bytes: ...
    def notify_msg(self, now: float, payload: bytes) -> None: ...
    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]: ...
    def has_broadcasts(self) -> bool: ...
    def local_state(self, join: bool) -> bytes: ...
    def merge_remote_state(self, now: float, buf: bytes, join: bool) -> None: ...


@dataclass(slots=True)
class _Probe:
    seq: int
    target: NodeEntry
    incarnation: int
    end_at: float
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


@dataclass(slots=True)
class _Join:
    seeds: list[Address]
    on_done: Callable[[float, int, list[str]], None]
    index: int = 0
    joined: int = 0
    errors: list[str] = field(default_factory=list)


class SwimNode:
    """One memberlist instance; see the module docstring."""

    def __init__(
        self,
        config: GossipConfig,
        *,
        name: str,
        addr: Address,
        versions: Versions,
        rng: random.Random,
        now: float,
        delegate: SwimDelegate,
    ) -> None:
        self.config = config
        self.name = name
        self.addr = addr
        self._addr_bytes = ip_to_bytes(addr.host)
        self.versions = versions
        self.rng = rng
        self.delegate = delegate
        self.now = now
        self.deadlines: DeadlineQueue[tuple[object, ...]] = DeadlineQueue()
        self.broadcasts = TransmitLimitedQueue()
        self.awareness = Awareness(config.awareness_max_multiplier)
        self.membership = Membership(
            config,
            name=name,
            rng=rng,
            broadcasts=self.broadcasts,
            awareness=self.awareness,
            deadlines=self.deadlines,  # type: ignore[arg-type]
            listener=delegate,
        )
        self.decode_errors = 0
        self.shut_down = False
        self._datagrams: list[Datagram] = []
        self._streams: list[StreamRequest] = []
        self._stream_purpose: dict[int, tuple[object, ...]] = {}
        self._tokens = itertools.count(1)
        self._seq = 0
        self._acks: dict[int, _Probe | _Relay] = {}
        self._probe: _Probe | None = None
        self._probe_tick_pending = False
        self._probe_index = 0
        self._leave: tuple[object, Callable[[float, str | None], None]] | None = None
        self._probe_tick_at = now
        self._gossip_phase = now
        self._gossip_armed = False
        self._set_alive(now)
        self._schedule_loops(now)

    # ---- setup ----------------------------------------------------------------------------

    def _set_alive(self, now: float) -> None:
        meta = self.delegate.node_meta(META_MAX_SIZE)
        alive = Alive(
            self.membership.next_incarnation(),
            self.name,
            self._addr_bytes,
            self.addr.port,
            meta,
            self.versions.to_vsn(),
        )
        self.membership.apply_alive(now, alive, bootstrap=True)

    def _schedule_loops(self, now: float) -> None:
        """Start the three loops, each after a random stagger (memberlist schedule)."""
        cfg = self.config
        if cfg.probe_interval > 0:
            self._probe_tick_at = now + self.rng.random() * cfg.probe_interval
            self.deadlines.schedule(("probe",), self._probe_tick_at)
        self._gossip_phase = now + self.rng.random() * cfg.gossip_interval
        if cfg.push_pull_interval > 0:
            stagger = self.rng.random() * cfg.push_pull_interval
            self.deadlines.schedule(("push_pull_wait",), now + stagger)

    # ---- driver interface -----------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Record the caller's time; time never goes backwards."""
        if now < self.now:
            raise ValueError(f"time can't go backwards: {now} < {self.now}")
        self.now = now

    def next_deadline(self) -> float | None:
        return None if self.shut_down else self.deadlines.peek()

    def datagrams_to_send(self) -> list[Datagram]:
        out, self._datagrams = self._datagrams, []
        return out

    def streams_to_open(self) -> list[StreamRequest]:
        out, self._streams = self._streams, []
        return out

    def shutdown(self) -> None:
        """Stop everything at once; nothing more is sent (peers will see a failure)."""
        self.shut_down = True
        self._datagrams.clear()
        self._streams.clear()

    def handle_timer(self, now: float) -> None:
        self.advance(now)
        while not self.shut_down:
            due = self.deadlines.pop_due(now)
            if not due:
                break
            for key in due:
                self._on_deadline(now, key)
        self._after_input(now)

    def _on_deadline(self, now: float, key: tuple[object, ...]) -> None:
        kind = key[0]
        if kind == "probe":
            self._probe_tick_at = next_tick(self._probe_tick_at, self.config.probe_interval, now)
            self.deadlines.schedule(key, self._probe_tick_at)
            self._on_probe_tick(now)
        elif kind == "gossip":
            self._gossip_armed = False
            self._gossip(now)
        elif kind == "push_pull_wait":
            n = self.membership.num_nodes()
            at = now + push_pull_scale(self.config.push_pull_interval, n)
            self.deadlines.schedule(("push_pull",), at)
        elif kind == "push_pull":
            self._push_pull(now)
        elif kind == "probe_timeout":
            self._on_probe_timeout(now, key[1])  # type: ignore[arg-type]
        elif kind == "probe_end":
            self._on_probe_end(now, key[1])  # type: ignore[arg-type]
        elif kind == "relay":
            self._on_relay_timeout(key[1])  # type: ignore[arg-type]
        elif kind == "suspect":
            self.membership.suspicion_expired(now, key[1])  # type: ignore[arg-type]
        elif kind == "leave":
            self._finish_leave(now, "timeout waiting for leave broadcast")

    def _after_input(self, now: float) -> None:
        finished = self.broadcasts.take_finished()
        if self._leave is not None and any(t is self._leave[0] for t in finished):
            self._finish_leave(now, None)
        self.wake_gossip(now)

    def wake_gossip(self, now: float) -> None:
        """Arm the gossip loop's next tick if there is anything to gossip.

        memberlist's gossip ticker runs forever, but a round with nothing queued sends
        nothing; so the tick is only scheduled while broadcasts wait, on the same phase
        (stagger + k * GossipInterval) the ticker would have used.
        """
        cfg = self.config
        if self._gossip_armed or self.shut_down or cfg.gossip_interval <= 0:
            return
        if cfg.gossip_nodes <= 0 or not (self.broadcasts or self.delegate.has_broadcasts()):
            return
        self._gossip_armed = True
        at = next_tick(self._gossip_phase, cfg.gossip_interval, now)
        self.deadlines.schedule(("gossip",), at)

    # ---- sending ----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """memberlist getBroadcasts: our own news first, then serf's in the space left."""
        to_send: list[bytes] = []
        if self.broadcasts:
            n = self.membership.num_nodes()
            transmit_limit = retransmit_limit(self.config.retransmit_mult, n)
            to_send = self.broadcasts.get_broadcasts(overhead, limit, transmit_limit)
        avail = limit - sum(len(m) + overhead for m in to_send)
        if avail > overhead + USER_MSG_OVERHEAD and self.delegate.has_broadcasts():
            for msg in self.delegate.get_broadcasts(overhead + USER_MSG_OVERHEAD, avail):
                to_send.append(b"\x08" + msg)
        return to_send

    def _send_msg(self, dst: Address, msg: bytes) -> None:
        """Send one message, piggybacking whatever broadcasts fit (memberlist sendMsg)."""
        avail = self.config.udp_buffer_size - len(msg) - COMPOUND_HEADER_OVERHEAD
        extra = self._get_broadcasts(COMPOUND_OVERHEAD, avail)
        if extra:
            msg = encode_compound([msg, *extra])
        self._raw_send(dst, msg, crc=False)

    def _raw_send(self, dst: Address, msg: bytes, *, crc: bool) -> None:
        """Compress if smaller, CRC-wrap for peers that check it (memberlist rawSendMsgPacket)."""
        if self.config.enable_compression:
            msg = maybe_compress(msg)
        if crc:
            msg = wrap_crc(msg)
        self._datagrams.append(Datagram(dst, msg))

    def _open_stream(self, dst: Address, msg: object, timeout: float, purpose: tuple) -> int:
        token = next(self._tokens)
        data = encode_stream(msg, compress=self.config.enable_compression)  # type: ignore[arg-type]
        self._streams.append(StreamRequest(token, dst, data, timeout))
        self._stream_purpose[token] = purpose
        return token

    # ---- probing ----------------------------------------------------------------------------

    def _on_probe_tick(self, now: float) -> None:
        if self._probe is not None:
            self._probe_tick_pending = True
            return
        self._probe_round(now)

    def _probe_round(self, now: float) -> None:
        """memberlist probe: the next live node in the (shuffled) round-robin order."""
        membership = self.membership
        num_check = 0
        while num_check < len(membership.nodes):
            if self._probe_index >= len(membership.nodes):
                membership.reset_nodes(now)
                self._probe_index = 0
                num_check += 1
                continue
            node = membership.nodes[self._probe_index]
            self._probe_index += 1
            if node.name == self.name or node.dead_or_left():
                num_check += 1
                continue
            self._probe_node(now, node)
            return

    def _probe_node(self, now: float, node: NodeEntry) -> None:
        interval = self.awareness.scale_timeout(self.config.probe_interval)
        seq = self._next_seq()
        probe = _Probe(seq, node, node.incarnation, now + interval)
        self._acks[seq] = probe
        self._probe = probe
        ping = encode(Ping(seq, node.name, self._addr_bytes, self.addr.port, self.name))
        if node.state == NodeState.ALIVE:
            self._send_msg(node.address, ping)
        else:  # Lifeguard buddy system: tell the suspect at once so it can refute
            suspect = encode(Suspect(node.incarnation, node.name, self.name))
            self._raw_send(
                node.address, encode_compound([ping, suspect]), crc=node.protocol_max >= 5
            )
        self.deadlines.schedule(("probe_timeout", seq), now + self.config.probe_timeout)
        self.deadlines.schedule(("probe_end", seq), probe.end_at)

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
                self._addr_bytes,
                self.addr.port,
                self.name,
            )
            self._send_msg(peer.address, encode(req))
        if not self.config.disable_tcp_pings and target.protocol_max >= 3:
            ping = Ping(seq, target.name, self._addr_bytes, self.addr.port, self.name)
            timeout = max(0.0, probe.end_at - now)  # a late timer: the deadline may have passed
            self._open_stream(target.address, ping, timeout, ("tcp_ping", seq))
            probe.fallback_pending = True

    def _on_probe_end(self, now: float, seq: int) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq:
            return
        self._acks.pop(seq, None)
        probe.expired = True
        if not probe.fallback_pending:
            self._finish_probe(now, probe, success=probe.fallback_ok)

    def _finish_probe(self, now: float, probe: _Probe, *, success: bool) -> None:
        self._acks.pop(probe.seq, None)
        self.deadlines.cancel(("probe_timeout", probe.seq))
        self.deadlines.cancel(("probe_end", probe.seq))
        self._probe = None
        if success:
            self.awareness.apply_delta(-1)
        else:
            if probe.expected_nacks > 0:
                self.awareness.apply_delta(max(0, probe.expected_nacks - probe.nacks))
            else:
                self.awareness.apply_delta(1)
            target = probe.target
            self.membership.apply_suspect(now, Suspect(probe.incarnation, target.name, self.name))
        if self._probe_tick_pending and not self.shut_down:
            self._probe_tick_pending = False
            self._probe_round(now)

    def _on_tcp_ping_result(self, now: float, seq: int, reply: bytes | None) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq:
            return
        ok = False
        if reply is not None:
            try:
                msg = decode_stream(reply)
            except DecodeError:
                self.decode_errors += 1
            else:
                ok = isinstance(msg, AckResp) and msg.seq_no == seq
        probe.fallback_pending = False
        probe.fallback_ok = ok
        if probe.expired:
            self._finish_probe(now, probe, success=ok)

    # ---- serving packets ----------------------------------------------------------------------

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        """One UDP datagram from `src`; malformed parts are counted and dropped."""
        self.advance(now)
        if self.shut_down:
            return
        packet = decode_packet(data)
        self.decode_errors += packet.errors
        for msg in packet.messages:
            try:
                self._dispatch(now, src, msg)
            except ValueError:  # e.g. an IP field of the wrong length
                self.decode_errors += 1
        self._after_input(now)

    def _dispatch(self, now: float, src: Address, msg: object) -> None:
        membership = self.membership
        if isinstance(msg, Ping):
            self._on_ping(src, msg)
        elif isinstance(msg, AckResp):
            self._on_ack(now, msg)
        elif isinstance(msg, Alive):
            if len(msg.addr) not in (4, 16):
                raise ValueError("alive with a bad address")
            membership.apply_alive(now, msg)
        elif isinstance(msg, Suspect):
            membership.apply_suspect(now, msg)
        elif isinstance(msg, Dead):
            membership.apply_dead(now, msg)
        elif isinstance(msg, UserMsg):
            self.delegate.notify_msg(now, msg.payload)
        elif isinstance(msg, IndirectPing):
            self._on_indirect_ping(now, src, msg)
        elif isinstance(msg, NackResp):
            self._on_nack(msg)

    def _on_ping(self, src: Address, ping: Ping) -> None:
        if ping.node and ping.node != self.name:
            return  # as memberlist: a ping for a previous owner of this address
        dst = src
        if ping.source_addr and ping.source_port:
            dst = Address(bytes_to_ip(ping.source_addr), ping.source_port)
        self._send_msg(dst, encode(AckResp(ping.seq_no)))

    def _on_ack(self, now: float, ack: AckResp) -> None:
        handler = self._acks.pop(ack.seq_no, None)
        if handler is None:
            return
        if isinstance(handler, _Probe):
            self._finish_probe(now, handler, success=True)
        else:
            self.deadlines.cancel(("relay", ack.seq_no))
            self._send_msg(handler.requester, encode(AckResp(handler.seq_no)))

    def _on_nack(self, nack: NackResp) -> None:
        handler = self._acks.get(nack.seq_no)
        if isinstance(handler, _Probe) and handler.nacks < self.config.indirect_checks + 1:
            handler.nacks += 1

    def _on_indirect_ping(self, now: float, src: Address, req: IndirectPing) -> None:
        """Probe `req.target` on the requester's behalf; relay the ack, or a nack if asked."""
        target = Address(bytes_to_ip(req.target), req.port or self.addr.port)
        requester = src
        if req.source_addr and req.source_port:
            requester = Address(bytes_to_ip(req.source_addr), req.source_port)
        seq = self._next_seq()
        self._acks[seq] = _Relay(requester, req.seq_no, req.nack)
        self.deadlines.schedule(("relay", seq), now + self.config.probe_timeout)
        ping = Ping(seq, req.node, self._addr_bytes, self.addr.port, self.name)
        self._send_msg(target, encode(ping))

    def _on_relay_timeout(self, seq: int) -> None:
        handler = self._acks.pop(seq, None)
        if isinstance(handler, _Relay) and handler.nack:
            self._send_msg(handler.requester, encode(NackResp(handler.seq_no)))

    # ---- gossip -----------------------------------------------------------------------------

    def _gossip(self, now: float) -> None:
        """Send fresh broadcasts to a few random peers, recently dead ones included."""
        me, horizon = self.name, self.config.gossip_to_the_dead_time

        def exclude(n: NodeEntry) -> bool:
            if n.name == me:
                return True
            if n.state <= NodeState.SUSPECT:
                return False
            return n.state != NodeState.DEAD or now - n.state_change_at > horizon

        peers = self.membership.k_random_nodes(self.config.gossip_nodes, exclude)
        avail = self.config.udp_buffer_size - COMPOUND_HEADER_OVERHEAD
        for peer in peers:
            msgs = self._get_broadcasts(COMPOUND_OVERHEAD, avail)
            if not msgs:
                return
            data = msgs[0] if len(msgs) == 1 else encode_compound(msgs)
            self._raw_send(peer.address, data, crc=peer.protocol_max >= 5)

    # ---- push-pull and join -----------------------------------------------------------------

    def local_state(self, join: bool) -> PushPull:
        nodes = tuple(
            PushNodeState(n.name, n.addr, n.port, n.meta, n.incarnation, n.state, n.vsn)
            for n in self.membership.nodes
        )
        return PushPull(join, nodes, self.delegate.local_state(join))

    def _push_pull(self, now: float) -> None:
        me = self.name
        peers = self.membership.k_random_nodes(
            1, lambda n: n.name == me or n.state != NodeState.ALIVE
        )
        if not peers:
            self._rearm_push_pull(now)
            return
        self._open_stream(
            peers[0].address, self.local_state(False), self.config.tcp_timeout, ("push_pull",)
        )

    def _rearm_push_pull(self, now: float) -> None:
        n = self.membership.num_nodes()
        at = now + push_pull_scale(self.config.push_pull_interval, n)
        self.deadlines.schedule(("push_pull",), at)

    def merge_remote_state(self, now: float, remote: PushPull) -> str | None:
        """memberlist mergeRemoteState: version gate, then the table, then serf's state."""
        error = verify_protocol(self.membership.nodes, remote.nodes)
        if error is not None:
            return error
        membership = self.membership
        for r in remote.nodes:
            if r.state == NodeState.ALIVE:
                if len(r.addr) in (4, 16):
                    alive = Alive(r.incarnation, r.name, r.addr, r.port, r.meta, r.vsn)
                    membership.apply_alive(now, alive)
            elif r.state == NodeState.LEFT:
                membership.apply_dead(now, Dead(r.incarnation, r.name, r.name))
            else:  # a peer's dead or suspect only makes us suspect
                membership.apply_suspect(now, Suspect(r.incarnation, r.name, self.name))
        if remote.user_state:
            self.delegate.merge_remote_state(now, remote.user_state, remote.join)
        return None

    def join(
        self, now: float, seeds: Sequence[Address], on_done: Callable[[float, int, list[str]], None]
    ) -> None:
        """Push-pull with each seed in turn; `on_done(now, joined, errors)` when all tried.

        Raises:
            UsageError: no seeds, or the node was shut down.
        """
        self.advance(now)
        if not seeds:
            raise UsageError("join needs at least one address")
        if self.shut_down:
            raise UsageError("join after shutdown")
        self._join_next(now, _Join(list(seeds), on_done))

    def _join_next(self, now: float, job: _Join) -> None:
        if job.index >= len(job.seeds):
            job.on_done(now, job.joined, job.errors)
            return
        seed = job.seeds[job.index]
        job.index += 1
        self._open_stream(seed, self.local_state(True), self.config.tcp_timeout, ("join", job))

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        """The outcome of a stream we asked for: a reply, or None with the driver's error."""
        self.advance(now)
        purpose = self._stream_purpose.pop(token, None)
        if purpose is None or self.shut_down:
            return
        kind = purpose[0]
        if kind == "tcp_ping":
            self._on_tcp_ping_result(now, purpose[1], reply)  # type: ignore[arg-type]
        else:
            failure = self._merge_reply(now, reply, error)
            if kind == "join":
                job: _Join = purpose[1]  # type: ignore[assignment]
                seed = job.seeds[job.index - 1]
                if failure is None:
                    job.joined += 1
                else:
                    job.errors.append(f"Failed to join {seed.host}: {failure}")
                self._join_next(now, job)
            else:
                self._rearm_push_pull(now)
        self._after_input(now)

    def _merge_reply(self, now: float, reply: bytes | None, error: str | None) -> str | None:
        if reply is None:
            return error or "i/o timeout"
        try:
            msg = decode_stream(reply)
        except DecodeError as exc:
            self.decode_errors += 1
            return f"Failed to read remote state: {exc}"
        if isinstance(msg, ErrResp):
            return f"Remote error: {msg.error}"
        if not isinstance(msg, PushPull):
            return "Failed to read remote state: unexpected message"
        return self.merge_remote_state(now, msg)

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        """An inbound stream exchange: the request bytes in, our reply out (None = close)."""
        self.advance(now)
        if self.shut_down:
            return None
        compress = self.config.enable_compression
        try:
            msg = decode_stream(data)
        except DecodeError as exc:
            self.decode_errors += 1
            return encode_stream(ErrResp(str(exc)), compress=compress)
        reply: bytes | None = None
        if isinstance(msg, PushPull):
            reply = encode_stream(self.local_state(msg.join), compress=compress)
            self.merge_remote_state(now, msg)
        elif isinstance(msg, Ping):
            if not msg.node or msg.node == self.name:
                reply = encode_stream(AckResp(msg.seq_no), compress=compress)
        elif isinstance(msg, UserMsg):
            self.delegate.notify_msg(now, msg.payload)
        self._after_input(now)
        return reply

    def send_user(self, dst: Address, payload: bytes) -> None:
        """Send one delegate message straight to `dst` (memberlist SendTo / SendBestEffort)."""
        if not self.shut_down:
            self._raw_send(dst, b"\x08" + payload, crc=False)

    # ---- leave and meta ---------------------------------------------------------------------

    def leave(
        self, now: float, timeout: float, on_done: Callable[[float, str | None], None]
    ) -> None:
        """memberlist Leave: announce our own death (as left) and wait for it to go out."""
        self.advance(now)
        membership = self.membership
        if membership.left:
            on_done(now, None)
            return
        membership.left = True
        token = object()
        membership.leave_notify = token
        me = membership.local()
        membership.apply_dead(now, Dead(me.incarnation, me.name, me.name))
        if not membership.any_alive():
            on_done(now, None)
            return
        self._leave = (token, on_done)
        self.deadlines.schedule(("leave",), now + timeout)
        self._after_input(now)

    def _finish_leave(self, now: float, error: str | None) -> None:
        if self._leave is None:
            return
        _, on_done = self._leave
        self._leave = None
        self.deadlines.cancel(("leave",))
        on_done(now, error)

    def update_meta(self, now: float) -> None:
        """Announce fresh meta with the next incarnation (memberlist UpdateNode)."""
        self.advance(now)
        self._set_alive(now)
