"""RaftLog: the in-memory replicated log and the configuration it holds.

Entries live in a list from index 1; there is no snapshot and no compaction, so entry `i` is
at position `i - 1`. The latest CONFIGURATION entry is the server set in force, whether or not
it is committed (hashicorp/raft's `configurations.latest`): appending one takes effect at
once, and truncating it away falls back to the previous one.
"""

from __future__ import annotations

from collections.abc import Iterable

from raft_stub.messages import EntryType, LogEntry, decode_configuration
from raft_stub.stats import ServerEntry


class RaftLog:
    """Entries 1..last_index, plus the latest configuration among them."""

    __slots__ = ("_entries", "configuration", "configuration_index")

    def __init__(self, entries: Iterable[LogEntry] = ()) -> None:
        """Raises ValueError: the entries are not consecutive from 1 with non-decreasing terms."""
        self._entries: list[LogEntry] = []
        self.configuration: tuple[ServerEntry, ...] = ()
        """Servers of the latest CONFIGURATION entry; empty before bootstrap."""
        self.configuration_index = 0
        """Index of that entry, 0 when there is none."""
        for entry in entries:
            if entry.index != self.last_index + 1 or entry.term < self.last_term:
                raise ValueError(f"log entry {entry.index} (term {entry.term}) does not follow")
            self._push(entry)

    @property
    def last_index(self) -> int:
        return len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else 0

    @property
    def entries(self) -> tuple[LogEntry, ...]:
        return tuple(self._entries)

    def term_at(self, index: int) -> int | None:
        """Term of entry `index`; 0 for index 0 (before the log), None past the end."""
        if index == 0:
            return 0
        if 0 < index <= len(self._entries):
            return self._entries[index - 1].term
        return None

    def entry(self, index: int) -> LogEntry:
        """Raises IndexError: no entry `index`."""
        if not 0 < index <= len(self._entries):
            raise IndexError(f"no log entry {index} (last is {len(self._entries)})")
        return self._entries[index - 1]

    def slice(self, start: int, limit: int) -> tuple[LogEntry, ...]:
        """Up to `limit` entries from index `start` on."""
        return tuple(self._entries[start - 1 : start - 1 + limit])

    def append(self, term: int, type: EntryType, data: bytes) -> LogEntry:
        """A new entry at the end (the leader's path)."""
        entry = LogEntry(self.last_index + 1, term, type, data)
        self._push(entry)
        return entry

    def merge(self, entries: tuple[LogEntry, ...]) -> bool:
        """A follower takes the leader's entries (which follow an entry it already matched).

        As hashicorp/raft's appendEntries: entries it already holds with the same term are
        skipped; at the first index whose term differs, that entry and every later one are
        deleted; the rest is appended. A shorter, older message never truncates anything.
        Returns whether the log changed.
        """
        for offset, entry in enumerate(entries):
            existing = self.term_at(entry.index)
            if existing == entry.term:
                continue
            if existing is not None:
                self._truncate_from(entry.index)
            for new in entries[offset:]:
                self._push(new)
            return True
        return False

    def _push(self, entry: LogEntry) -> None:
        self._entries.append(entry)
        if entry.type is EntryType.CONFIGURATION:
            self.configuration = decode_configuration(entry.data)
            self.configuration_index = entry.index

    def _truncate_from(self, index: int) -> None:
        del self._entries[index - 1 :]
        if self.configuration_index >= index:
            self.configuration, self.configuration_index = (), 0
            for entry in reversed(self._entries):
                if entry.type is EntryType.CONFIGURATION:
                    self.configuration = decode_configuration(entry.data)
                    self.configuration_index = entry.index
                    break
