"""Log replication: the consistency check, conflicts, the commit rule, heartbeats, the lease."""

from __future__ import annotations

import random

import pytest

from raft_stub import (
    AppendEntries,
    AppendEntriesResponse,
    EntryCommitted,
    EntryType,
    LeaderChanged,
    LogEntry,
    PersistentState,
    RaftState,
    RequestVoteResponse,
)
from raft_stub.replication import quorum_match_index, quorum_size, random_timeout
from tests.helpers.raft import (
    A,
    B,
    C,
    D,
    E,
    Wire,
    appends,
    campaign,
    committed,
    config_entry,
    entry,
    events,
    leader_of,
    make,
)

# ---- pure formulas ----------------------------------------------------------------------


@pytest.mark.parametrize(("voters", "quorum"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)])
def test_quorum_size(voters: int, quorum: int) -> None:
    assert quorum_size(voters) == quorum


@pytest.mark.parametrize(
    ("matches", "index"),
    [
        ([], 0),
        ([7], 7),
        ([5, 3, 9], 5),
        ([1, 1, 9], 1),
        ([4, 4, 0, 0], 0),
        ([4, 4, 4, 0], 4),
        ([10, 2, 8, 6, 4], 6),
    ],
    ids=str,
)
def test_quorum_match_index(matches: list[int], index: int) -> None:
    assert quorum_match_index(matches) == index


def test_random_timeout_range() -> None:
    rng = random.Random(3)
    draws = [random_timeout(rng, 0.5) for _ in range(1000)]
    assert all(0.5 <= d < 1.0 for d in draws)
    assert max(draws) - min(draws) > 0.4


# ---- follower side -----------------------------------------------------------------------


def test_consistency_check_fails_past_the_end_with_our_last_index_as_hint() -> None:
    node = make(B)
    node.handle_message(1.0, A, AppendEntries(2, A, 5, 2, (entry(6, 2),), 3))
    assert node.messages_to_send() == [(A, AppendEntriesResponse(2, False, 1))]
    assert (node.last_log_index, node.commit_index, node.leader()) == (1, 0, A)


def test_consistency_check_fails_on_a_term_mismatch() -> None:
    node = make(B, restored=PersistentState(2, None, (config_entry(1, 1, A, B, C), entry(2, 2))))
    node.handle_message(1.0, A, AppendEntries(3, A, 2, 3, (entry(3, 3),), 0))
    assert node.messages_to_send() == [(A, AppendEntriesResponse(3, False, 2))]
    assert node.last_log_index == 2


def test_conflicting_suffix_is_truncated_and_replaced() -> None:
    log = (config_entry(1, 1, A, B, C), entry(2, 2), entry(3, 2, b"old"), entry(4, 2, b"old"))
    node = make(B, restored=PersistentState(2, None, log))
    version = node.state_version
    new = entry(3, 3, b"new")
    node.handle_message(1.0, A, AppendEntries(3, A, 2, 2, (new,), 0))
    assert node.messages_to_send() == [(A, AppendEntriesResponse(3, True, 3))]
    assert node.log.entries == (*log[:2], new)
    assert node.state_version > version


def test_an_older_shorter_message_never_truncates() -> None:
    log = (config_entry(1, 1, A, B, C), entry(2, 2), entry(3, 2), entry(4, 2))
    node = make(B, restored=PersistentState(2, None, log))
    version = node.state_version
    node.handle_message(1.0, A, AppendEntries(2, A, 1, 1, (entry(2, 2),), 0))
    assert node.messages_to_send() == [(A, AppendEntriesResponse(2, True, 2))]
    assert node.log.entries == log and node.state_version == version


def test_follower_commits_only_what_the_message_vouched_for() -> None:
    # entries 3-4 are a stale suffix from term 2; the leader of term 3 commits up to 9 and
    # this message only vouches for 1..2, so 3-4 must not be applied
    log = (config_entry(1, 1, A, B, C), entry(2, 2), entry(3, 2, b"x"), entry(4, 2, b"x"))
    node = make(B, restored=PersistentState(2, None, log))
    node.handle_message(1.0, A, AppendEntries(3, A, 1, 1, (entry(2, 2),), 9))
    assert node.commit_index == 2
    assert [e.entry.index for e in events(node) if isinstance(e, EntryCommitted)] == [1, 2]


