"""What each observer believes about each member, and the changes between two looks.

A cell is one observer's belief about one member: serf's status (alive, leaving, left,
failed) with memberlist's state under it, so a member memberlist suspects shows `suspect` while
serf still says alive. `ViewMatrix` keeps the current cells, appends every change to a bounded
change log (what the publisher sends as deltas) and turns changes into timeline sentences.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from agent.demo.timeline import EventKind, Timeline
from gossip import MemberStatus, NodeState, SerfCore

CHANGES_KEPT = 200_000
"""Cell changes kept for deltas; a reader further behind gets the whole matrix again."""
SENTENCE_LIMIT = 32
"""Up to this many members every observer's change is a sentence; above, only the first
observer to see a given change speaks (a 500-node failure is one sentence, not 499)."""


class Status(StrEnum):
    """An observer's belief about a member; the page writes it as a word, letter and shape."""

    ALIVE = "alive"
    SUSPECT = "suspect"
    LEAVING = "leaving"
    LEFT = "left"
    FAILED = "failed"
    NONE = "none"

    @property
    def code(self) -> str:
        """One character on the wire (the page maps it back)."""
        return _CODES[self]


_CODES: Mapping[Status, str] = MappingProxyType(
    {
        Status.ALIVE: "a",
        Status.SUSPECT: "s",
        Status.LEAVING: "g",
        Status.LEFT: "l",
        Status.FAILED: "f",
        Status.NONE: "n",
    }
)
_SERF: Mapping[MemberStatus, Status] = MappingProxyType(
    {
        MemberStatus.ALIVE: Status.ALIVE,
        MemberStatus.LEAVING: Status.LEAVING,
        MemberStatus.LEFT: Status.LEFT,
        MemberStatus.FAILED: Status.FAILED,
        MemberStatus.NONE: Status.NONE,
    }
)


@dataclass(frozen=True, slots=True)
class Cell:
    status: Status
    incarnation: int


NO_CELL = Cell(Status.NONE, 0)


def read_cell(core: SerfCore, name: str) -> Cell:
    """`core`'s belief about the member whose serf name is `name`."""
    member = core.table.states.get(name)
    if member is None:
        return NO_CELL
    entry = core.swim.membership.node_map.get(name)
    status = _SERF[member.status]
    incarnation = (entry.info if entry is not None else member.info).incarnation
    if status is Status.ALIVE and entry is not None and entry.state is NodeState.SUSPECT:
        status = Status.SUSPECT
    return Cell(status, incarnation)


def read_row(core: SerfCore, members: Sequence[str]) -> list[Cell]:
    """`core`'s belief about each of `members` (serf names), in that order."""
    return [read_cell(core, name) for name in members]


@dataclass(frozen=True, slots=True)
class CellChange:
    gen: int
    observer: int
    member: int
    cell: Cell


