"""The deadline keys of the gossip cores: one typed key per timer.

Why: memberlist and serf run a `time.Timer` or a ticker goroutine per concern; a sans-IO core
keeps all of its deadlines in one `DeadlineQueue` instead, which holds at most one deadline
per key, so re-arming a key replaces its deadline and cancelling it needs only the key. A key
therefore names a timer exactly: which kind it is, and for kinds that run once per probe,
wait, query, leave or member, which one. The cores dispatch on the key with `match`.

- A timer that exists once per core (a loop) is a bare `TimerKind` member.
- A timer that exists once per something is a small NamedTuple of what tells its instances
  apart (a sequence number, a node name...). Tuples compare by value, not by class, so each
  also carries its own `TimerKind` as a trailing `kind` field with a fixed default: without
  it `ProbeTimeout(7)` and `ProbeEnd(7)` would be one key and arming one would drop the other.

These keys sit on the simulator's hot path (thousands of nodes re-arming timers every tick),
so they are types whose hash and equality run in C: `TimerKind` is an IntEnum (hashed as an
int) and the keyed timers are NamedTuples (hashed as tuples).

`SwimTimer` and `SerfTimer` are the keys of SwimNode's and SerfCore's queues; each module
that arms timers takes a `DeadlineScheduler` of just the keys it arms.
"""

from __future__ import annotations

from enum import IntEnum, unique
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from gossip.member_state import MemberState


@unique
class TimerKind(IntEnum):
    """Every timer of the gossip cores (unique values: they tell the keyed timers apart)."""

    # memberlist (SwimNode)
    PROBE = 0
    """The probe ticker (memberlist `probe`): one probe round per `probe_interval`."""
    GOSSIP = 1
    """The gossip ticker (memberlist `gossip`), armed only while broadcasts wait."""
    PUSH_PULL = 2
    """The next periodic push-pull (memberlist `pushPull`)."""
    PUSH_PULL_WAIT = 3
    """The random stagger before the first push-pull (memberlist `pushPullTrigger`)."""
    LEAVE = 4
    """memberlist Leave's wait for our own dead broadcast to go out."""
    # tags of the keyed timers below
    PROBE_TIMEOUT = 5
    PROBE_END = 6
    PROBE_FALLBACK = 7
    RELAY = 8
    SUSPECT = 9
    # serf (SerfCore)
    REAP = 10
    """serf `handleReap`'s ticker (`reap_interval`)."""
    RECONNECT = 11
    """serf `handleReconnect`'s ticker (`reconnect_interval`)."""
    QUEUE_CHECK = 12
    """serf `checkQueueDepth`'s ticker (`queue_check_interval`)."""
    # tags of the keyed timers below
    WAIT = 13
    LEFT = 14
    PRUNE = 15
    QUERY = 16


SwimLoop = Literal[
    TimerKind.PROBE,
    TimerKind.GOSSIP,
    TimerKind.PUSH_PULL,
    TimerKind.PUSH_PULL_WAIT,
    TimerKind.LEAVE,
]
"""SwimNode's once-per-core timers."""

SerfLoop = Literal[TimerKind.REAP, TimerKind.RECONNECT, TimerKind.QUEUE_CHECK]
"""SerfCore's once-per-core timers (each re-arms itself when it fires)."""


# ---- memberlist ----------------------------------------------------------------------------


class ProbeTimeout(NamedTuple):
    """No direct ack for probe `seq` within `probe_timeout`: go indirect (memberlist
    probeNode's first `select`)."""

    seq: int
    kind: Literal[TimerKind.PROBE_TIMEOUT] = TimerKind.PROBE_TIMEOUT


class ProbeEnd(NamedTuple):
    """Probe `seq`'s whole interval (scaled by the health score) is over."""

    seq: int
    kind: Literal[TimerKind.PROBE_END] = TimerKind.PROBE_END


class ProbeFallback(NamedTuple):
    """Probe `seq` ended with its TCP fallback ping still out: stop waiting for it."""

    seq: int
    kind: Literal[TimerKind.PROBE_FALLBACK] = TimerKind.PROBE_FALLBACK


class RelayTimeout(NamedTuple):
    """Our ping `seq` on another node's behalf (indirect ping) got no ack: nack if asked."""

    seq: int
    kind: Literal[TimerKind.RELAY] = TimerKind.RELAY


class SuspicionTimeout(NamedTuple):
    """The suspicion of `node` runs out: declare it dead (memberlist suspicion's timer)."""

    node: str
    kind: Literal[TimerKind.SUSPECT] = TimerKind.SUSPECT


ProbeTimer = Literal[TimerKind.PROBE] | ProbeTimeout | ProbeEnd | ProbeFallback | RelayTimeout
"""The timers the prober arms and handles."""

SwimTimer = SwimLoop | ProbeTimeout | ProbeEnd | ProbeFallback | RelayTimeout | SuspicionTimeout
"""Every key of SwimNode's deadline queue."""


# ---- serf ----------------------------------------------------------------------------------


class BroadcastWait(NamedTuple):
    """The wait `wait_id` for an intent to go out reaches BroadcastTimeout."""

    wait_id: int
    kind: Literal[TimerKind.WAIT] = TimerKind.WAIT


class LeavePropagated(NamedTuple):
    """The graceful leave `token` has lingered LeavePropagateDelay: we count as left."""

    token: int
    kind: Literal[TimerKind.LEFT] = TimerKind.LEFT


class PruneMember(NamedTuple):
    """Erase `member` (listed under `name`) after a prune's linger, if it is still listed."""

    name: str
    member: MemberState
    kind: Literal[TimerKind.PRUNE] = TimerKind.PRUNE


class QueryTimeout(NamedTuple):
    """The query we sent at Lamport time `ltime` stops collecting responses."""

    ltime: int
    kind: Literal[TimerKind.QUERY] = TimerKind.QUERY


SerfTimer = SerfLoop | BroadcastWait | LeavePropagated | PruneMember | QueryTimeout
"""Every key of SerfCore's deadline queue."""