def test_a_stale_leader_is_refused_with_our_term() -> None:
    node = make(B, restored=PersistentState(5, None, (config_entry(1, 1, A, B, C),)))
    node.handle_message(1.0, A, AppendEntries(4, A, 1, 1, (), 1))
    assert node.messages_to_send() == [(A, AppendEntriesResponse(5, False, 1))]
    assert node.leader() is None and node.last_contact_at is None


def test_malformed_in_process_messages_are_dropped() -> None:
    node = make(B)
    node.handle_message(1.0, A, AppendEntries(2, A, 1, 1, (entry(3, 2),), 0))  # gap
    node.handle_message(1.0, A, AppendEntries(2, A, 1, 1, (entry(2, 3),), 0))  # future term
    bad_config = LogEntry(2, 2, EntryType.CONFIGURATION, b"\xc1")
    node.handle_message(1.0, A, AppendEntries(2, A, 1, 1, (bad_config,), 0))
    assert node.dropped_messages == 3
    assert node.messages_to_send() == [] and node.last_log_index == 1


def test_leader_contact_restarts_the_election_timer_and_sets_last_contact() -> None:
    node = make(B, now=0.0)
    node.handle_message(1.5, A, AppendEntries(2, A, 1, 1, (), 0))
    deadline = node.next_deadline()
    assert deadline is not None and 2.5 <= deadline < 3.5
    assert node.stats(2.0)["last_contact"] == "500ms"


# ---- leader side -------------------------------------------------------------------------


def test_heartbeats_go_to_every_follower_every_tenth_of_the_heartbeat_timeout() -> None:
    node, at = leader_of()
    assert node.next_deadline() == pytest.approx(at + 0.1)
    node.handle_timer(at + 0.05)
    assert node.messages_to_send() == []
    node.handle_timer(at + 0.1)
    noop = LogEntry(2, 2, EntryType.NOOP, b"")
    assert node.messages_to_send() == [
        (B, AppendEntries(2, A, 1, 1, (noop,), 0)),
        (C, AppendEntries(2, A, 1, 1, (noop,), 0)),
    ]
    assert node.next_deadline() == pytest.approx(at + 0.2)


def test_commit_needs_a_majority_and_followers_learn_it_within_commit_timeout() -> None:
    node, at = leader_of()
    node.handle_message(at + 0.01, B, AppendEntriesResponse(2, True, 2))
    assert node.commit_index == 2
    assert committed(events(node)) == [1, 2]
    assert node.messages_to_send() == []  # B is up to date: nothing to send at once
    assert node.next_deadline() == pytest.approx(at + 0.01 + 0.05)
    node.handle_timer(at + 0.06)
    assert [msg.leader_commit for msg in appends(node)] == [2, 2]


def test_propose_appends_replicates_at_once_and_commits_on_a_majority() -> None:
    node, at = leader_of()
    node.handle_message(at, B, AppendEntriesResponse(2, True, 2))
    node.messages_to_send()
    events(node)
    assert node.propose(at + 0.02, EntryType.COMMAND, b"job") == 3
    to_b, to_c = appends(node)
    assert to_b.entries == (LogEntry(3, 2, EntryType.COMMAND, b"job"),)
    assert to_c.prev_log_index == 1  # C never answered: still from the NOOP
    node.handle_message(at + 0.03, C, AppendEntriesResponse(2, True, 3))
    assert events(node) == [EntryCommitted(LogEntry(3, 2, EntryType.COMMAND, b"job"))]


def test_a_follower_that_lacks_entries_is_walked_back_and_caught_up_in_batches() -> None:
    node, at = leader_of()
    for i in range(150):
        node.propose(at, EntryType.COMMAND, b"%d" % i)
    node.messages_to_send()
    last = node.last_log_index
    assert last == 152
    node.handle_message(at, C, AppendEntriesResponse(2, False, 0))  # hint: C has nothing
    (msg,) = appends(node)
    assert (msg.prev_log_index, len(msg.entries)) == (0, 64)
    node.handle_message(at, C, AppendEntriesResponse(2, True, 64))
    (msg,) = appends(node)
    assert (msg.prev_log_index, len(msg.entries)) == (64, 64)
    node.handle_message(at, C, AppendEntriesResponse(2, True, 128))
    (msg,) = appends(node)
    assert (msg.prev_log_index, len(msg.entries)) == (128, 24)
    node.handle_message(at, C, AppendEntriesResponse(2, True, 152))
    assert node.messages_to_send() == []
    assert node.commit_index == 152


