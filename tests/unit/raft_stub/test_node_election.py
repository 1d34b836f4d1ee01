"""Elections: follower and candidate timeouts, the vote rules, winning, stepping down."""

from __future__ import annotations

import pytest

from raft_stub import (
    AppendEntries,
    AppendEntriesResponse,
    EntryType,
    LeaderChanged,
    LogEntry,
    PersistentState,
    RaftState,
    RequestVote,
    RequestVoteResponse,
)
from tests.helpers.raft import (
    A,
    B,
    C,
    D,
    E,
    campaign,
    committed,
    elect,
    entry,
    events,
    leader_of,
    make,
    vote_request,
)


@pytest.mark.parametrize("seed", range(20))
def test_follower_timeout_is_within_one_to_two_heartbeat_timeouts(seed: int) -> None:
    node = make(now=10.0, seed=seed)
    deadline = node.next_deadline()
    assert deadline is not None
    assert 11.0 <= deadline < 12.0


def test_early_timer_does_nothing_then_the_follower_stands() -> None:
    node = make(now=0.0)
    deadline = node.next_deadline()
    assert deadline is not None
    version = node.state_version
    node.handle_timer(deadline - 0.001)
    assert (node.state, node.term, node.messages_to_send()) == (RaftState.FOLLOWER, 1, [])
    node.handle_timer(deadline)
    assert (node.state, node.term, node.voted_for) == (RaftState.CANDIDATE, 2, A)
    assert node.state_version > version  # term and vote must be saved before the requests go
    assert node.messages_to_send() == [(B, RequestVote(2, A, 1, 1)), (C, RequestVote(2, A, 1, 1))]
    retry = node.next_deadline()
    assert retry is not None
    assert deadline + 1.0 <= retry < deadline + 2.0  # election_timeout
    assert events(node) == []  # there was no leader to forget


def test_candidate_without_result_starts_a_new_term() -> None:
    node = make()
    campaign(node)
    node.messages_to_send()
    campaign(node)
    assert (node.state, node.term) == (RaftState.CANDIDATE, 3)
    assert [msg for _, msg in node.messages_to_send()] == [RequestVote(3, A, 1, 1)] * 2


def test_majority_wins_and_the_leader_appends_a_noop_at_once() -> None:
    node = make()
    at = campaign(node)
    node.messages_to_send()
    node.handle_message(at + 0.01, B, RequestVoteResponse(2, True))
    assert node.is_leader and node.leader() == A
    assert events(node) == [LeaderChanged(2, A)]
    noop = LogEntry(2, 2, EntryType.NOOP, b"")
    assert node.messages_to_send() == [
        (B, AppendEntries(2, A, 1, 1, (noop,), 0)),
        (C, AppendEntries(2, A, 1, 1, (noop,), 0)),
    ]
    assert node.next_deadline() == pytest.approx(at + 0.01 + 0.1)  # heartbeat_timeout / 10


def test_a_duplicated_vote_counts_once() -> None:
    node = make(A, (A, B, C, D, E))
    at = campaign(node)
    node.handle_message(at, B, RequestVoteResponse(2, True))
    node.handle_message(at, B, RequestVoteResponse(2, True))
    assert node.state is RaftState.CANDIDATE
    node.handle_message(at, C, RequestVoteResponse(2, True))
    assert node.is_leader


def test_refusals_stale_votes_and_strangers_do_not_count() -> None:
    node = make()
    at = campaign(node)
    node.handle_message(at, B, RequestVoteResponse(2, False))
    node.handle_message(at, B, RequestVoteResponse(1, True))  # from an older election
    node.handle_message(at, "10.9.9.9:4647", RequestVoteResponse(2, True))  # not a voter
    assert node.state is RaftState.CANDIDATE


def test_a_higher_term_in_a_vote_response_turns_the_candidate_into_a_follower() -> None:
    node = make()
    at = campaign(node)
    node.handle_message(at, B, RequestVoteResponse(5, False))
    assert (node.state, node.term, node.voted_for) == (RaftState.FOLLOWER, 5, None)


def test_single_voter_elects_itself_without_messages() -> None:
    node = make(A, (A,), now=0.0)
    assert node.term == 1
    at = campaign(node)
    assert 1.0 <= at < 2.0
    assert (node.state, node.term, node.leader()) == (RaftState.LEADER, 2, A)
    assert node.messages_to_send() == []
    assert node.commit_index == node.last_log_index == 2
    evs = events(node)
    assert evs[0] == LeaderChanged(2, A)
    assert committed(evs) == [1, 2]


def test_a_server_outside_the_configuration_never_stands() -> None:
    node = make(bootstrap=False)
    for _ in range(5):
        campaign(node)
    assert (node.state, node.term, node.messages_to_send()) == (RaftState.FOLLOWER, 0, [])
    assert node.next_deadline() is not None  # it keeps checking, as hashicorp's loop does


# ---- the vote rules ---------------------------------------------------------------------


def test_a_vote_request_from_an_older_term_is_refused() -> None:
    node = make(restored=PersistentState(4, None, (entry(1, 1),)))
    node.handle_message(1.0, B, vote_request(3, B))
    assert node.messages_to_send() == [(B, RequestVoteResponse(4, False))]


