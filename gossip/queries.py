"""serf queries: ask the cluster, collect acks and answers until a deadline (serf query.go;
serf.go: Query, handleQuery, handleQueryResponse; event.go: Query.Respond).

Theory of operation. A query is gossiped like a user event: it carries the query clock's
time and a random ID, and every node processes it at most once (the `QueryRing`) and
re-gossips it unless it says not to. A node processes a query only if it matches all the
query's filters (`query_filters.py`); a node that does not match still re-gossips it. A
processing node acks it if asked, then either hands it to its owner (a `QueryReceived`
event) or, for the `_serf_` internal queries, answers it itself. Acks and answers do not
gossip: each is one query-response message sent over UDP straight to the address and port
the query names. The sender keeps one `PendingQuery` per query, keyed by LTime: it takes
one ack and one answer per responder until the deadline, then hands them to whoever asked.
The sender processes its own query too (so its own copy is deduplicated and its clock moves
past the query's time), exactly as serf does.

Not modelled: response relaying (our queries ask for none; we ignore a query's RelayFactor
and drop the relay messages, type 9, others ask us to forward, counting them). The
key-management internal queries (`_serf_install-key` ...) are answered by
`key_queries.py`, which registers its handlers here.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gossip.broadcasts import TransmitLimitedQueue
from gossip.config import SerfConfig
from gossip.deadlines import DeadlineScheduler
from gossip.errors import DecodeError
from gossip.events import GossipEvent, QueryReceived
from gossip.lamport import LamportClock
from gossip.messages import Query, QueryResponse
from gossip.query_filters import matches_filters
from gossip.serf_codec import encode_serf
from gossip.timers import QueryTimeout
from gossip.types import Address, bytes_to_ip, ip_to_bytes
from gossip.user_events import QueryRing

QUERY_FLAG_ACK = 1
"""The sender wants an ack from every node that processes the query."""
QUERY_FLAG_NO_BROADCAST = 2
"""Receivers must not re-gossip the query."""
INTERNAL_QUERY_PREFIX = "_serf_"
"""Queries whose names start so are serf's own: answered by the core, never delivered."""
QUERY_TIMEOUT_MULT = 16
"""serf DefaultConfig QueryTimeoutMult: default timeout = GossipInterval * 16 * ceil(log10(N+1))."""
QUERY_SIZE_LIMIT = 1024
"""serf QuerySizeLimit: an encoded query larger than this is refused."""
QUERY_RESPONSE_SIZE_LIMIT = 1024
"""serf QueryResponseSizeLimit: an encoded answer larger than this is not sent."""
MIN_PROTOCOL_FOR_QUERIES = 4
"""serf Query: FeatureNotSupported below serf protocol 4."""
NS = 1e9


def default_query_timeout(gossip_interval: float, num_members: int) -> float:
    """serf DefaultQueryTimeout: `gossip_interval * QueryTimeoutMult * ceil(log10(n + 1))`,
    with n = memberlist's NumMembers (nodes neither dead nor left, ourselves included)."""
    return gossip_interval * QUERY_TIMEOUT_MULT * math.ceil(math.log10(num_members + 1))


@dataclass(eq=False)
class PendingQuery:
    """One query we sent and are still collecting for (serf's QueryResponse)."""

    query: Query
    deadline_at: float
    on_done: Callable[[float, PendingQuery], None]
    responses: dict[str, bytes] = field(default_factory=dict)
    """Answer payload per responder, in arrival order (one per responder)."""
    expected: int | None = None
    """Stop collecting once this many have answered (serf's KeyManager stops reading its
    response channel when every member has): `on_done` runs then, before the deadline."""


InternalHandler = Callable[[float, Query], bytes | None]
"""Answers one internal query: the response payload, or None to stay silent."""


