"""SwimNode: memberlist 0.2.2 as a sans-IO state machine.

Theory of operation. memberlist runs three loops (probe, gossip, push-pull) and reacts to
packets and streams. Here each loop is a deadline in one `DeadlineQueue`; every input takes
the caller's `now`; outputs (datagrams, stream exchanges) are queued for the driver to pull.

- Probing (randomized round robin, indirect and TCP fallback probes, Lifeguard's health
  score and buddy system) lives in `probe.py`.
- Dissemination piggybacks broadcasts on every ping/ack and gossips every `gossip_interval`
  to `gossip_nodes` peers, recently dead ones included so they can refute.
- Push-pull (anti-entropy) and join, whole-table exchanges, live in `push_pull.py`.

The rules for changing the table live in `membership.py`, packet packing in `outbox.py`,
the wire format in `codec.py`.
Bad datagrams are counted in `decode_errors` and dropped; they never raise.

With a keyring (`keyring=`, memberlist Config.Keyring) every datagram and stream leaves sealed
with the primary key and must arrive sealed with an installed key (`security.py`); what does
not is dropped and counted in `undecryptable` (no key opens it) or `unencrypted` (plaintext,
which memberlist's GossipVerifyIncoming refuses), so a node with another key or none is
isolated from the pool instead of confusing it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from gossip.awareness import Awareness
from gossip.broadcasts import TransmitLimitedQueue
from gossip.codec import decode_packet, decode_stream, encode_compound, encode_stream
from gossip.config import GossipConfig
from gossip.deadlines import DeadlineQueue
from gossip.errors import DecodeError, UsageError
from gossip.keyring import Keyring
from gossip.membership import U32, Membership, MembershipListener, NodeEntry
from gossip.messages import (
    USER_MSG_PREFIX,
    AckResp,
    Alive,
    Dead,
    ErrResp,
    IndirectPing,
    NackResp,
    Ping,
    PushPull,
    Suspect,
    UserMsg,
)
from gossip.outbox import COMPOUND_HEADER_OVERHEAD, COMPOUND_OVERHEAD, BroadcastSource, Outbox
from gossip.outputs import Datagram, StreamRequest
from gossip.probe import Prober, next_tick
from gossip.push_pull import JoinJob, StateDelegate, StateSync
from gossip.security import ENCRYPT_MSG, DecryptError, Encryption
from gossip.stream_purposes import JoinPushPull, PeriodicPushPull, TcpPing
from gossip.timers import (
    ProbeEnd,
    ProbeFallback,
    ProbeTimeout,
    RelayTimeout,
    SuspicionTimeout,
    SwimTimer,
    TimerKind,
)
from gossip.types import Address, NodeState, Versions, ip_to_bytes

__all__ = ["META_MAX_SIZE", "SwimDelegate", "SwimNode", "next_tick"]

META_MAX_SIZE = 512
"""memberlist MetaMaxSize: node meta (serf tags) must fit in this many bytes."""


class SwimDelegate(MembershipListener, BroadcastSource, StateDelegate, Protocol):
    """What memberlist asks of serf (memberlist's Delegate + EventDelegate)."""

    def node_meta(self, limit: int) -> bytes: ...
    def notify_msg(self, now: float, payload: bytes) -> None: ...


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
        incarnation: int = 0,
        keyring: Keyring | None = None,
    ) -> None:
        """Create the node and announce it alive (to itself) at `incarnation + 1`.

        With a `keyring`, gossip is encrypted (see the module docstring); key changes made
        to that keyring later take effect with the next message.

        `incarnation` is the last one this node used before a restart (0 for a new node).
        memberlist itself starts every process at 1; starting above the old value lets the
        first alive message beat the dead/left record peers still hold for us, instead of
        being ignored until someone accuses us and we refute. It wraps like every uint32
        incarnation, so a restored 2**32-1 starts again at 0.

        Raises:
            UsageError: `incarnation` is not a uint32.
        """
        if not 0 <= incarnation <= U32:
            raise UsageError(f"an incarnation is a uint32, got {incarnation}")
        self.config = config
        self.name = name
        self.addr = addr
        self._addr_bytes = ip_to_bytes(addr.host)
        self.versions = versions
        self.rng = rng
        self.delegate = delegate
        self.now = now
        self.deadlines: DeadlineQueue[SwimTimer] = DeadlineQueue()
        self.broadcasts = TransmitLimitedQueue()
        self.awareness = Awareness(config.awareness_max_multiplier)
        self.membership = Membership(
            config,
            name=name,
            rng=rng,
            broadcasts=self.broadcasts,
            awareness=self.awareness,
            deadlines=self.deadlines,
            listener=delegate,
        )
        self.outbox = Outbox(config, self.broadcasts, delegate, self.membership.num_nodes)
        self.prober = Prober(
            config,
            name=name,
            addr=addr,
            addr_bytes=self._addr_bytes,
            membership=self.membership,
            awareness=self.awareness,
            deadlines=self.deadlines,
            outbox=self.outbox,
            on_decode_error=self._count_decode_error,
        )
        self.sync = StateSync(
            config,
            name=name,
            membership=self.membership,
            outbox=self.outbox,
            deadlines=self.deadlines,
            delegate=delegate,
            on_decode_error=self._count_decode_error,
        )
        self.decode_errors = 0
        self.undecryptable = 0
        """Sealed datagrams and streams no installed key opened (or not sealed right)."""
        self.unencrypted = 0
        """Plaintext datagrams and streams refused because encryption is configured, and
        sealed streams refused because it is not."""
        if keyring is not None:
            self.outbox.encryption = Encryption(keyring, rng, config.protocol_version)
        self.shut_down = False
        self._leave: tuple[object, Callable[[float, str | None], None]] | None = None
        self._gossip_phase = now
        self._gossip_armed = False
        self.membership.incarnation = incarnation  # the next one used is incarnation + 1
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
        """Start the three loops as memberlist's schedule() does.

        The probe and gossip tickers are created at start, so they tick at start + k *
        interval; memberlist's "random stagger" only delays the first read of a ticker that
        is already running, which changes nothing (observed on real agents: nodes started
        together tick together). Push-pull really waits a random stagger first.
        """
        cfg = self.config
        self.prober.start(now + cfg.probe_interval)
        self._gossip_phase = now + cfg.gossip_interval
        if cfg.push_pull_interval > 0:
            stagger = self.rng.random() * cfg.push_pull_interval
            self.deadlines.schedule(TimerKind.PUSH_PULL_WAIT, now + stagger)

    @property
    def keyring(self) -> Keyring | None:
        """memberlist Config.Keyring: None when gossip is not encrypted."""
        encryption = self.outbox.encryption
        return None if encryption is None else encryption.keyring

    @property
    def encrypted(self) -> bool:
        """memberlist EncryptionEnabled: a keyring with at least one key."""
        return self.outbox.encryption is not None

    def _open_packet(self, data: bytes) -> bytes | None:
        """memberlist ingestPacket's first step: the plaintext, or None (dropped, counted)."""
        encryption = self.outbox.encryption
        if encryption is None:
            return data
        try:
            return encryption.open_packet(data)
        except DecryptError:
            # A plaintext packet fails the same way (its first byte is no version, or no key
            # opens it); memberlist cannot tell them apart either. Count what it most likely was.
            if data and data[0] > 1:
                self.unencrypted += 1
            else:
                self.undecryptable += 1
            return None

    def _open_stream(self, data: bytes) -> bytes:
        """memberlist readStream's decryption step.

        Raises:
            DecryptError: counted; the message names why, in memberlist's words.
        """
        encryption = self.outbox.encryption
        if encryption is None:
            if data[:1] == bytes((ENCRYPT_MSG,)):
                self.unencrypted += 1
                raise DecryptError("Remote state is encrypted and encryption is not configured")
            return data
        try:
            return encryption.open_stream(data)
        except DecryptError:
            if data[:1] == bytes((ENCRYPT_MSG,)):
                self.undecryptable += 1
            else:
                self.unencrypted += 1
            raise

    def _count_decode_error(self) -> None:
        self.decode_errors += 1

    # ---- driver interface -----------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Record the caller's time; time never goes backwards."""
        if now < self.now:
            raise ValueError(f"time can't go backwards: {now} < {self.now}")
        self.now = now

    def next_deadline(self) -> float | None:
        return None if self.shut_down else self.deadlines.peek()

    @property
    def incarnation(self) -> int:
        """The highest incarnation this node has used for itself (what a restart restores)."""
        return self.membership.incarnation

    def datagrams_to_send(self) -> list[Datagram]:
        return self.outbox.take_datagrams()

    def streams_to_open(self) -> list[StreamRequest]:
        return self.outbox.take_streams()

    def shutdown(self) -> None:
        """Stop everything at once; nothing more is sent (peers will see a failure)."""
        self.shut_down = True
        self.prober.stopped = True
        self.outbox.clear()

    def handle_timer(self, now: float) -> None:
        self.advance(now)
        self.deadlines.fire_due(now, lambda key: self._on_deadline(now, key), self._running)
        self._after_input(now)

    def _running(self) -> bool:
        return not self.shut_down

    def _on_deadline(self, now: float, key: SwimTimer) -> None:
        match key:  # the busiest timers first: a simulator fires millions of these
            case TimerKind.GOSSIP:
                self._gossip_armed = False
                self._gossip(now)
            case TimerKind.PROBE | ProbeTimeout() | ProbeEnd() | ProbeFallback() | RelayTimeout():
                self.prober.on_deadline(now, key)
            case SuspicionTimeout(node):
                self.membership.suspicion_expired(now, node)
            case TimerKind.PUSH_PULL:
                self.sync.tick(now)
            case TimerKind.PUSH_PULL_WAIT:
                self.sync.rearm(now)
            case TimerKind.LEAVE:
                self._finish_leave(now, "timeout waiting for leave broadcast")

    def _after_input(self, now: float) -> None:
        finished = self.broadcasts.take_finished()
        if finished and self._leave is not None and any(t is self._leave[0] for t in finished):
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
        if cfg.gossip_nodes <= 0 or not self.outbox.has_broadcasts():
            return
        self._gossip_armed = True
        self.deadlines.schedule(
            TimerKind.GOSSIP, next_tick(self._gossip_phase, cfg.gossip_interval, now)
        )

    # ---- serving packets ----------------------------------------------------------------------

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        """One UDP datagram from `src`; malformed parts are counted and dropped."""
        self.advance(now)
        if self.shut_down:
            return
        plain = self._open_packet(data)
        if plain is None:
            return
        packet = decode_packet(plain)
        self.decode_errors += packet.errors
        for msg in packet.messages:
            try:
                self._dispatch(now, src, msg)
            except ValueError:  # e.g. an IP field of the wrong length
                self.decode_errors += 1
        self._after_input(now)

    def _dispatch(self, now: float, src: Address, msg: object) -> None:
        membership = self.membership
        # Gossip first: a join storm brings tens of millions of these; probes come one a packet.
        if isinstance(msg, Alive):
            if len(msg.addr) not in (4, 16):
                raise ValueError("alive with a bad address")
            membership.apply_alive(now, msg)
        elif isinstance(msg, UserMsg):
            self.delegate.notify_msg(now, msg.payload)
        elif isinstance(msg, Ping):
            self.prober.on_ping(src, msg)
        elif isinstance(msg, AckResp):
            self.prober.on_ack(now, msg)
        elif isinstance(msg, Suspect):
            membership.apply_suspect(now, msg)
        elif isinstance(msg, Dead):
            membership.apply_dead(now, msg)
        elif isinstance(msg, IndirectPing):
            self.prober.on_indirect_ping(now, src, msg)
        elif isinstance(msg, NackResp):
            self.prober.on_nack(msg)

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
        avail -= self.outbox.seal_overhead()
        for peer in peers:
            msgs = self.outbox.get_broadcasts(COMPOUND_OVERHEAD, avail)
            if not msgs:
                return
            data = msgs[0] if len(msgs) == 1 else encode_compound(msgs)
            self.outbox.raw_send(peer.address, data, crc=peer.protocol_max >= 5)

    # ---- push-pull, join and streams ---------------------------------------------------------

    def local_state(self, join: bool) -> PushPull:
        return self.sync.local_state(join)

    def merge_remote_state(self, now: float, remote: PushPull) -> str | None:
        return self.sync.merge(now, remote)

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
        self.sync.join(now, JoinJob(list(seeds), on_done))

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        """The outcome of a stream we asked for: a reply, or None with the driver's error."""
        self.advance(now)
        purpose = self.outbox.purposes.pop(token, None)
        if purpose is None or self.shut_down:
            return
        if reply is not None:
            try:
                reply = self._open_stream(reply)
            except DecryptError as exc:
                reply, error = None, str(exc)
        match purpose:
            case TcpPing(seq):
                self.prober.on_tcp_ping_result(now, seq, reply)
            case PeriodicPushPull() | JoinPushPull():
                self.sync.on_result(now, purpose, reply, error)
        self._after_input(now)

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        """An inbound stream exchange: the request bytes in, our reply out (None = close)."""
        self.advance(now)
        if self.shut_down:
            return None
        compress = self.config.enable_compression
        seal = self.outbox.seal_stream
        try:
            msg = decode_stream(self._open_stream(data))
        except DecryptError as exc:
            return seal(encode_stream(ErrResp(str(exc)), compress=compress))
        except DecodeError as exc:
            self.decode_errors += 1
            return seal(encode_stream(ErrResp(str(exc)), compress=compress))
        reply: bytes | None = None
        if isinstance(msg, PushPull):
            reply = self.sync.serve(now, msg)
        elif isinstance(msg, Ping):
            if not msg.node or msg.node == self.name:
                reply = encode_stream(AckResp(msg.seq_no), compress=compress)
        elif isinstance(msg, UserMsg):
            self.delegate.notify_msg(now, msg.payload)
        self._after_input(now)
        return None if reply is None else seal(reply)

    def send_user(self, dst: Address, payload: bytes) -> None:
        """Send one delegate message straight to `dst` (memberlist SendTo / SendBestEffort)."""
        if not self.shut_down:
            self.outbox.raw_send(dst, USER_MSG_PREFIX + payload, crc=False)

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
        self.deadlines.schedule(TimerKind.LEAVE, now + timeout)
        self._after_input(now)

    def _finish_leave(self, now: float, error: str | None) -> None:
        if self._leave is None:
            return
        _, on_done = self._leave
        self._leave = None
        self.deadlines.cancel(TimerKind.LEAVE)
        on_done(now, error)

    def update_meta(self, now: float) -> None:
        """Announce fresh meta with the next incarnation (memberlist UpdateNode)."""
        self.advance(now)
        self._set_alive(now)
