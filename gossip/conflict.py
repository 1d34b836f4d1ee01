"""Node name conflicts and their resolution by vote (serf.go: handleNodeConflict,
resolveNodeConflict; internal_query.go: handleConflict).

Theory of operation. memberlist refuses an alive message that claims a live name from
another address and reports it (NotifyConflict). About another node serf only warns. About
ourselves, with EnableNameConflictResolution (the default), serf asks the cluster whose
name it is: the internal query `_serf_conflict` with our name as payload and serf's default
query parameters (no filters, no ack, the default timeout). Every node that processes it
answers with the Member its table holds for that name, or nil if it has none, except a node
whose own name it is (the asker included: it processes its own query), which stays silent.
When the query times out we count the answers that decode and those that put the name at
our address and port: with `matching >= responses // 2 + 1` we keep the name; with anything
less, including no answers at all (0 >= 1 fails), serf calls Shutdown() and so does the core.

serf starts one resolution per conflict report (a goroutine each), and memberlist may report
the same impostor several times within one query timeout. We run one at a time: reports that
arrive while a resolution runs would ask the same cluster the same question, so they are
only counted and reported (`NameConflictDetected`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

from gossip.config import SerfConfig
from gossip.errors import DecodeError
from gossip.events import ConflictResolved, GossipEvent, NameConflictDetected
from gossip.member_state import MemberState
from gossip.membership import NodeEntry
from gossip.messages import Alive, Query
from gossip.queries import INTERNAL_QUERY_PREFIX, PendingQuery, Queries, default_query_timeout
from gossip.serf_codec import decode_conflict_response, encode_conflict_response
from gossip.types import IPV4_MAPPED_PREFIX, Address, bytes_to_ip, ip_to_bytes

CONFLICT_QUERY = INTERNAL_QUERY_PREFIX + "conflict"

_V4_MAPPED = IPV4_MAPPED_PREFIX


def _ip_key(raw: bytes) -> bytes:
    """IP bytes in one form per address (Go's net.IP.Equal treats v4 and v4-in-v6 alike)."""
    return raw[12:] if len(raw) == 16 and raw.startswith(_V4_MAPPED) else raw


class ConflictResolver:
    """Reports name conflicts, resolves ours by `_serf_conflict`, answers everyone else's."""

    def __init__(
        self,
        config: SerfConfig,
        *,
        name: str,
        addr: Address,
        members: Mapping[str, MemberState],
        queries: Queries,
        events: deque[GossipEvent],
        num_members: Callable[[], int],
        shutdown: Callable[[float], None],
    ) -> None:
        self.config = config
        self.name = name
        self.addr = addr
        self.members = members
        self.queries = queries
        self.events = events
        self.num_members = num_members
        """memberlist NumMembers (neither dead nor left): sizes the query's timeout."""
        self.shutdown = shutdown
        self.conflicts = 0
        """Conflict reports from memberlist, about anyone."""
        self.resolving = False
        self.decode_errors = 0
        """Answers to our conflict query that were not a decodable conflict response."""
        queries.handlers[CONFLICT_QUERY] = self.answer

    def on_conflict(self, now: float, existing: NodeEntry, other: Alive) -> None:
        """serf handleNodeConflict: report; about ourselves, start a resolution if enabled."""
        self.conflicts += 1
        local = existing.name == self.name
        enabled = self.config.enable_name_conflict_resolution
        claimed_at = Address(bytes_to_ip(other.addr), other.port)
        self.events.append(
            NameConflictDetected(existing.name, existing.address, claimed_at, local, enabled)
        )
        if local and enabled and not self.resolving:
            timeout = default_query_timeout(
                self.config.memberlist.gossip_interval, self.num_members()
            )
            payload = self.name.encode()
            pending = self.queries.start(
                now, CONFLICT_QUERY, payload, timeout=timeout, on_done=self._decide
            )
            self.resolving = pending is not None  # serf only logs a query it cannot start

    def answer(self, now: float, query: Query) -> bytes | None:
        """serf handleConflict: the Member we hold for the named node (nil if none); silence
        when the name is ours."""
        if query.payload == self.name.encode():
            return None
        try:
            member = self.members.get(query.payload.decode("utf-8"))
        except UnicodeDecodeError:  # no member has a name that is not UTF-8
            member = None
        return encode_conflict_response(None if member is None else member.snapshot())

    def _decide(self, now: float, pending: PendingQuery) -> None:
        """serf resolveNodeConflict after the query: tally, then stay or shut down."""
        self.resolving = False
        ours = _ip_key(ip_to_bytes(self.addr.host))
        responses = matching = 0
        for payload in pending.responses.values():
            try:
                answer = decode_conflict_response(payload)
            except DecodeError:  # serf: "Invalid conflict query response type" / decode error
                self.decode_errors += 1
                continue
            responses += 1
            if _ip_key(answer.addr) == ours and answer.port == self.addr.port:
                matching += 1
        won = matching >= responses // 2 + 1
        self.events.append(ConflictResolved(won, matching, responses))
        if not won:
            self.shutdown(now)