class Queries:
    """serf's query side of one node: dedup, filters, acks, answers and pending queries."""

    def __init__(
        self,
        config: SerfConfig,
        *,
        name: str,
        addr: Address,
        clock: LamportClock,
        rng: random.Random,
        deadlines: DeadlineScheduler[QueryTimeout],
        events: deque[GossipEvent],
        queue: TransmitLimitedQueue,
        send: Callable[[Address, bytes], None],
        tags: Callable[[], Mapping[str, str]],
    ) -> None:
        self.config = config
        self.name = name
        self.addr = addr
        self.clock = clock
        self.rng = rng
        self.deadlines = deadlines
        self.events = events
        self.queue = queue
        self.send = send
        self.tags = tags
        self.ring = QueryRing(clock, config.query_buffer)
        self.min_time = 0
        """serf queryMinTime: queries below it were seen before a restart and are dropped."""
        self.pending: dict[int, PendingQuery] = {}
        self.handlers: dict[str, InternalHandler] = {INTERNAL_QUERY_PREFIX + "ping": _silent}
        """Internal query name -> its answer; serf's `_serf_ping` needs only the ack."""
        self.decode_errors = 0
        """Malformed filters seen (serf: "failed to decode filter...")."""

    # ---- asking -----------------------------------------------------------------------------

    def start(
        self,
        now: float,
        name: str,
        payload: bytes,
        *,
        timeout: float,
        on_done: Callable[[float, PendingQuery], None],
        expected: int | None = None,
    ) -> PendingQuery | None:
        """serf Query: gossip a new query and collect for `timeout` seconds; `on_done` then
        gets the PendingQuery. None (nothing sent) below serf protocol 4 or when the encoded
        query exceeds QUERY_SIZE_LIMIT, the two cases where serf's Query returns an error.
        Only internal queries are sent (there is no user-query API): no filters, no ack
        request."""
        if self.config.protocol_version < MIN_PROTOCOL_FOR_QUERIES:
            return None
        query = Query(
            ltime=self.clock.time(),
            id=self.rng.getrandbits(31),  # serf: uint32(rand.Int31())
            addr=ip_to_bytes(self.addr.host),
            port=self.addr.port,
            source_node=self.name,
            filters=None,  # serf sends nil when there are none
            flags=0,
            relay_factor=0,
            timeout_ns=round(timeout * NS),
            name=name,
            payload=payload,
        )
        raw = encode_serf(query)
        if len(raw) > QUERY_SIZE_LIMIT:
            return None
        pending = PendingQuery(query, now + timeout, on_done, expected=expected)
        self.pending[query.ltime] = pending  # 1-to-1: processing it below moves the clock on
        self.deadlines.schedule(QueryTimeout(query.ltime), now + timeout)
        self.process(now, query)
        self.queue.queue(raw)
        return pending

    def expire(self, now: float, ltime: int) -> None:
        """The query sent at `ltime` reached its deadline: stop collecting, report."""
        pending = self.pending.pop(ltime, None)
        if pending is not None:
            pending.on_done(now, pending)

    def on_response(self, now: float, resp: QueryResponse) -> None:
        """serf handleQueryResponse: keep the first answer per responder."""
        pending = self.pending.get(resp.ltime)
        if pending is None or pending.query.id != resp.id or now > pending.deadline_at:
            return  # not running, an ID mismatch, or past its deadline: serf drops these
        if resp.flags & QUERY_FLAG_ACK:
            return  # an ack we never asked for (we send no ack requests)
        if resp.from_node not in pending.responses:
            pending.responses[resp.from_node] = resp.payload
            if pending.expected is not None and len(pending.responses) >= pending.expected:
                self.deadlines.cancel(QueryTimeout(resp.ltime))
                self.expire(now, resp.ltime)

    # ---- answering --------------------------------------------------------------------------

    def on_gossip(self, now: float, query: Query, raw: bytes) -> None:
        """A query from gossip: process it, and re-gossip the received bytes if it was news."""
        if self.process(now, query):
            self.queue.queue(raw)

    def process(self, now: float, query: Query) -> bool:
        """serf handleQuery; True when the query should be re-gossiped."""
        if query.ltime < self.min_time:  # as serf: witness, then drop
            self.clock.witness(query.ltime)
            return False
        if not self.ring.accept(query.ltime, query.id):
            return False
        rebroadcast = not query.flags & QUERY_FLAG_NO_BROADCAST
        try:
            ours = matches_filters(query.filters, self.name, self.tags())
        except DecodeError:
            self.decode_errors += 1
            ours = False
        if not ours:
            return rebroadcast  # first sight: others may match, so pass it on anyway
        if query.flags & QUERY_FLAG_ACK:
            self._reply(query, QUERY_FLAG_ACK, b"")
        if query.name.startswith(INTERNAL_QUERY_PREFIX):
            handler = self.handlers.get(query.name)  # serf: "Unhandled internal query"
            answer = None if handler is None else handler(now, query)
            if answer is not None:
                self.respond(query, answer)
        else:
            timeout = query.timeout_ns / NS
            self.events.append(
                QueryReceived(
                    query.name, query.payload, query.ltime, query.id, query.source_node, timeout
                )
            )
        return rebroadcast

    def respond(self, query: Query, payload: bytes) -> None:
        """serf Query.Respond: one answer straight to the sender, if still in time and small
        enough. We answer at once, so "in time" means the query's timeout is positive."""
        if query.timeout_ns > 0:
            self._reply(query, 0, payload, limit=QUERY_RESPONSE_SIZE_LIMIT)

    def _reply(self, query: Query, flags: int, payload: bytes, limit: int | None = None) -> None:
        """Send an ack (no size check, as serf) or an answer to the query's Addr:Port."""
        raw = encode_serf(QueryResponse(query.ltime, query.id, self.name, flags, payload))
        if (limit is not None and len(raw) > limit) or len(query.addr) not in (4, 16):
            return  # serf: "response exceeds limit", or a send to an address that isn't one
        self.send(Address(bytes_to_ip(query.addr), query.port), raw)


def _silent(now: float, query: Query) -> bytes | None:
    return None
