"""ClientRpc: the sans-IO client side of the RPC port: register, heartbeat, fail over.

Theory of operation (Nomad 0.x client). A client is not in the gossip pool. It keeps a
server list in a shuffled try order and talks to the first entry:

- it registers (`Node.Register`), then heartbeats (`Node.UpdateStatus`) once per TTL the
  leader granted; each reply also carries the region's current servers, which replace the
  list, so a client given one server learns the others;
- a call that errs or is not answered within `request_timeout` moves that server to the
  end of the order (Nomad's NotifyFailedServer) and the heartbeat is retried soon on the
  next one, so losing a server costs a client one timeout;
- `/v1/agent/members` is forwarded as `Status.Members` to the current server.

Inputs are frames stamped with `now` and timer ticks; outputs are frames, `MembersAnswered`
events and the next deadline.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from agent.rpc.messages import HeartbeatReply, MembersReply, MembersRequest, NodeHeartbeat
from agent.rpc.wire import Frame, FrameKind, RpcDecodeError, encode_frame
from gocompat import MAX_DURATION_NS, format_go_duration, seconds_to_go_duration

REQUEST_TIMEOUT = 2.0
"""Seconds a client waits for a server's answer before trying the next server."""
RETRY_MIN, RETRY_MAX = 0.5, 1.5
"""A failed heartbeat is retried after a random wait in this range (seconds)."""


@dataclass(frozen=True, slots=True)
class MembersAnswered:
    """The outcome of `request_members(token)`: the reply, or the error line."""

    token: int
    reply: MembersReply | None
    error: str | None


@dataclass(slots=True)
class _Pending:
    server: str
    deadline: float


