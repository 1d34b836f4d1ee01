"""Membership changes: one at a time, effective on append, a removed leader steps down."""

from __future__ import annotations

import random

import pytest

from raft_stub import (
    AppendEntries,
    AppendEntriesResponse,
    EntryType,
    LeaderChanged,
    PersistentState,
    RaftConfig,
    RaftState,
    RaftStub,
    ServerEntry,
)
from raft_stub.messages import with_voter
from tests.helpers.raft import (
    A,
    B,
    C,
    D,
    campaign,
    config_entry,
    entry,
    events,
    leader_of,
    make,
    servers,
)


def _committed_leader() -> tuple[RaftStub, float]:
    node, at = leader_of()
    node.handle_message(at, B, AppendEntriesResponse(2, True, 2))  # the NOOP commits
    node.messages_to_send()
    events(node)
    return node, at


def test_no_change_before_this_terms_noop_commits_nor_on_a_follower() -> None:
    node, at = leader_of()
    assert node.add_voter(at, ServerEntry(D, D)) is False
    assert make(B).add_voter(1.0, ServerEntry(D, D)) is False
    assert make(B).remove_server(1.0, C) is False


def test_add_voter_takes_effect_when_appended_and_replicates_to_the_new_server() -> None:
    node, at = _committed_leader()
    assert node.add_voter(at, ServerEntry(D, D)) is True
    assert node.configuration == servers(A, B, C, D)
    assert node.log.entry(3).type is EntryType.CONFIGURATION
    assert node.stats(at)["latest_configuration_index"] == "3"
    sent = dict(node.messages_to_send())
    assert set(sent) == {B, C, D}
    assert sent[D] == AppendEntries(2, A, 3, 2, (), 2)  # probing from our last index
    # one uncommitted change at a time
    assert node.add_voter(at, ServerEntry("10.0.0.9:4647", "10.0.0.9:4647")) is False
    # quorum is now 3 of 4: B alone is not enough
    node.handle_message(at, B, AppendEntriesResponse(2, True, 3))
    assert node.commit_index == 2
    node.handle_message(at, D, AppendEntriesResponse(2, True, 3))
    assert node.commit_index == 3


def test_a_change_that_is_already_in_force_appends_nothing() -> None:
    node, at = _committed_leader()
    assert node.add_voter(at, ServerEntry(B, B)) is True
    assert node.remove_server(at, "10.0.0.9:4647") is True
    assert node.last_log_index == 2


def test_removing_the_last_voter_is_refused() -> None:
    node = make(A, (A,))
    campaign(node)
    with pytest.raises(ValueError, match="voter"):
        node.remove_server(node.now, A)


def test_removed_server_hears_of_its_removal_then_is_dropped() -> None:
    node, at = _committed_leader()
    assert node.remove_server(at, C) is True
    assert node.configuration == servers(A, B)
    sent = dict(node.messages_to_send())
    assert set(sent) == {B, C}  # C still gets the entry that removes it
    node.handle_message(at, B, AppendEntriesResponse(2, True, 3))  # 2 of 2: committed
    assert node.commit_index == 3
    node.handle_timer(at + 0.1)
    assert [dst for dst, _ in node.messages_to_send()] == [B]


def test_leader_removing_itself_leads_until_the_entry_commits_then_steps_down() -> None:
    node, at = _committed_leader()
    assert node.remove_server(at, A) is True
    assert node.is_leader and node.configuration == servers(B, C)
    node.handle_message(at, B, AppendEntriesResponse(2, True, 3))
    assert node.is_leader  # the new configuration needs B and C; we no longer count
    node.handle_message(at, C, AppendEntriesResponse(2, True, 3))
    assert node.commit_index == 3
    assert (node.state, node.leader()) == (RaftState.FOLLOWER, None)
    assert LeaderChanged(2, None) in events(node)
    for _ in range(3):
        campaign(node)  # not a voter any more: never stands
    assert node.state is RaftState.FOLLOWER and node.term == 2


def test_follower_uses_a_configuration_once_appended_and_reverts_on_truncation() -> None:
    node = make(B)
    node.handle_message(1.0, A, AppendEntries(2, A, 1, 1, (config_entry(2, 2, A, B),), 0))
    assert node.configuration == servers(A, B)
    assert node.stats(1.0)["num_peers"] == "1"
    node.handle_message(1.5, C, AppendEntries(3, C, 1, 1, (entry(2, 3),), 0))
    assert node.configuration == servers(A, B, C)
    assert node.log.configuration_index == 1


def test_restored_configuration_is_the_latest_in_the_log() -> None:
    log = (config_entry(1, 1, A, B, C), entry(2, 2), config_entry(3, 2, A, B, C, D))
    node = make(A, restored=PersistentState(2, None, log))
    assert node.configuration == servers(A, B, C, D)
    assert node.stats(0.0)["num_peers"] == "3"


def test_propose_rules() -> None:
    node, at = leader_of()
    with pytest.raises(ValueError, match="add_voter"):
        node.propose(at, EntryType.CONFIGURATION, b"")
    assert make(B).propose(1.0, EntryType.COMMAND, b"x") is None
    assert node.propose(at, EntryType.NOOP, b"") == 3


def test_with_voter_updates_in_place_or_appends() -> None:
    current = (ServerEntry(A, A), ServerEntry(B, "old:4647", "Nonvoter"))
    assert with_voter(current, ServerEntry(B, B, "Nonvoter")) == servers(A, B)
    assert with_voter(current, ServerEntry(C, C)) == (*current, ServerEntry(C, C))


def test_a_lone_leader_sleeps_until_it_has_a_follower() -> None:
    """No heartbeats or lease checks for a single voter (idle wake-ups of a dev agent)."""
    me, other = "127.0.0.1:4647", "127.0.0.2:4647"
    raft = RaftStub(
        RaftConfig(server_id=me, address=me, bootstrap_expect=1), rng=random.Random(1), now=0.0
    )
    at = raft.next_deadline()
    assert at is not None
    raft.handle_timer(at)
    assert raft.is_leader and raft.next_deadline() is None
    assert raft.add_voter(at + 1.0, ServerEntry(other, other))
    due = raft.next_deadline()
    assert due is not None and due <= at + 1.0
    raft.handle_timer(at + 1.0)
    assert raft.is_leader  # the new follower counts as heard from: no step-down
    sent = raft.messages_to_send()
    assert any(dst == other and isinstance(m, AppendEntries) for dst, m in sent)
