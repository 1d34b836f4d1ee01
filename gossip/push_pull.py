"""Anti-entropy and join: whole-table exchanges over streams (memberlist state.go: pushPull,
pushPullNode; net.go: sendLocalState, readRemoteState, mergeRemoteState).

Theory of operation. Gossip is fast but lossy; push-pull makes views converge anyway. Every
`push_pull_interval` (scaled up for clusters over 32 nodes) a node sends its whole table and
serf's state to one random alive peer, which answers with its own; both merge. A peer's alive
entries are treated as alive messages, its left entries as a node leaving, and its dead or
suspect entries only as a suspicion of ours, so one stale peer cannot kill a node. Before any
of that the version gate runs over both tables, and an incompatible table is refused whole.
Join is the same exchange with `join=True`, one seed after another, as memberlist does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from gossip.codec import decode_stream, encode_stream
from gossip.config import GossipConfig
from gossip.deadlines import DeadlineScheduler
from gossip.errors import DecodeError
from gossip.membership import Membership
from gossip.messages import Alive, Dead, ErrResp, PushPull, Suspect
from gossip.outbox import Outbox
from gossip.protocol import verify_protocol
from gossip.stream_purposes import JoinPushPull, PeriodicPushPull, StateExchange
from gossip.timers import TimerKind
from gossip.timing import push_pull_scale
from gossip.types import Address, NodeState


class StateDelegate(Protocol):
    """serf's part of a push-pull: its own state, appended to ours."""

    def local_state(self, join: bool) -> bytes: ...
    def merge_remote_state(self, now: float, buf: bytes, join: bool) -> None: ...


@dataclass(slots=True)
class JoinJob:
    seeds: list[Address]
    on_done: Callable[[float, int, list[str]], None]
    index: int = 0
    joined: int = 0
    errors: list[str] = field(default_factory=list)


class StateSync:
    """Periodic push-pull, join, and serving other nodes' push-pulls."""

    def __init__(
        self,
        config: GossipConfig,
        *,
        name: str,
        membership: Membership,
        outbox: Outbox,
        deadlines: DeadlineScheduler[Literal[TimerKind.PUSH_PULL, TimerKind.PUSH_PULL_WAIT]],
        delegate: StateDelegate,
        on_decode_error: Callable[[], None],
    ) -> None:
        self.config = config
        self.name = name
        self.membership = membership
        self.outbox = outbox
        self.deadlines = deadlines
        self.delegate = delegate
        self.on_decode_error = on_decode_error

    def local_state(self, join: bool) -> PushPull:
        """Our table and serf's state. memberlist sends its probe order; we send the name
        index's order, which no receiver can tell apart, and which walks the entries in the
        order they were made (much kinder to the CPU cache in a large simulated cluster)."""
        nodes = tuple(n.info.rows[n.state] for n in self.membership.node_map.values())
        return PushPull(join, nodes, self.delegate.local_state(join))

    def tick(self, now: float) -> None:
        """Exchange state with one random alive peer; the next wait starts when it is done."""
        me = self.name
        peers = self.membership.k_random_nodes(
            1, lambda n: n.name == me or n.state != NodeState.ALIVE
        )
        if not peers:
            self.rearm(now)
            return
        state = self.local_state(False)
        timeout = self.config.tcp_timeout
        self.outbox.open_stream(peers[0].address, state, timeout, PeriodicPushPull())

    def rearm(self, now: float) -> None:
        n = self.membership.num_nodes()
        at = now + push_pull_scale(self.config.push_pull_interval, n)
        self.deadlines.schedule(TimerKind.PUSH_PULL, at)

    def restagger(self, now: float) -> None:
        """Redraw the next push-pull uniformly within one period for the current table size.

        For a node seeded into a converged cluster: its peers' exchanges are spread over the
        period, as in a cluster that has been running for a while.
        """
        if self.config.push_pull_interval <= 0:
            return
        self.deadlines.cancel(TimerKind.PUSH_PULL_WAIT)
        period = push_pull_scale(self.config.push_pull_interval, self.membership.num_nodes())
        self.deadlines.schedule(TimerKind.PUSH_PULL, now + self.membership.rng.random() * period)

    def merge(self, now: float, remote: PushPull) -> str | None:
        """memberlist mergeRemoteState: version gate, then the table, then serf's state."""
        error = verify_protocol(self.membership.node_map.values(), remote.nodes)
        if error is not None:
            return error
        membership = self.membership
        is_old_news = membership.is_old_news
        alive, left = NodeState.ALIVE, NodeState.LEFT
        for r in remote.nodes:
            if r.state == alive:
                if is_old_news(r.name, r.incarnation, r.addr, r.port):
                    continue  # most of a converged table: skip building an Alive to ignore
                if len(r.addr) in (4, 16):
                    news = Alive(r.incarnation, r.name, r.addr, r.port, r.meta, r.vsn)
                    membership.apply_alive(now, news)
            elif r.state == left:
                membership.apply_dead(now, Dead(r.incarnation, r.name, r.name))
            else:  # a peer's dead or suspect only makes us suspect
                membership.apply_suspect(now, Suspect(r.incarnation, r.name, self.name))
        if remote.user_state:
            self.delegate.merge_remote_state(now, remote.user_state, remote.join)
        return None

    def join(self, now: float, job: JoinJob) -> None:
        """Try the job's next seed, or report the outcome when all were tried."""
        if job.index >= len(job.seeds):
            job.on_done(now, job.joined, job.errors)
            return
        seed = job.seeds[job.index]
        job.index += 1
        self.outbox.open_stream(
            seed, self.local_state(True), self.config.tcp_timeout, JoinPushPull(job)
        )

    def on_result(
        self, now: float, purpose: StateExchange, reply: bytes | None, error: str | None
    ) -> None:
        """A push-pull or join exchange we opened has ended."""
        failure = self._merge_reply(now, reply, error)
        match purpose:
            case JoinPushPull(job):
                seed = job.seeds[job.index - 1]
                if failure is None:
                    job.joined += 1
                else:
                    job.errors.append(f"Failed to join {seed.host}: {failure}")
                self.join(now, job)
            case PeriodicPushPull():
                self.rearm(now)

    def _merge_reply(self, now: float, reply: bytes | None, error: str | None) -> str | None:
        if reply is None:
            return error or "i/o timeout"
        try:
            msg = decode_stream(reply)
        except DecodeError as exc:
            self.on_decode_error()
            return f"Failed to read remote state: {exc}"
        if isinstance(msg, ErrResp):
            return f"Remote error: {msg.error}"
        if not isinstance(msg, PushPull):
            return "Failed to read remote state: unexpected message"
        return self.merge(now, msg)

    def serve(self, now: float, request: PushPull) -> bytes:
        """Answer a peer's push-pull with our state (echoing its Join flag), then merge its."""
        reply = encode_stream(
            self.local_state(request.join), compress=self.config.enable_compression
        )
        self.merge(now, request)
        return reply
