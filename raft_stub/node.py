"""RaftStub: a sans-IO stand-in for hashicorp/raft, enough for one self-elected server.

Theory of operation. A Nomad server runs raft for its state store; the agent API only shows
raft through `/v1/agent/self` (the raft stats block) and `/v1/agent/health` (is there a
leader?). This stub keeps the *shape* of a real node, after etcd's `RawNode`: inputs stamped
with `now` (`handle_message`, `handle_timer`), outputs pulled (`messages_to_send`,
`next_event`, `next_deadline`), and reads (`stats`, `leader`). The next issue fills in a real
election among several servers behind the same methods.

What it does today:

- `bootstrap_expect == 1`: the server bootstraps a configuration holding only itself (log
  index 1, term 1) and is at once leader of itself in term 1, like a dev agent. Unlike real
  raft it does not spend an election on it, so the term stays 1 (reference section 3 shows a
  dev agent at term 2 after its first election).
- anything else: a follower that has never heard of a leader (term 0, no log, `last_contact`
  "never"), which is what a real server waiting for `bootstrap_expect` peers looks like.

No timers and no messages are needed for that, so `next_deadline()` is None and inbound
messages are counted and dropped (there is no wire format yet).
"""

from __future__ import annotations

import random
from collections import deque
from enum import StrEnum

from raft_stub.config import RaftConfig
from raft_stub.events import LeaderChanged
from raft_stub.stats import RaftSnapshot, ServerEntry, seconds_to_go_duration, stats_block


class RaftState(StrEnum):
    """hashicorp/raft's RaftState names, as the stats block prints them."""

    FOLLOWER = "Follower"
    CANDIDATE = "Candidate"
    LEADER = "Leader"
    SHUTDOWN = "Shutdown"


class RaftStub:
    """One raft server; see the module docstring."""

    def __init__(self, config: RaftConfig, *, rng: random.Random, now: float) -> None:
        self.config = config
        self.rng = rng
        self.now = now
        self.state = RaftState.FOLLOWER
        self.term = 0
        self.last_log_index = 0
        self.last_log_term = 0
        self.commit_index = 0
        self.configuration: tuple[ServerEntry, ...] = ()
        self.configuration_index = 0
        self.leader_addr: str | None = None
        self.last_contact_at: float | None = None
        self.dropped_messages = 0
        self._events: deque[LeaderChanged] = deque()
        if config.bootstrap_expect == 1:
            self._bootstrap_alone()

    def _bootstrap_alone(self) -> None:
        """BootstrapCluster with only ourselves, then win the (uncontested) election."""
        me = ServerEntry(self.config.server_id, self.config.address)
        self.configuration = (me,)
        self.term = 1
        self.last_log_index = self.last_log_term = self.commit_index = 1
        self.configuration_index = 1
        self.state = RaftState.LEADER
        self.leader_addr = self.config.address
        self._events.append(LeaderChanged(self.term, self.leader_addr))

    # ---- inputs -------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if now < self.now:
            raise ValueError(f"time can't go backwards: {now} < {self.now}")
        self.now = now

    def handle_message(self, now: float, src: str, data: bytes) -> None:
        """A raft RPC from `src`. No wire format exists yet: counted and dropped."""
        self._advance(now)
        self.dropped_messages += 1

    def handle_timer(self, now: float) -> None:
        self._advance(now)

    def shutdown(self, now: float) -> None:
        self._advance(now)
        if self.state is RaftState.LEADER:
            self.leader_addr = None
            self._events.append(LeaderChanged(self.term, None))
        self.state = RaftState.SHUTDOWN

    # ---- outputs ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return None

    def messages_to_send(self) -> list[tuple[str, bytes]]:
        """(destination address, bytes) pairs; always empty for a single server."""
        return []

    def next_event(self) -> LeaderChanged | None:
        return self._events.popleft() if self._events else None

    # ---- reads --------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.state is RaftState.LEADER

    def leader(self) -> str | None:
        """The current leader's address, None when there is none."""
        return self.leader_addr

    def stats(self, now: float) -> dict[str, str]:
        """The raft stats block at `now` (for `last_contact`); every value a string."""
        if self.state is RaftState.LEADER:
            last_contact = "0"  # raft since March 2017; 0.5.5's older raft said "never"
        elif self.last_contact_at is None:
            last_contact = "never"
        else:
            last_contact = seconds_to_go_duration(max(0.0, now - self.last_contact_at))
        snap = RaftSnapshot(
            state=self.state.value,
            term=self.term,
            last_log_index=self.last_log_index,
            last_log_term=self.last_log_term,
            commit_index=self.commit_index,
            applied_index=self.commit_index,
            protocol_version=self.config.protocol_version,
            configuration=self.configuration,
            configuration_index=self.configuration_index,
            self_id=self.config.server_id,
            last_contact=last_contact,
        )
        return stats_block(snap)