class ViewMatrix:
    """The current cells of every observer (rows) about every member (columns)."""

    def __init__(self, names: Sequence[str], serf_names: Sequence[str]) -> None:
        self.names = list(names)
        """Short names (the page's), one per row and per column."""
        self.serf_names = list(serf_names)
        self.rows: list[list[Cell]] = [[NO_CELL] * len(names) for _ in names]
        self.gen = 0
        self._changes: deque[CellChange] = deque(maxlen=CHANGES_KEPT)
        self._announced: dict[int, tuple[Status, int]] = {}
        """Per member, the belief last announced above SENTENCE_LIMIT (first observer only)."""
        self._index = {name: m for m, name in enumerate(self.serf_names)}
        self._versions: list[tuple[int, int]] = [(0, -1) for _ in names]
        self._suspects: list[frozenset[str]] = [frozenset() for _ in names]

    def observe(
        self,
        now: float,
        core_of: Callable[[int], SerfCore | None],
        timeline: Timeline | None,
    ) -> None:
        """Read every observer whose core exists and log what changed (sentences too).

        Reading 500 rows of 500 cells after every clock advance would cost more than the
        simulation, so a row is read again only when it can have changed: in full when
        serf's table version moves (every status change, join and reap), else only the cells
        of members whose memberlist suspicion started or ended (a refutation ends one)."""
        count = len(self.names)
        every = count <= SENTENCE_LIMIT
        for o in range(count):
            core = core_of(o)
            if core is None:
                continue
            version = (id(core), core.table.version)
            suspicions = core.swim.membership.suspicions
            old_suspects = self._suspects[o]
            if version == self._versions[o]:
                if not suspicions and not old_suspects:
                    continue
                suspects = frozenset(suspicions)
                if suspects == old_suspects:
                    continue
                columns = [self._index[n] for n in suspects ^ old_suspects if n in self._index]
            else:
                suspects = frozenset(suspicions)
                columns = list(range(count))
            self._versions[o] = version
            self._suspects[o] = suspects
            old_row = self.rows[o]
            new_row = list(old_row)
            for m in columns:
                new_row[m] = read_cell(core, self.serf_names[m])
            for m in columns:
                old, new = old_row[m], new_row[m]
                if old == new:
                    continue
                self.gen += 1
                self._changes.append(CellChange(self.gen, o, m, new))
                if timeline is None or o == m:
                    continue
                if not every:
                    key = (new.status, new.incarnation)
                    if self._announced.get(m) == key:
                        continue
                    self._announced[m] = key
                sentence = describe(self.names[o], self.names[m], old, new, first=not every)
                if sentence is not None:
                    timeline.add(now, sentence[0], sentence[1])
            self.rows[o] = new_row

    def changes_since(self, gen: int) -> list[CellChange] | None:
        """Changes after `gen`, oldest first; None if some were dropped (send everything)."""
        if gen >= self.gen:
            return []
        if not self._changes or self._changes[0].gen > gen + 1:
            return None
        out: list[CellChange] = []
        for change in reversed(self._changes):
            if change.gen <= gen:
                break
            out.append(change)
        out.reverse()
        return out

    def encoded(self) -> list[dict[str, object]]:
        """Every row as a status string and an incarnation list (compact for 500 x 500)."""
        return [
            {"status": "".join(c.status.code for c in row), "inc": [c.incarnation for c in row]}
            for row in self.rows
        ]


def describe(
    observer: str, member: str, old: Cell, new: Cell, *, first: bool
) -> tuple[EventKind, str] | None:
    """The sentence for one observer's change about one member (None: not worth a line)."""
    who = f"{observer} is the first to" if first else observer
    status, inc = new.status, new.incarnation
    if status is old.status:
        return None  # only the incarnation moved (a refutation speaks for itself)
    if status is Status.SUSPECT:
        verb = "suspect" if first else "suspects"
        return EventKind.SUSPECT, f"{who} {verb} {member} (incarnation {inc})"
    if status is Status.FAILED:
        verb = "mark" if first else "marks"
        return EventKind.FAILED, f"{who} {verb} {member} failed"
    if status is Status.LEAVING:
        verb = "see" if first else "sees"
        return EventKind.LEAVING, f"{who} {verb} {member} leaving"
    if status is Status.LEFT:
        verb = "see" if first else "sees"
        return EventKind.LEFT, f"{who} {verb} {member} left"
    if status is Status.NONE:
        verb = "reap" if first else "reaps"
        return EventKind.REAPED, f"{who} {verb} {member} (forgotten)"
    # alive
    if old.status is Status.NONE:
        verb = "learn" if first else "learns"
        return EventKind.JOIN, f"{who} {verb} that {member} joined (incarnation {inc})"
    if old.status is Status.SUSPECT and inc > old.incarnation:
        return None  # the refutation itself is the sentence (see agent.demo.world)
    if old.status is Status.SUSPECT:
        verb = "clear" if first else "clears"
        return EventKind.ALIVE, f"{who} {verb} its suspicion of {member}"
    if old.status is Status.ALIVE:
        return None  # a newer incarnation of a member already alive
    verb = "see" if first else "sees"
    return EventKind.ALIVE, f"{who} {verb} {member} alive again (incarnation {inc})"
