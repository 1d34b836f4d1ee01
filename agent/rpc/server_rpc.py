"""ServerRpc: the sans-IO server side of the RPC port: raft, bootstrap, reconcile, heartbeats.

Theory of operation. A Nomad 0.x server does four things on its RPC port that the agent API
can see, and this core does them on top of `raft_stub.RaftStub`:

1. Bootstrap (Nomad's `maybeBootstrap`): once serf shows `bootstrap_expect` alive servers of
   our region (none with another `expect` or in bootstrap mode), ask each of them for its raft
   peers (`Status.Peers`); if nobody has a configuration yet, bootstrap raft with all of them.
   Asking first is what keeps a server with a wiped data dir from founding a second cluster.
2. Reconcile (the leader's `reconcileMember`): an alive server of our region that is not in the
   raft configuration is added as a voter; one that serf shows `left`, or that serf knew and
   has since reaped or pruned, is removed. A `failed` server stays: it still counts for quorum,
   which is why losing two of three servers means no leader (nomad#844). A server in bootstrap
   mode (a dev agent, or `bootstrap_expect = 1`) is not added while another server in the pool
   is in bootstrap mode too (`addRaftPeer` in nomad/leader.go): each such server leads a raft
   of its own, so joining two dev agents never makes a two-voter raft that one crash stalls.
3. Client heartbeats (`Node.Register`, `Node.UpdateStatus`): the leader grants a TTL of
   max(10 s, nodes / 50 per s) plus a random stagger up to as much, and marks a node `down`
   through raft when it misses TTL + 10 s of grace. A follower forwards the call to the
   leader, which answers the client directly; with no leader the answer is `No cluster leader`.
   A new leader gives every known node the 5-minute failover TTL, as Nomad does.
4. `Status.Members`, served by whichever server receives it (a client's `/v1/agent/members`).

Inputs are frames (`agent.rpc.wire`) stamped with `now`, timer ticks and `observe_servers`
(called by the agent when serf's member list changes); outputs are frames to send, events
(raft's `LeaderChanged`) and the next deadline. No sockets, clocks or global randomness.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.rpc.fsm import ClusterState, NodeRecord, NodeStatus
from agent.rpc.memo import Memo
from agent.rpc.messages import (
    HeartbeatReply,
    MembersReply,
    MembersRequest,
    NodeHeartbeat,
    PeersReply,
    PeersRequest,
)
from agent.rpc.wire import Frame, FrameKind, RpcDecodeError, encode_frame
from raft_stub import (
    AppendEntries,
    DecodeError,
    EntryCommitted,
    EntryType,
    LeaderChanged,
    RaftMessage,
    RaftStub,
    ServerEntry,
    decode_message,
    encode_message,
)

log = logging.getLogger("gossip_agent.rpc")

MIN_HEARTBEAT_TTL = 10.0
MAX_HEARTBEATS_PER_SECOND = 50.0
HEARTBEAT_GRACE = 10.0
"""Nomad 0.x's HeartbeatGrace: how long past its TTL a node may be before it is `down`."""
FAILOVER_HEARTBEAT_TTL = 300.0
"""TTL a new leader gives every known node, so a leader change marks no one down."""
PEERS_PROBE_TIMEOUT = 5.0
NO_LEADER = "No cluster leader"
MAX_RECONCILE_ROUNDS = 8
MEMO_BODY_BYTES = 256
"""Raft bodies up to this size are decoded once and remembered (`agent.rpc.memo`)."""


def heartbeat_ttl(nodes: int, rng: random.Random) -> float:
    """Nomad's rate-scaled TTL plus its random stagger: [10 s, 20 s) for small clusters."""
    base = max(MIN_HEARTBEAT_TTL, nodes / MAX_HEARTBEATS_PER_SECOND)
    return base + rng.random() * base


@dataclass(frozen=True, slots=True)
class ServerPeer:
    """A Nomad server as serf shows it (tags of nomad/server.go `setupSerf`) and its RPC address."""

    name: str
    rpc_addr: str
    status: str
    """serf status: alive, leaving, left, failed."""
    region: str
    expect: int
    bootstrap: bool


