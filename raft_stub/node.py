"""RaftStub: one sans-IO raft server, after hashicorp/raft (protocol 1, IDs are addresses).

Theory of operation. The core follows aioquic and etcd's `RawNode`: inputs are stamped with
the caller's `now` (`handle_message`, `handle_timer`, and the commands `bootstrap`, `propose`,
`add_voter`, `remove_server`, `shutdown`); outputs are pulled (`messages_to_send`,
`next_event`, `next_deadline`); the durable part is read with `persistent_state()` whenever
`state_version` moved, and must be saved before the messages are sent. Randomness (election
jitter) comes only from the injected `rng`.

Roles, as in hashicorp/raft's runFollower / runCandidate / runLeader:

- Follower: without contact from a valid leader for a random [heartbeat_timeout, 2x) it forgets
  the leader and, if it is a voter in the latest configuration, stands for election (hashicorp
  "aborts" otherwise, so a server that was never bootstrapped waits forever).
- Candidate: bumps and persists the term, votes for itself, asks every other voter; wins with a
  majority, retries after a random [election_timeout, 2x). A single voter wins at once.
- Leader: appends a NOOP at once; sends each follower AppendEntries from its next_index (up to
  `max_append_entries`) every heartbeat_timeout / 10, on every new entry, and straight after a
  response that shows the follower is behind; commits the highest index a majority matches, if
  that entry is from its own term (raft 5.4.2: older entries are never committed by counting);
  steps down when it has not heard from a quorum within leader_lease_timeout.

Votes: one per term, persisted, only for a candidate whose log is at least as up to date, and
none at all while a leader has been heard from within heartbeat_timeout ("leader stickiness":
such requests are refused before their term is even looked at, as hashicorp/raft and etcd's
CheckQuorum do, so a server cut off from the leader cannot depose it by bumping terms). Any
other message with a higher term turns the server into a follower of that term.

Configuration changes (`add_voter`, `remove_server`) follow hashicorp/raft: one server at a
time, only once the previous change and this term's NOOP are committed; the new set is in force
from the moment its entry is appended (on followers too), and a leader that removed itself
steps down once that entry commits.

Safety. Two leaders in one term are impossible as long as terms and votes are persisted
before the messages that depend on them leave (see `persistence.py`): each leader holds a
majority of votes of its term, and any two majorities share a voter who votes once per term.

Left out on purpose: snapshots and log compaction (the whole log is kept and persisted), the
pre-vote extension, non-voters and staging servers (`add_voter` is the only way in; a Nonvoter
read from a log is replicated to but never counted), pipelining, leadership transfer, and
hashicorp's Verify/Barrier futures. Commit indices are not persisted, so a restarted server
reports its committed entries again from index 1. One deliberate difference: a follower
commits up to the last entry the leader's message vouched for, not up to its own last index
as hashicorp/raft does, since a stale suffix past that point may not be the leader's.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from enum import StrEnum

from gocompat.durations import seconds_to_go_duration
from raft_stub.config import RaftConfig
from raft_stub.events import EntryCommitted, LeaderChanged, RaftEvent
from raft_stub.log import RaftLog
from raft_stub.messages import (
    AppendEntries,
    AppendEntriesResponse,
    EntryType,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
    check_configuration,
    encode_configuration,
    well_formed,
    with_voter,
)
from raft_stub.persistence import PersistentState
from raft_stub.replication import Leadership, quorum_size, random_timeout
from raft_stub.stats import RaftSnapshot, ServerEntry, stats_block

VOTER = "Voter"


class RaftState(StrEnum):
    """hashicorp/raft's RaftState names, as the stats block prints them."""

    FOLLOWER = "Follower"
    CANDIDATE = "Candidate"
    LEADER = "Leader"
    SHUTDOWN = "Shutdown"