class ClientRpc:
    """See the module docstring."""

    def __init__(
        self,
        *,
        node_id: str,
        node_name: str,
        addr: str,
        rng: random.Random,
        now: float,
        servers: Sequence[str] = (),
        request_timeout: float = REQUEST_TIMEOUT,
        datacenter: str = "",
    ) -> None:
        self.node_id = node_id
        self.datacenter = datacenter
        self.node_name = node_name
        self.addr = addr
        self.rng = rng
        self.request_timeout = request_timeout
        self.malformed = 0
        self._order: list[str] = []
        self._ids = itertools.count(1)
        self._out: list[tuple[str, bytes]] = []
        self._events: deque[MembersAnswered] = deque()
        self._heartbeat: tuple[int, _Pending] | None = None
        self._list_version = 0
        """Bumped when the list is replaced: a reply to a heartbeat sent before that must
        not undo the replacement with the servers it learned."""
        self._heartbeat_list_version = 0
        self._members: dict[int, _Pending] = {}
        self._next_heartbeat_at: float | None = None
        self._registered = False
        self._ttl = 0.0
        self._last_heartbeat_at: float | None = None
        self.replace_servers(now, servers)

    # ---- server list ----------------------------------------------------------------------

    def servers(self) -> list[str]:
        """Known servers, sorted as strings (Nomad 0.7+)."""
        return sorted(self._order)

    def replace_servers(self, now: float, servers: Sequence[str]) -> None:
        """A new list (shuffled into a fresh try order); heartbeat at once if none is due."""
        fresh = sorted(set(servers))
        self.rng.shuffle(fresh)
        self._order = fresh
        self._list_version += 1
        idle = self._heartbeat is None and self._next_heartbeat_at is None
        if fresh and self._heartbeat is None and (idle or not self._registered):
            self._next_heartbeat_at = now

    def _learn(self, servers: Sequence[str]) -> None:
        """Servers from a heartbeat reply replace the list; the current one stays first."""
        stale = self._heartbeat_list_version != self._list_version
        if stale or not servers or sorted(servers) == self.servers():
            return
        keep = [s for s in self._order if s in servers]
        new = [s for s in servers if s not in keep]
        self.rng.shuffle(new)
        self._order = keep + new

    def _failed(self, server: str) -> None:
        if server in self._order and len(self._order) > 1:
            self._order.remove(server)
            self._order.append(server)

    # ---- inputs ---------------------------------------------------------------------------

    def handle_frame(self, now: float, frame: Frame) -> None:
        try:
            if frame.kind is FrameKind.NODE_REPLY:
                self._on_heartbeat_reply(now, HeartbeatReply.from_body(frame.body))
            elif frame.kind is FrameKind.MEMBERS_REPLY:
                reply = MembersReply.from_body(frame.body)
                if self._members.pop(reply.req_id, None) is not None:
                    self._events.append(MembersAnswered(reply.req_id, reply, None))
            else:
                self.malformed += 1
        except RpcDecodeError:
            self.malformed += 1

    def handle_timer(self, now: float) -> None:
        if self._heartbeat is not None and self._heartbeat[1].deadline <= now:
            server = self._heartbeat[1].server
            self._heartbeat = None
            self._failed(server)
            self._retry_soon(now)
        for token, pending in list(self._members.items()):
            if pending.deadline <= now:
                del self._members[token]
                self._failed(pending.server)
                error = f"RPC failed to server {pending.server}: i/o timeout"
                self._events.append(MembersAnswered(token, None, error))
        due = self._next_heartbeat_at
        if due is not None and due <= now and self._heartbeat is None:
            self._next_heartbeat_at = None
            self._send_heartbeat(now)

    def request_members(self, now: float) -> int | None:
        """Forward Status.Members; the token of the coming `MembersAnswered`, None if no server."""
        if not self._order:
            return None
        token = next(self._ids)
        server = self._order[0]
        self._members[token] = _Pending(server, now + self.request_timeout)
        self._send(server, FrameKind.STATUS_MEMBERS, MembersRequest(token, self.addr).to_body())
        return token

    # ---- outputs --------------------------------------------------------------------------

    def messages_to_send(self) -> list[tuple[str, bytes]]:
        out, self._out = self._out, []
        return out

    def next_event(self) -> MembersAnswered | None:
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        candidates = [p.deadline for p in self._members.values()]
        if self._heartbeat is not None:
            candidates.append(self._heartbeat[1].deadline)
        elif self._next_heartbeat_at is not None and self._order:
            candidates.append(self._next_heartbeat_at)
        return min(candidates) if candidates else None

    # ---- reads ----------------------------------------------------------------------------

    @property
    def registered(self) -> bool:
        return self._registered

    def stats(self, now: float) -> dict[str, str]:
        if self._last_heartbeat_at is None:
            since = format_go_duration(MAX_DURATION_NS)  # Go's saturated time.Since(zero)
        else:
            since = seconds_to_go_duration(max(0.0, now - self._last_heartbeat_at))
        return {
            "node_id": self.node_id,
            "known_servers": ",".join(self.servers()),
            "num_allocations": "0",
            "last_heartbeat": since,
            "heartbeat_ttl": seconds_to_go_duration(self._ttl) if self._ttl else "0s",
        }

    # ---- internals ------------------------------------------------------------------------

    def _send(self, dst: str, kind: FrameKind, body: object) -> None:
        self._out.append((dst, encode_frame(self.addr, kind, body)))

    def _send_heartbeat(self, now: float) -> None:
        if not self._order:
            return
        server = self._order[0]
        req_id = next(self._ids)
        self._heartbeat = (req_id, _Pending(server, now + self.request_timeout))
        self._heartbeat_list_version = self._list_version
        kind = FrameKind.NODE_HEARTBEAT if self._registered else FrameKind.NODE_REGISTER
        call = NodeHeartbeat(req_id, self.node_id, self.node_name, self.addr, self.datacenter)
        self._send(server, kind, call.to_body())

    def _retry_soon(self, now: float) -> None:
        self._next_heartbeat_at = now + self.rng.uniform(RETRY_MIN, RETRY_MAX)

    def _on_heartbeat_reply(self, now: float, reply: HeartbeatReply) -> None:
        if self._heartbeat is None or self._heartbeat[0] != reply.req_id:
            return  # late or duplicate
        server = self._heartbeat[1].server
        self._heartbeat = None
        if reply.error:
            self._failed(server)
            self._learn(reply.servers)
            self._retry_soon(now)
            return
        self._registered = True
        self._ttl = reply.ttl
        self._last_heartbeat_at = now
        self._learn(reply.servers)
        self._next_heartbeat_at = now + reply.ttl
