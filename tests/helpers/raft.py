"""Helpers for the raft unit tests: build a core, drive it at explicit times, move messages.

Unit tests read like aioquic's: set `now`, feed one input, assert the exact messages, events
and deadline. `Wire` joins several cores by hand for the multi-server rules (h11's
ConnectionPair, aioquic's `transfer`), with the test choosing what arrives and when.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from raft_stub import (
    AppendEntries,
    EntryCommitted,
    EntryType,
    LeaderChanged,
    LogEntry,
    PersistentState,
    RaftConfig,
    RaftEvent,
    RaftMessage,
    RaftStub,
    RequestVote,
    RequestVoteResponse,
    ServerEntry,
    encode_configuration,
)

A, B, C, D, E = (f"10.0.0.{i}:4647" for i in range(1, 6))


def servers(*addresses: str) -> tuple[ServerEntry, ...]:
    return tuple(ServerEntry(a, a) for a in addresses)


def config_entry(index: int, term: int, *addresses: str) -> LogEntry:
    return LogEntry(index, term, EntryType.CONFIGURATION, encode_configuration(servers(*addresses)))


def entry(index: int, term: int, data: bytes = b"") -> LogEntry:
    return LogEntry(index, term, EntryType.COMMAND, data or f"cmd{index}".encode())


def make(
    me: str = A,
    peers: Sequence[str] = (A, B, C),
    *,
    now: float = 0.0,
    seed: int = 1,
    restored: PersistentState | None = None,
    bootstrap: bool = True,
    **timing: Any,
) -> RaftStub:
    """A core for `me`, bootstrapped with `peers` (unless restored or told not to)."""
    config = RaftConfig(server_id=me, address=me, **timing)
    node = RaftStub(config, rng=random.Random(seed), now=now, restored=restored)
    if bootstrap and restored is None:
        assert node.bootstrap(now, servers(*peers))
    return node


def events(node: RaftStub) -> list[RaftEvent]:
    out = []
    while (event := node.next_event()) is not None:
        out.append(event)
    return out


def campaign(node: RaftStub) -> float:
    """Fire the node's election timer; returns the time it fired at."""
    at = node.next_deadline()
    assert at is not None
    node.handle_timer(at)
    return at


def elect(node: RaftStub, voters: Iterable[str] = (B,)) -> float:
    """Make `node` leader: time out, then grant votes from `voters`; outputs are drained."""
    at = campaign(node)
    for voter in voters:
        node.handle_message(at, voter, RequestVoteResponse(node.term, True))
    assert node.is_leader, node.state
    node.messages_to_send()
    events(node)
    return at


def leader_of(peers: Sequence[str] = (A, B, C), **kwargs: Any) -> tuple[RaftStub, float]:
    """A leader at term 2 for `peers[0]`, with the NOOP at index 2 sent but not acknowledged."""
    node = make(peers[0], peers, **kwargs)
    at = elect(node, peers[1 : len(peers) // 2 + 1])
    return node, at


def vote_request(term: int, candidate: str, last_index: int = 1, last_term: int = 1) -> RequestVote:
    return RequestVote(term, candidate, last_index, last_term)


class Wire:
    """Several cores and the messages between them, delivered when the test says so."""

    def __init__(self, nodes: Iterable[RaftStub]) -> None:
        self.nodes = {n.config.address: n for n in nodes}
        self.in_flight: list[tuple[str, str, RaftMessage]] = []

    def collect(self) -> None:
        for src, node in self.nodes.items():
            self.in_flight += [(src, dst, msg) for dst, msg in node.messages_to_send()]

    def deliver(self, now: float, *, cut: Iterable[str] = (), rounds: int = 50) -> None:
        """Deliver everything (and the answers) at `now`; messages to or from `cut` are lost."""
        down = set(cut)
        for _ in range(rounds):
            self.collect()
            if not self.in_flight:
                return
            batch, self.in_flight = self.in_flight, []
            for src, dst, msg in batch:
                if src not in down and dst not in down and dst in self.nodes:
                    self.nodes[dst].handle_message(now, src, msg)
        raise AssertionError("messages still flowing after many rounds")


def leader_changes(evs: Iterable[RaftEvent]) -> list[LeaderChanged]:
    return [e for e in evs if isinstance(e, LeaderChanged)]


def committed(evs: Iterable[RaftEvent]) -> list[int]:
    """Indices of the EntryCommitted events among `evs`."""
    return [e.entry.index for e in evs if isinstance(e, EntryCommitted)]


def appends(node: RaftStub, to: str | None = None) -> list[AppendEntries]:
    """Drain the node's messages; all must be AppendEntries; keep those for `to` (or all)."""
    out = []
    for dst, msg in node.messages_to_send():
        assert isinstance(msg, AppendEntries), msg
        if to is None or dst == to:
            out.append(msg)
    return out
