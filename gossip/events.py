"""What the cores report to their owner, pulled with `next_event()`.

Member events carry serf's names (`member-join` ...); command completions carry the token the
command returned, so a driver can resolve the future it handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gossip.types import Member


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


GossipEvent = MemberEvent | JoinCompleted | LeaveCompleted | ForceLeaveCompleted


def format_multierror(errors: tuple[str, ...] | list[str]) -> str:
    """go-multierror's ListFormatFunc: a count line, then one tab-indented line per error."""
    noun = "error" if len(errors) == 1 else "errors"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} {noun} occurred:\n\t{points}\n\n"