def test_one_vote_per_term_and_a_repeated_request_gets_the_same_answer() -> None:
    node = make()
    node.handle_message(1.0, B, vote_request(2, B))
    version = node.state_version
    node.handle_message(1.0, C, vote_request(2, C))
    node.handle_message(1.1, B, vote_request(2, B))
    assert node.messages_to_send() == [
        (B, RequestVoteResponse(2, True)),
        (C, RequestVoteResponse(2, False)),
        (B, RequestVoteResponse(2, True)),
    ]
    assert (node.voted_for, node.state_version) == (B, version)
    node.handle_message(1.2, C, vote_request(3, C))  # a new term frees the vote
    assert node.messages_to_send() == [(C, RequestVoteResponse(3, True))]


@pytest.mark.parametrize(
    ("last_index", "last_term", "granted"),
    [
        (9, 1, False),  # longer but older last term
        (2, 2, False),  # same last term, shorter
        (3, 2, True),  # same last term, as long
        (4, 2, True),  # same last term, longer
        (1, 3, True),  # newer last term, shorter
    ],
)
def test_the_candidate_log_must_be_at_least_as_up_to_date(
    last_index: int, last_term: int, granted: bool
) -> None:
    log = (entry(1, 1), entry(2, 2), entry(3, 2))
    node = make(restored=PersistentState(2, None, log))
    node.handle_message(1.0, B, RequestVote(3, B, last_index, last_term))
    assert node.messages_to_send() == [(B, RequestVoteResponse(3, granted))]
    assert node.term == 3  # the higher term is adopted either way
    assert node.voted_for == (B if granted else None)


def test_granting_a_vote_restarts_the_election_timer() -> None:
    node = make(now=0.0)
    node.handle_message(0.9, B, vote_request(2, B))
    deadline = node.next_deadline()
    assert deadline is not None and deadline >= 1.9


def test_leader_stickiness_a_follower_in_contact_refuses_and_keeps_its_term() -> None:
    node = make()
    node.handle_message(1.0, B, AppendEntries(2, B, 1, 1, (), 0))
    node.messages_to_send()
    node.handle_message(1.9, C, vote_request(3, C))
    assert node.messages_to_send() == [(C, RequestVoteResponse(2, False))]
    assert (node.term, node.voted_for, node.leader()) == (2, None, B)
    node.handle_message(2.0, C, vote_request(3, C))  # heartbeat_timeout without contact
    assert node.messages_to_send() == [(C, RequestVoteResponse(3, True))]
    assert (node.term, node.leader()) == (3, None)


def test_the_leader_itself_is_sticky() -> None:
    node, at = leader_of()
    node.handle_message(at + 5.0, C, vote_request(9, C, 10, 2))
    assert node.messages_to_send() == [(C, RequestVoteResponse(2, False))]
    assert (node.is_leader, node.term) == (True, 2)


def test_a_candidate_refuses_a_rival_of_its_own_term() -> None:
    node = make()
    at = campaign(node)
    node.messages_to_send()
    node.handle_message(at, B, vote_request(2, B))
    assert node.messages_to_send() == [(B, RequestVoteResponse(2, False))]


def test_a_candidate_follows_a_leader_of_its_own_term() -> None:
    node = make()
    at = campaign(node)
    events(node)
    node.handle_message(at, B, AppendEntries(2, B, 1, 1, (), 0))
    assert (node.state, node.leader()) == (RaftState.FOLLOWER, B)
    assert events(node) == [LeaderChanged(2, B)]


def test_a_higher_term_in_a_response_deposes_the_leader() -> None:
    node, at = leader_of()
    node.handle_message(at + 0.01, B, AppendEntriesResponse(7, False, 1))
    assert (node.state, node.term, node.leader()) == (RaftState.FOLLOWER, 7, None)
    assert events(node) == [LeaderChanged(7, None)]
    node.handle_timer(at + 0.2)
    assert node.messages_to_send() == []  # no more heartbeats


def test_same_leader_in_a_new_term_is_reported_again() -> None:
    node = make()
    node.handle_message(1.0, B, AppendEntries(2, B, 1, 1, (), 0))
    node.handle_message(5.0, B, AppendEntries(4, B, 1, 1, (), 0))
    assert events(node) == [LeaderChanged(2, B), LeaderChanged(4, B)]


def test_election_after_leader_loss_forgets_the_leader() -> None:
    node = make()
    node.handle_message(1.0, B, AppendEntries(2, B, 1, 1, (), 0))
    events(node)
    campaign(node)
    assert events(node) == [LeaderChanged(2, None)]
    assert (node.state, node.term) == (RaftState.CANDIDATE, 3)


def test_elect_helper_leaves_a_leader_with_quiet_outputs() -> None:
    node = make()
    elect(node)
    assert node.messages_to_send() == [] and node.next_event() is None


def test_a_refused_higher_term_request_does_not_restart_the_election_timer() -> None:
    """Else a server with a stale log, campaigning again and again, would keep every
    up-to-date server from standing: the cluster would never elect anyone."""
    node = make(restored=PersistentState(2, None, (entry(1, 1), entry(2, 2))), now=0.0)
    deadline = node.next_deadline()
    node.handle_message(0.9, B, vote_request(5, B, 1, 1))  # stale log: refused
    assert node.messages_to_send() == [(B, RequestVoteResponse(5, False))]
    assert (node.term, node.next_deadline()) == (5, deadline)
