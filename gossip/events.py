"""What the cores report to their owner, pulled with `next_event()`.

Member events carry serf's names (`member-join` ...); command completions carry the token the
command returned, so a driver can resolve the future it handed out. The events that answer
no command (name conflicts, received queries) carry `token = 0`, a value no command returns,
so a driver that routes every non-member event by token simply finds no waiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from gossip.types import Address, Member

if TYPE_CHECKING:  # key_queries imports queries, which imports this module
    from gossip.key_queries import KeyResponse

NO_TOKEN = 0
"""The token of events no command asked for; command tokens start at 1."""


class MemberEventType(StrEnum):
    JOIN = "member-join"
    LEAVE = "member-leave"
    FAILED = "member-failed"
    UPDATE = "member-update"
    REAP = "member-reap"


@dataclass(frozen=True, slots=True)
class MemberEvent:
    """A serf member event: what `serf monitor` and event handlers see."""

    type: MemberEventType
    member: Member


@dataclass(frozen=True, slots=True)
class JoinCompleted:
    """A join finished: `num_joined` successful push-pulls, one error line per failed seed."""

    token: int
    num_joined: int
    errors: tuple[str, ...] = ()
    multierror: bool = True
    """False for serf's own refusals (a plain error, not memberlist's error list)."""

    @property
    def error(self) -> str | None:
        """serf's result: None if anything joined, else go-multierror's text."""
        if self.num_joined > 0 or not self.errors:
            return None
        return format_multierror(self.errors) if self.multierror else self.errors[0]


@dataclass(frozen=True, slots=True)
class LeaveCompleted:
    token: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ForceLeaveCompleted:
    token: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NameConflictDetected:
    """memberlist saw an alive message claim a live `node` name from another address.

    serf logs it: about another node, "Name conflict for '<node>' both <existing> and <other>
    are claiming"; about ourselves (`local`), "Node name conflicts with another node at
    <other>. Names must be unique! (Resolution enabled: <resolution_enabled>)".
    """

    node: str
    existing: Address
    """Where we (and memberlist's table) have the node."""
    other: Address
    """Where the rejected claim came from."""
    local: bool
    resolution_enabled: bool
    token: int = NO_TOKEN


@dataclass(frozen=True, slots=True)
class ConflictResolved:
    """Our `_serf_conflict` query timed out and was tallied (serf resolveNodeConflict).

    `won`: at least a majority (`responses // 2 + 1`) of the answers put our name at our
    address, and we stay. Otherwise serf logs "minority in name conflict resolution,
    quitting [matching / responses]" and the core has shut down (no answers at all loses).
    """

    won: bool
    matching: int
    responses: int
    token: int = NO_TOKEN


@dataclass(frozen=True, slots=True)
class QueryReceived:
    """A user query that passed our filters (serf's EventQuery); internal `_serf_` queries
    are answered by the core and never surface."""

    name: str
    payload: bytes
    ltime: int
    id: int
    source_node: str
    timeout: float
    """Seconds the sender collects answers for, from when it sent the query (its Timeout)."""
    token: int = NO_TOKEN


@dataclass(frozen=True, slots=True)
class KeyQueryCompleted:
    """A key operation (`SerfCore.key_operation`) finished: serf KeyManager's result."""

    token: int
    response: KeyResponse


@dataclass(frozen=True, slots=True)
class KeyringChanged:
    """A key query changed our keyring: the owner saves it (serf's keyring file)."""

    keys: tuple[bytes, ...]
    """Every installed key, the primary first."""
    token: int = NO_TOKEN


GossipEvent = (
    MemberEvent
    | JoinCompleted
    | LeaveCompleted
    | ForceLeaveCompleted
    | NameConflictDetected
    | ConflictResolved
    | QueryReceived
    | KeyQueryCompleted
    | KeyringChanged
)


def format_multierror(errors: tuple[str, ...] | list[str]) -> str:
    """go-multierror's ListFormatFunc: a count line, then one tab-indented line per error."""
    noun = "error" if len(errors) == 1 else "errors"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} {noun} occurred:\n\t{points}\n\n"