MembersSource = Callable[[], tuple[str, str, str, list[list[Any]]]]
"""(server name, region, datacenter, member rows) for `Status.Members`."""


class ServerRpc:
    """See the module docstring."""

    def __init__(
        self,
        raft: RaftStub,
        *,
        addr: str,
        region: str,
        bootstrap_expect: int,
        rng: random.Random,
        members: MembersSource,
    ) -> None:
        self.raft = raft
        self.addr = addr
        self.region = region
        self.bootstrap_expect = bootstrap_expect
        self.rng = rng
        self.members = members
        self.state = ClusterState()
        self.malformed = 0
        self.heartbeats = 0
        """Register and heartbeat calls this server answered as leader (for metrics)."""
        self._out: list[tuple[str, bytes]] = []
        self._events: deque[LeaderChanged] = deque()
        self._peers: dict[str, ServerPeer] = {}
        self._servers: tuple[ServerPeer, ...] = ()
        self._refused: set[tuple[str, str]] = set()
        self._seen: set[str] = set()
        self._timers: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._probe: dict[str, bool | None] = {}
        self._probe_deadline: float | None = None
        self._probe_id = 0
        self._bootstrap_settled = False
        self._decoded: Memo[bytes, RaftMessage] = Memo()
        self._encoded: Memo[RaftMessage, bytes] = Memo()

    # ---- inputs ---------------------------------------------------------------------------

    def handle_frame(self, now: float, frame: Frame) -> None:
        """One inbound frame; a malformed body is counted and dropped, never half-applied."""
        try:
            self._dispatch(now, frame)
        except (RpcDecodeError, DecodeError) as exc:
            self.malformed += 1
            log.debug("rpc: dropped a malformed %s frame from %s: %s", frame.kind, frame.src, exc)
        self._pump(now)

    def handle_timer(self, now: float) -> None:
        self.raft.handle_timer(now)
        if self._probe_deadline is not None and now >= self._probe_deadline:
            self._probe.clear()
            self._probe_deadline = None
            self._maybe_bootstrap(now)
        if self.raft.is_leader:
            for node_id, at in list(self._timers.items()):
                if at <= now:
                    del self._timers[node_id]
                    self._mark_down(now, node_id)
        self._pump(now)

    def observe_servers(self, now: float, peers: Sequence[ServerPeer]) -> None:
        """serf's current view of Nomad servers (ourselves included), after any change."""
        self._servers = tuple(peers)
        self._peers = {p.rpc_addr: p for p in peers if p.region == self.region}
        self._seen.update(self._peers)
        self._maybe_bootstrap(now)
        self._reconcile(now)
        self._pump(now)

    # ---- outputs --------------------------------------------------------------------------

    def messages_to_send(self) -> list[tuple[str, bytes]]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> LeaderChanged | None:
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        candidates = [self.raft.next_deadline(), self._probe_deadline]
        if self.raft.is_leader and self._timers:
            candidates.append(min(self._timers.values()))
        present = [c for c in candidates if c is not None]
        return min(present) if present else None

    # ---- reads ----------------------------------------------------------------------------

    def servers(self) -> list[str]:
        """RPC addresses of the alive servers of our region, sorted (heartbeat replies)."""
        return sorted(a for a, p in self._peers.items() if p.status == "alive")

    def server_names(self) -> dict[str, str]:
        """serf names of the servers serf shows, by RPC address (raft configuration's `Node`)."""
        return {p.rpc_addr: p.name for p in self._servers}

    @property
    def heartbeats_active(self) -> int:
        """Nodes whose heartbeat TTL this leader is timing (Nomad's `nomad.heartbeat.active`)."""
        return len(self._timers) if self.raft.is_leader else 0

    # ---- internals ------------------------------------------------------------------------

    def _send(self, dst: str, kind: FrameKind, body: Any) -> None:
        self._out.append((dst, encode_frame(self.addr, kind, body)))

    def _pump(self, now: float) -> None:
        """Drain raft: apply what committed, react to leadership, frame its messages.

        raft refuses a configuration change until the leader's no-op of its term and any
        earlier change have committed, so the leader reconciles again after every commit
        (reconcile changes one server at a time). The loop is bounded: each round either
        proposes a change, which commits later, or finds nothing to do.
        """
        for _ in range(MAX_RECONCILE_ROUNDS):
            committed = False
            while (event := self.raft.next_event()) is not None:
                if isinstance(event, EntryCommitted):
                    if event.entry.type is EntryType.COMMAND:
                        self.state.apply(event.entry.data, event.entry.index)
                    committed = True
                elif isinstance(event, LeaderChanged):
                    self._on_leader_changed(now, event)
                    self._events.append(event)
            if not (committed and self.raft.is_leader):
                break
            self._reconcile(now)
        for dst, msg in self.raft.messages_to_send():
            if isinstance(msg, AppendEntries) and msg.entries:
                self._out.append((dst, self._raft_frame(msg)))
            else:  # heartbeats and answers, the same until the log moves
                self._out.append((dst, self._encoded.get(msg, self._raft_frame)))

    def _raft_frame(self, msg: RaftMessage) -> bytes:
        return encode_frame(self.addr, FrameKind.RAFT, encode_message(msg))

    def _on_leader_changed(self, now: float, event: LeaderChanged) -> None:
        self._timers.clear()
        if event.leader == self.addr:
            for node in self.state.nodes.values():
                if node.status is NodeStatus.READY:
                    self._timers[node.node_id] = now + FAILOVER_HEARTBEAT_TTL
            self._reconcile(now)

    def _dispatch(self, now: float, frame: Frame) -> None:
        kind = frame.kind
        if kind is FrameKind.RAFT:
            if not isinstance(frame.body, bytes):
                raise RpcDecodeError("raft body must be bytes")
            body = frame.body
            if len(body) <= MEMO_BODY_BYTES:
                msg = self._decoded.get(body, decode_message)
            else:
                msg = decode_message(body)
            self.raft.handle_message(now, frame.src, msg)
        elif kind in (FrameKind.NODE_REGISTER, FrameKind.NODE_HEARTBEAT):
            self._on_heartbeat(now, frame, NodeHeartbeat.from_body(frame.body))
        elif kind is FrameKind.STATUS_MEMBERS:
            request = MembersRequest.from_body(frame.body)
            name, region, dc, rows = self.members()
            reply = MembersReply(request.req_id, name, region, dc, tuple(rows), "")
            self._send(request.reply_to, FrameKind.MEMBERS_REPLY, reply.to_body())
        elif kind is FrameKind.STATUS_PEERS:
            peers = PeersRequest.from_body(frame.body)
            config = tuple(s.address for s in self.raft.configuration)
            self._send(frame.src, FrameKind.PEERS_REPLY, PeersReply(peers.req_id, config).to_body())
        elif kind is FrameKind.PEERS_REPLY:
            self._on_peers_reply(now, frame.src, PeersReply.from_body(frame.body))
        else:
            self.malformed += 1  # a reply meant for a client core

    def _on_heartbeat(self, now: float, frame: Frame, call: NodeHeartbeat) -> None:
        if not self.raft.is_leader:
            leader = self.raft.leader()
            direct = frame.src == call.reply_to  # not already forwarded by another server
            if leader is not None and leader != self.addr and direct:
                self._send(leader, frame.kind, call.to_body())
                return
            reply = HeartbeatReply(call.req_id, 0.0, tuple(self.servers()), "", NO_LEADER)
            self._send(call.reply_to, FrameKind.NODE_REPLY, reply.to_body())
            return
        self.heartbeats += 1
        known = self.state.nodes.get(call.node_id)
        record = NodeRecord(call.node_id, call.node_name, NodeStatus.READY, call.datacenter)
        if known != record:
            self.raft.propose(now, EntryType.COMMAND, record.encode())
        nodes = self.state.ready_count() + (known is None)
        ttl = heartbeat_ttl(nodes, self.rng)
        self._timers[call.node_id] = now + ttl + HEARTBEAT_GRACE
        reply = HeartbeatReply(call.req_id, ttl, tuple(self.servers()), self.addr, "")
        self._send(call.reply_to, FrameKind.NODE_REPLY, reply.to_body())

    def _mark_down(self, now: float, node_id: str) -> None:
        node = self.state.nodes.get(node_id)
        if node is not None and node.status is NodeStatus.READY:
            log.info("rpc: node %s missed its heartbeat TTL; marking it down", node.name)
            down = NodeRecord(node.node_id, node.name, NodeStatus.DOWN, node.datacenter)
            self.raft.propose(now, EntryType.COMMAND, down.encode())

    # ---- bootstrap and reconcile ----------------------------------------------------------

    def _has_raft_state(self) -> bool:
        return self.raft.term > 0 or self.raft.last_log_index > 0

    def _maybe_bootstrap(self, now: float) -> None:
        expect = self.bootstrap_expect
        if expect < 2 or self._bootstrap_settled or self._probe:
            return
        if self._has_raft_state():
            self._bootstrap_settled = True
            return
        alive = [p for p in self._peers.values() if p.status == "alive"]
        for peer in alive:
            if peer.bootstrap:
                log.error("nomad: peer %s has bootstrap mode. Expect disabled.", peer.name)
                return
            if peer.expect not in (0, expect):
                log.error(
                    "nomad: peer %s has a conflicting expect value. All nodes should expect"
                    " the same number.",
                    peer.name,
                )
                return
        if len(alive) < expect:
            return
        others = [p.rpc_addr for p in alive if p.rpc_addr != self.addr]
        self._probe_id = next(self._ids)
        self._probe = dict.fromkeys(others)
        self._probe_deadline = now + PEERS_PROBE_TIMEOUT
        for addr in others:
            self._send(addr, FrameKind.STATUS_PEERS, PeersRequest(self._probe_id).to_body())
        self._finish_probe(now)

    def _on_peers_reply(self, now: float, src: str, reply: PeersReply) -> None:
        if reply.req_id != self._probe_id or src not in self._probe:
            return
        self._probe[src] = bool(reply.peers)
        self._finish_probe(now)

    def _finish_probe(self, now: float) -> None:
        answers = list(self._probe.values())
        if any(answers):
            log.info("rpc: existing raft peers found, not bootstrapping")
            self._bootstrap_settled = True
        elif all(a is False for a in answers):
            servers = sorted({*self._probe, self.addr})
            if self.raft.bootstrap(now, [ServerEntry(a, a) for a in servers]):
                log.info("rpc: bootstrapping raft with %s", ", ".join(servers))
            self._bootstrap_settled = True
        else:
            return
        self._probe.clear()
        self._probe_deadline = None

    def _second_bootstrap(self, peer: ServerPeer) -> bool:
        """Whether `peer` is in bootstrap mode while another server is too; logs it once."""
        if not peer.bootstrap:
            return False
        for other in self._servers:
            if other.bootstrap and other.name != peer.name:
                if (peer.name, other.name) not in self._refused:
                    self._refused.add((peer.name, other.name))
                    log.error(
                        "nomad: '%s' and '%s' are both in bootstrap mode. Only one node should be"
                        " in bootstrap mode, not adding Raft peer.",
                        peer.name,
                        other.name,
                    )
                return True
        return False

    def _reconcile(self, now: float) -> None:
        """Leader only: make the raft configuration follow serf (module docstring, 2)."""
        if not self.raft.is_leader:
            return
        configured = {s.id for s in self.raft.configuration}
        for addr, peer in sorted(self._peers.items()):
            if peer.status == "alive" and addr not in configured:
                if self._second_bootstrap(peer):
                    continue
                if self.raft.add_voter(now, ServerEntry(addr, addr)):
                    log.info("rpc: added raft peer %s (%s)", addr, peer.name)
                return  # one configuration change at a time
        for server_id in sorted(configured - {self.addr}):
            known = self._peers.get(server_id)
            gone = known is None and server_id in self._seen
            if gone or (known is not None and known.status == "left"):
                if self.raft.remove_server(now, server_id):
                    log.info("rpc: removed raft peer %s", server_id)
                return
