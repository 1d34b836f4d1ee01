"""Fake endpoints for testing the simulator itself, independent of the real SerfCore.

`RecorderCore` (tests.helpers.recorder) records every input and sends what a test queues;
`PingCore` is a toy membership protocol (join by stream, ping one random peer per second,
mark a peer failed on a missed ack) with the same shape as SerfCore, so SimCluster can run it.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from agent.sim import SimCluster
from gossip.config import SerfConfig
from gossip.events import (
    ForceLeaveCompleted,
    GossipEvent,
    JoinCompleted,
    LeaveCompleted,
    MemberEvent,
    MemberEventType,
)
from gossip.outputs import Datagram, StreamRequest
from gossip.types import Address, Member, MemberStatus
from tests.helpers.recorder import RecorderCore


def _encode(**fields: Any) -> bytes:
    return json.dumps(fields, sort_keys=True).encode()


class PingCore:
    """A toy membership core with SerfCore's shape (not a protocol anyone should copy)."""

    PROBE_INTERVAL = 1.0
    ACK_TIMEOUT = 0.5

    def __init__(
        self,
        config: SerfConfig,
        *,
        name: str,
        addr: Address,
        tags: Mapping[str, str],
        rng: random.Random,
        now: float,
    ) -> None:
        self._name = name
        self._addr = addr
        self._tags = dict(tags)
        self._rng = rng
        self._status: dict[str, MemberStatus] = {name: MemberStatus.ALIVE}
        self._addrs: dict[str, Address] = {name: addr}
        self._out: list[Datagram] = []
        self._streams: list[StreamRequest] = []
        self._events: deque[GossipEvent] = deque()
        self._tokens = itertools.count(1)
        self._joins: dict[int, list[Any]] = {}  # join token -> [pending, joined, errors]
        self._stream_join: dict[int, int] = {}  # stream token -> join token
        self._next_probe = now + self.PROBE_INTERVAL
        self._awaiting: tuple[str, float] | None = None
        self._stopped = False

    @property
    def name(self) -> str:
        return self._name

    def _learn(self, name: str, addr: Sequence[Any], status: str = "alive") -> None:
        old = self._status.get(name)
        new = MemberStatus(status)
        self._addrs[name] = Address(addr[0], addr[1])
        if old == new or name == self._name:
            return
        self._status[name] = new
        kind = {
            MemberStatus.ALIVE: MemberEventType.JOIN,
            MemberStatus.FAILED: MemberEventType.FAILED,
            MemberStatus.LEFT: MemberEventType.LEAVE,
        }[new]
        self._events.append(MemberEvent(kind, self._member(name)))

    def _member(self, name: str) -> Member:
        addr = self._addrs[name]
        return Member(name, addr.host, addr.port, {}, self._status[name])

    def handle_datagram(self, now: float, src: Address, data: bytes) -> None:
        msg = json.loads(data)
        if msg["t"] == "ping":
            self._learn(msg["from"], msg["addr"])
            self._out.append(Datagram(src, _encode(t="ack", **{"from": self._name})))
        elif msg["t"] == "ack":
            if self._awaiting and self._awaiting[0] == msg["from"]:
                self._awaiting = None
        elif msg["t"] == "leave":
            self._learn(msg["from"], msg["addr"], "left")

    def handle_stream(self, now: float, src: Address, data: bytes) -> bytes | None:
        msg = json.loads(data)
        self._learn(msg["from"], msg["addr"])
        members = [[n, list(self._addrs[n]), s.value] for n, s in self._status.items()]
        return _encode(members=members)

    def handle_stream_result(
        self, now: float, token: int, reply: bytes | None, error: str | None = None
    ) -> None:
        join = self._joins[self._stream_join.pop(token)]
        join[0] -= 1
        if reply is None:
            join[2].append(str(error))
        else:
            join[1] += 1
            for name, addr, status in json.loads(reply)["members"]:
                self._learn(name, addr, status)
        if join[0] == 0:
            join_token = next(k for k, v in self._joins.items() if v is join)
            del self._joins[join_token]
            self._events.append(JoinCompleted(join_token, join[1], tuple(join[2])))

    def handle_timer(self, now: float) -> None:
        if self._stopped:
            return
        if self._awaiting and self._awaiting[1] <= now:
            self._learn(self._awaiting[0], self._addrs[self._awaiting[0]], "failed")
            self._awaiting = None
        if now >= self._next_probe:
            while self._next_probe <= now:
                self._next_probe += self.PROBE_INTERVAL
            peers = sorted(n for n, s in self._status.items() if n != self._name and s == "alive")
            if peers and self._awaiting is None:
                target = self._rng.choice(peers)
                ping = _encode(t="ping", addr=list(self._addr), **{"from": self._name})
                self._out.append(Datagram(self._addrs[target], ping))
                self._awaiting = (target, now + self.ACK_TIMEOUT)

    def join(self, now: float, seeds: Sequence[Address]) -> int:
        token = next(self._tokens)
        self._joins[token] = [len(seeds), 0, []]
        for seed in seeds:
            stream_token = next(self._tokens)
            self._stream_join[stream_token] = token
            hello = _encode(addr=list(self._addr), **{"from": self._name})
            self._streams.append(StreamRequest(stream_token, seed, hello, 1.0))
        return token

    def leave(self, now: float) -> int:
        token = next(self._tokens)
        bye = _encode(t="leave", addr=list(self._addr), **{"from": self._name})
        for name in sorted(self._status):
            if name != self._name:
                self._out.append(Datagram(self._addrs[name], bye))
        self._events.append(LeaveCompleted(token))
        return token

    def force_leave(self, now: float, node: str, prune: bool = False) -> int:
        token = next(self._tokens)
        if node not in self._status:
            self._events.append(ForceLeaveCompleted(token, f"no member {node}"))
        else:
            self._learn(node, self._addrs[node], "left")
            self._events.append(ForceLeaveCompleted(token))
        return token

    def shutdown(self, now: float) -> None:
        self._stopped = True

    def next_deadline(self) -> float | None:
        if self._stopped:
            return None
        if self._awaiting is not None:
            return min(self._next_probe, self._awaiting[1])
        return self._next_probe

    def datagrams_to_send(self) -> list[Datagram]:
        out, self._out = self._out, []
        return out

    def streams_to_open(self) -> list[StreamRequest]:
        out, self._streams = self._streams, []
        return out

    def next_event(self) -> GossipEvent | None:
        return self._events.popleft() if self._events else None

    def members(self) -> list[Member]:
        return [self._member(name) for name in sorted(self._status)]

    def stats(self) -> dict[str, str]:
        return {"members": str(len(self._status))}


@pytest.fixture
def recorder() -> Callable[[str], RecorderCore]:
    """Factory for RecorderCore endpoints."""
    return RecorderCore


@pytest.fixture
def ping_core() -> type[PingCore]:
    """PingCore itself: a CoreFactory for SimCluster(core_factory=...)."""
    return PingCore


@pytest.fixture
def ping_cluster() -> Callable[..., SimCluster]:
    """Factory: `ping_cluster(seed, **kwargs)` -> a SimCluster whose nodes run PingCore."""

    def make(seed: int = 0, **kwargs: Any) -> SimCluster:
        return SimCluster(seed=seed, core_factory=PingCore, **kwargs)

    return make