class RaftStub:
    """One raft server; see the module docstring."""

    def __init__(
        self,
        config: RaftConfig,
        *,
        rng: random.Random,
        now: float,
        restored: PersistentState | None = None,
    ) -> None:
        """Raises ValueError: `restored` holds a log with gaps or terms going backwards."""
        self.config = config
        self.rng = rng
        self.now = now
        self.state = RaftState.FOLLOWER
        self.term = 0
        self.voted_for: str | None = None
        self.log = RaftLog()
        self.commit_index = 0
        self.leader_addr: str | None = None
        self._leader_term = 0  # the term in which `leader_addr` was last reported
        self.last_contact_at: float | None = None
        """When a valid leader's AppendEntries last arrived (stats and stickiness)."""
        self.state_version = 0
        """Bumped whenever term, vote or log change: save `persistent_state()` then."""
        self._stats: tuple[tuple[object, ...], dict[str, str]] | None = None
        self.dropped_messages = 0
        """Messages that were well-typed but malformed (gaps, bad configurations)."""
        self._events: deque[RaftEvent] = deque()
        self._outbox: list[tuple[str, RaftMessage]] = []
        self._votes: set[str] = set()
        self._leadership: Leadership | None = None
        self._election_at: float | None = None
        if restored is not None:
            self.log = RaftLog(restored.entries)
            self.term = restored.term
            self.voted_for = restored.voted_for
        elif config.bootstrap_expect == 1:
            self.bootstrap(now, [ServerEntry(config.server_id, config.address)])
        self._reset_election_timer()

    # ---- commands -----------------------------------------------------------------------

    def bootstrap(self, now: float, servers: Sequence[ServerEntry]) -> bool:
        """hashicorp's BootstrapCluster: the first configuration, at index 1 in term 1.

        Only a pristine server (term 0, empty log) bootstraps; returns False otherwise. Every
        server of a new cluster must be given the same list.

        Raises:
            ValueError: no voter among `servers`, or a duplicate ID.
        """
        self._advance(now)
        check_configuration(servers)
        if self.term != 0 or self.log.last_index != 0 or self.state is RaftState.SHUTDOWN:
            return False
        self.term = 1
        self.log.append(1, EntryType.CONFIGURATION, encode_configuration(servers))
        self.state_version += 1
        return True

    def propose(self, now: float, type: EntryType, data: bytes) -> int | None:
        """Append an entry as leader and start replicating it; its index, or None if not leader.

        Raises:
            ValueError: a CONFIGURATION entry (use add_voter / remove_server).
        """
        self._advance(now)
        if type is EntryType.CONFIGURATION:
            raise ValueError("configuration changes go through add_voter / remove_server")
        if self.state is not RaftState.LEADER:
            return None
        return self._append_and_replicate(type, data)

    def add_voter(self, now: float, server: ServerEntry) -> bool:
        """Leader only: append a configuration with `server` as a voter.

        Returns True when the latest configuration now has it (appended, or already there);
        False when not leader or a previous change is not committed yet (retry later), as
        hashicorp/raft allows one uncommitted change at a time, and none before this term's
        NOOP commits.
        """
        self._advance(now)
        if not self._can_change_configuration():
            return False
        self._change_configuration(with_voter(self.log.configuration, server))
        return True

    def remove_server(self, now: float, server_id: str) -> bool:
        """Leader only: append a configuration without `server_id`; see `add_voter`.

        A leader that removes itself keeps leading until that entry commits, then steps down.

        Raises:
            ValueError: the change would leave no voter.
        """
        self._advance(now)
        if not self._can_change_configuration():
            return False
        servers = tuple(s for s in self.log.configuration if s.id != server_id)
        check_configuration(servers)
        self._change_configuration(servers)
        return True

    def shutdown(self, now: float) -> None:
        """Stop for good: no more timers or messages; a known leader is reported as gone."""
        self._advance(now)
        if self.state is RaftState.SHUTDOWN:
            return
        self._leadership = None
        self.state = RaftState.SHUTDOWN
        self._set_leader(None)
        self._outbox.clear()
        self._election_at = None

    # ---- inputs -------------------------------------------------------------------------

    def handle_message(self, now: float, src: str, msg: RaftMessage) -> None:
        """One message from the server at address `src`; replies are queued back to `src`."""
        self._advance(now)
        if self.state is RaftState.SHUTDOWN:
            return
        if isinstance(msg, AppendEntries):
            self._on_append_entries(src, msg)
        elif isinstance(msg, AppendEntriesResponse):
            self._on_append_entries_response(src, msg)
        elif isinstance(msg, RequestVote):
            self._on_request_vote(src, msg)
        elif isinstance(msg, RequestVoteResponse):
            self._on_request_vote_response(src, msg)
        else:
            raise TypeError(f"not a raft message: {msg!r}")

    def handle_timer(self, now: float) -> None:
        """Act on every deadline that is due; early calls do nothing."""
        self._advance(now)
        lead = self._leadership
        if lead is not None:
            if now >= lead.lease_at:
                self._check_lease(lead)
            if self._leadership is lead and now >= lead.heartbeat_at:
                lead.heartbeat_at = now + self.config.heartbeat_interval
                self._replicate()
        elif self._election_at is not None and now >= self._election_at:
            self._on_election_timeout()

    def _advance(self, now: float) -> None:
        if now < self.now:
            raise ValueError(f"time can't go backwards: {now} < {self.now}")
        self.now = now

    # ---- outputs ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `handle_timer` should be called next, or None (after shutdown, or while a
        leader has no followers)."""
        lead = self._leadership
        if lead is not None:
            if not lead.progress:
                # A lone voter has no one to heartbeat and is its own quorum, so it needs no
                # timer (hashicorp runs no replication goroutines then); a follower added
                # later makes the stale deadlines fire at once.
                return None
            return min(lead.heartbeat_at, lead.lease_at)
        return self._election_at

    def messages_to_send(self) -> list[tuple[str, RaftMessage]]:
        """(destination address, message) pairs queued since the last call."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> RaftEvent | None:
        return self._events.popleft() if self._events else None

    # ---- reads --------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.state is RaftState.LEADER

    def leader(self) -> str | None:
        """The current leader's address, None when there is none."""
        return self.leader_addr

    @property
    def configuration(self) -> tuple[ServerEntry, ...]:
        """The latest configuration in the log (committed or not)."""
        return self.log.configuration

    @property
    def last_log_index(self) -> int:
        return self.log.last_index

    @property
    def last_log_term(self) -> int:
        return self.log.last_term

    def persistent_state(self) -> PersistentState:
        """Term, vote and log: what must be on disk before this input's messages leave."""
        return PersistentState(self.term, self.voted_for, self.log.entries)

    def stats(self, now: float) -> dict[str, str]:
        """The raft stats block at `now` (for `last_contact`); every value a string."""
        if self.state is RaftState.LEADER:
            last_contact = "0"  # raft since March 2017; 0.5.5's older raft said "never"
        elif self.last_contact_at is None:
            last_contact = "never"
        else:
            last_contact = seconds_to_go_duration(max(0.0, now - self.last_contact_at))
        key = (self.state, self.term, self.state_version, self.commit_index)
        if self._stats is None or self._stats[0] != key:
            self._stats = (key, self._stats_block())
        block = dict(self._stats[1])
        block["last_contact"] = last_contact
        return block

    def _stats_block(self) -> dict[str, str]:
        """Everything but `last_contact`; reused while the key in `stats` holds (`/self`
        reads it on every request)."""
        snap = RaftSnapshot(
            state=self.state.value,
            term=self.term,
            last_log_index=self.log.last_index,
            last_log_term=self.log.last_term,
            commit_index=self.commit_index,
            applied_index=self.commit_index,
            protocol_version=self.config.protocol_version,
            configuration=self.log.configuration,
            configuration_index=self.log.configuration_index,
            self_id=self.config.server_id,
            last_contact="",
        )
        return stats_block(snap)

    # ---- votes --------------------------------------------------------------------------

    def _on_request_vote(self, src: str, msg: RequestVote) -> None:
        if self._has_live_leader() and self.leader_addr != msg.candidate_id:
            self._send(src, RequestVoteResponse(self.term, False))  # stickiness: term ignored
            return
        if msg.term > self.term:
            self._become_follower(msg.term, None)
        granted = msg.term == self.term and self._may_vote_for(msg)
        if granted and self.voted_for is None:
            self.voted_for = msg.candidate_id
            self.state_version += 1
        if granted:
            self._reset_election_timer()
        self._send(src, RequestVoteResponse(self.term, granted))

    def _may_vote_for(self, msg: RequestVote) -> bool:
        if self.voted_for is not None:
            return self.voted_for == msg.candidate_id  # a duplicate request gets the same yes
        return (msg.last_log_term, msg.last_log_index) >= (self.log.last_term, self.log.last_index)

    def _has_live_leader(self) -> bool:
        if self.state is RaftState.LEADER:
            return True
        return (
            self.leader_addr is not None
            and self.last_contact_at is not None
            and self.now - self.last_contact_at < self.config.heartbeat_timeout
        )

    def _on_request_vote_response(self, src: str, msg: RequestVoteResponse) -> None:
        if msg.term > self.term:
            self._become_follower(msg.term, None)
            return
        if self.state is not RaftState.CANDIDATE or msg.term != self.term or not msg.granted:
            return
        voter = next((s.id for s in self._voters() if s.address == src), None)
        if voter is not None:
            self._votes.add(voter)  # a set: a duplicated response counts once
            self._maybe_win()

    def _on_election_timeout(self) -> None:
        self._set_leader(None)
        if not self._is_voter():
            self._reset_election_timer()  # hashicorp: "not part of stable configuration"
            return
        self.state = RaftState.CANDIDATE
        self.term += 1
        self.voted_for = self.config.server_id
        self.state_version += 1
        self._votes = {self.config.server_id}
        self._election_at = self.now + random_timeout(self.rng, self.config.election_timeout)
        request = RequestVote(
            self.term, self.config.server_id, self.log.last_index, self.log.last_term
        )
        for server in self._voters():
            if server.id != self.config.server_id:
                self._send(server.address, request)
        self._maybe_win()

    def _maybe_win(self) -> None:
        if len(self._votes) < quorum_size(len(self._voters())):
            return
        self.state = RaftState.LEADER
        self._votes = set()
        self._election_at = None
        self._set_leader(self.config.address)
        lead = Leadership(
            self.config.server_id,
            self.config.address,
            heartbeat_at=self.now + self.config.heartbeat_interval,
            lease_at=self.now + self.config.leader_lease_timeout,
        )
        lead.sync(self.log, self.now, keep_removed=False)
        self._leadership = lead
        lead.start_index = self._append_and_replicate(EntryType.NOOP, b"")

    # ---- follower side of replication ---------------------------------------------------

    def _on_append_entries(self, src: str, msg: AppendEntries) -> None:
        if msg.term < self.term or (self.state is RaftState.LEADER and msg.term == self.term):
            # a stale leader; (a second leader in our own term cannot exist: refuse it too)
            self._send(src, AppendEntriesResponse(self.term, False, self.log.last_index))
            return
        if not well_formed(msg):
            self.dropped_messages += 1
            return
        if msg.term > self.term or self.state is not RaftState.FOLLOWER:
            self._become_follower(msg.term, msg.leader_id)
        self._set_leader(msg.leader_id)
        self.last_contact_at = self.now
        self._reset_election_timer()
        if self.log.term_at(msg.prev_log_index) != msg.prev_log_term:
            self._send(src, AppendEntriesResponse(self.term, False, self.log.last_index))
            return
        if self.log.merge(msg.entries):
            self.state_version += 1
        matched = msg.prev_log_index + len(msg.entries)
        # raft's "index of last new entry", not our last index: past `matched` we may still
        # hold a stale suffix this message did not vouch for
        self._commit_to(min(msg.leader_commit, matched))
        self._send(src, AppendEntriesResponse(self.term, True, matched))

    # ---- leader side of replication -----------------------------------------------------

    def _append_and_replicate(self, type: EntryType, data: bytes) -> int:
        entry = self.log.append(self.term, type, data)
        self.state_version += 1
        self._replicate()
        self._advance_commit()
        return entry.index

    def _replicate(self) -> None:
        """An AppendEntries to every follower, from where each one is."""
        if self._leadership is not None:
            for address in list(self._leadership.progress):
                self._send_append(self._leadership, address)

    def _send_append(self, lead: Leadership, address: str) -> None:
        msg = lead.append_entries(
            address, self.log, self.term, self.commit_index, self.config.max_append_entries
        )
        self._send(address, msg)

    def _on_append_entries_response(self, src: str, msg: AppendEntriesResponse) -> None:
        if msg.term > self.term:
            self._become_follower(msg.term, None)
            return
        lead = self._leadership
        progress = lead.progress.get(src) if lead is not None else None
        if lead is None or progress is None or msg.term != self.term:
            return
        progress.last_contact_at = self.now
        if not msg.success:
            if lead.record_failure(progress, msg.last_log_index):
                self._send_append(lead, src)  # retry from further back at once
            return
        if not lead.record_success(progress, min(msg.last_log_index, self.log.last_index)):
            return  # a duplicate or an older answer: nothing new
        self._advance_commit()  # may step down, or stop tracking a removed server
        behind = progress.next_index <= self.log.last_index
        if behind and self._leadership is lead and src in lead.progress:
            self._send_append(lead, src)  # the next batch at once

    def _advance_commit(self) -> None:
        """Commit what a majority holds, if it is from our term (Raft paper, section 5.4.2)."""
        if self._leadership is not None:
            index = self._leadership.quorum_index(self._voters(), self.log.last_index)
            if index > self.commit_index and self.log.term_at(index) == self.term:
                self._commit_to(index)

    def _check_lease(self, lead: Leadership) -> None:
        """hashicorp's checkLeaderLease: step down without recent contact from a quorum."""
        lead.lease_at = self.now + self.config.leader_lease_timeout
        voters = self._voters()
        heard = lead.contacted(voters, self.now, self.config.leader_lease_timeout)
        if heard < quorum_size(len(voters)):
            self._become_follower(self.term, None)

    def _can_change_configuration(self) -> bool:
        lead = self._leadership
        return (
            lead is not None
            and self.log.configuration_index <= self.commit_index
            and self.commit_index >= lead.start_index
        )

    def _change_configuration(self, servers: tuple[ServerEntry, ...]) -> None:
        if servers == self.log.configuration:
            return  # already in force: nothing to append
        self.log.append(self.term, EntryType.CONFIGURATION, encode_configuration(servers))
        self.state_version += 1
        if self._leadership is not None:
            self._leadership.sync(self.log, self.now, keep_removed=True)
        self._replicate()
        self._advance_commit()

    # ---- shared transitions -------------------------------------------------------------

    def _commit_to(self, index: int) -> None:
        if index <= self.commit_index:
            return
        for i in range(self.commit_index + 1, index + 1):
            self._events.append(EntryCommitted(self.log.entry(i)))
        self.commit_index = index
        lead = self._leadership
        if lead is None:
            return
        # followers hear of the new commit index within commit_timeout
        lead.heartbeat_at = min(lead.heartbeat_at, self.now + self.config.commit_timeout)
        if self.log.configuration_index <= index:
            lead.sync(self.log, self.now, keep_removed=False)
            if not self._is_voter():
                self._become_follower(self.term, None)  # our own removal is committed

    def _become_follower(self, term: int, leader: str | None) -> None:
        """Follow in `term` (adopting it if newer). A follower keeps its election timer: only
        leader contact and granted votes restart it, else a candidate with a stale log that
        keeps bumping the term would stop the up-to-date servers from ever standing."""
        if term > self.term:
            self.term = term
            self.voted_for = None
            self.state_version += 1
        if self.state is not RaftState.FOLLOWER:
            self._reset_election_timer()  # a fresh follower loop, as in hashicorp/raft
        self._leadership = None
        self.state = RaftState.FOLLOWER
        self._votes = set()
        self._set_leader(leader)

    def _set_leader(self, leader: str | None) -> None:
        """Report a new leader, or the same one in a new term, or that there is none."""
        changed = leader != self.leader_addr
        self.leader_addr = leader
        if changed or (leader is not None and self._leader_term != self.term):
            self._leader_term = self.term
            self._events.append(LeaderChanged(self.term, leader))

    def _reset_election_timer(self) -> None:
        self._election_at = self.now + random_timeout(self.rng, self.config.heartbeat_timeout)

    def _send(self, address: str, msg: RaftMessage) -> None:
        if address != self.config.address:
            self._outbox.append((address, msg))

    def _voters(self) -> tuple[ServerEntry, ...]:
        return tuple(s for s in self.log.configuration if s.suffrage == VOTER)

    def _is_voter(self) -> bool:
        return any(s.id == self.config.server_id for s in self._voters())