def test_a_failure_steps_back_one_entry_without_a_lower_hint() -> None:
    node, at = leader_of()
    node.propose(at, EntryType.COMMAND, b"x")
    node.messages_to_send()
    node.handle_message(at, C, AppendEntriesResponse(2, False, 9))
    (msg,) = appends(node, C)
    assert msg.prev_log_index == 0
    node.handle_message(at, C, AppendEntriesResponse(2, False, 9))  # a duplicate: not below 1
    assert node.messages_to_send() == []  # nothing moved: the heartbeat will retry
    node.handle_timer(at + 0.1)
    assert [m.prev_log_index for m in appends(node, C)] == [0]


def test_stale_and_duplicated_acks_never_lower_the_match_index() -> None:
    node, at = leader_of()
    node.propose(at, EntryType.COMMAND, b"x")
    node.handle_message(at, B, AppendEntriesResponse(2, True, 3))
    node.handle_message(at, B, AppendEntriesResponse(2, True, 2))
    node.handle_message(at, B, AppendEntriesResponse(2, False, 1))
    assert node.commit_index == 3
    node.messages_to_send()
    node.handle_timer(at + 0.1)
    assert [m.prev_log_index for m in appends(node, B)] == [3]


def test_entries_of_an_older_term_are_not_committed_by_counting() -> None:
    """Raft figure 8: a leader may commit an old-term entry only through one of its own."""
    log = (config_entry(1, 1, A, B, C), entry(2, 2, b"old"))
    node = make(A, restored=PersistentState(3, None, log))
    at = campaign(node)
    node.handle_message(at, B, RequestVoteResponse(4, True))
    assert node.is_leader and node.term == 4
    events(node)
    node.handle_message(at, B, AppendEntriesResponse(4, True, 2))  # the term-2 entry: no
    assert node.commit_index == 0 and events(node) == []
    node.handle_message(at, B, AppendEntriesResponse(4, True, 3))  # our NOOP: all of it
    assert node.commit_index == 3
    assert committed(events(node)) == [1, 2, 3]


def test_leader_steps_down_without_a_quorum_within_the_lease() -> None:
    node, at = leader_of()
    node.handle_timer(at + 0.4)
    node.handle_message(at + 0.4, B, AppendEntriesResponse(2, True, 2))
    node.handle_timer(at + 0.5)  # lease check: B heard 0.1 s ago
    assert node.is_leader
    node.handle_timer(at + 1.0)  # B silent for 0.6 s > 0.5 s
    assert (node.state, node.leader(), node.term) == (RaftState.FOLLOWER, None, 2)
    assert events(node)[-1] == LeaderChanged(2, None)
    deadline = node.next_deadline()
    assert deadline is not None and at + 2.0 <= deadline < at + 3.0


def test_lease_with_five_servers_needs_two_followers() -> None:
    node, at = leader_of((A, B, C, D, E))
    node.handle_message(at + 0.3, B, AppendEntriesResponse(2, True, 2))
    node.handle_timer(at + 0.5)
    assert node.is_leader  # every follower counts as fresh from the election
    node.handle_timer(at + 1.0)
    assert not node.is_leader  # only B answered within the last 0.5 s


def test_three_servers_replicate_and_agree_through_a_wire() -> None:
    nodes = [make(x, seed=i) for i, x in enumerate((A, B, C))]
    wire = Wire(nodes)
    at = campaign(nodes[0])
    wire.deliver(at)
    assert [n.leader() for n in nodes] == [A, A, A]
    nodes[0].propose(at, EntryType.COMMAND, b"one")
    wire.deliver(at)
    nodes[0].handle_timer(at + 0.1)
    wire.deliver(at + 0.1)
    assert [n.commit_index for n in nodes] == [3, 3, 3]
    assert nodes[1].log.entries == nodes[0].log.entries == nodes[2].log.entries
