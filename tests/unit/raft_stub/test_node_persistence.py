"""Durable state: what bumps state_version, the saved bytes, and restarting from them."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raft_stub import (
    AppendEntries,
    AppendEntriesResponse,
    DecodeError,
    EntryType,
    LeaderChanged,
    PersistentState,
    RaftState,
    RequestVote,
    RequestVoteResponse,
)
from tests.helpers.raft import (
    A,
    B,
    C,
    campaign,
    committed,
    config_entry,
    entry,
    events,
    leader_of,
    make,
    servers,
)

LOG = (config_entry(1, 1, A, B, C), entry(2, 2), entry(3, 3))


def test_state_version_moves_with_term_vote_and_log_only() -> None:
    node = make(B)
    v0 = node.state_version
    assert v0 > 0  # the bootstrap entry and term 1
    node.handle_message(1.0, A, AppendEntries(2, A, 1, 1, (), 0))
    v1 = node.state_version
    assert v1 > v0  # the new term
    node.handle_message(1.1, A, AppendEntries(2, A, 1, 1, (), 0))
    node.handle_message(1.1, A, AppendEntries(2, A, 1, 1, (), 1))  # a commit is not persisted
    assert node.state_version == v1
    node.handle_message(1.2, A, AppendEntries(2, A, 1, 1, (entry(2, 2),), 1))
    v2 = node.state_version
    assert v2 > v1
    node.handle_message(3.0, C, RequestVote(3, C, 2, 2))
    assert node.state_version > v2
    assert node.persistent_state() == PersistentState(3, C, (LOG[0], entry(2, 2)))


def test_bytes_round_trip() -> None:
    state = PersistentState(7, B, LOG)
    assert PersistentState.from_bytes(state.to_bytes()) == state
    empty = PersistentState(0, None, ())
    assert PersistentState.from_bytes(empty.to_bytes()) == empty


@pytest.mark.parametrize(
    "raw",
    [
        [2, 1, None, []],  # unknown format version
        [1, -1, None, []],
        [1, 1, 5, []],
        [1, 1, "", []],
        [1, 1, None, [[2, 1, 2, b""]]],  # does not start at 1
        [1, 1, None, [[1, 1, 2, b""], [3, 1, 2, b""]]],  # gap
        [1, 1, None, [[1, 2, 2, b""]]],  # entry newer than the current term
        [1, 3, None, [[1, 2, 2, b""], [2, 1, 2, b""]]],  # terms go backwards
        [1, 1, None, [[1, 1, 9, b""]]],  # unknown entry type
        [1, 1, None, [[1, 1, 1, b"\xc1"]]],  # configuration that does not decode
        {"term": 1},
    ],
    ids=str,
)
def test_from_bytes_refuses_bad_state(raw: object) -> None:
    with pytest.raises(DecodeError):
        PersistentState.from_bytes(msgpack.packb(raw, use_bin_type=True))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_from_bytes_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        PersistentState.from_bytes(data)


def test_restored_server_keeps_term_vote_and_log_and_does_not_bootstrap() -> None:
    node = make(A, restored=PersistentState(3, C, LOG), bootstrap_expect=1)
    assert (node.term, node.voted_for, node.last_log_index, node.last_log_term) == (3, C, 3, 3)
    assert (node.commit_index, node.state, node.state_version) == (0, RaftState.FOLLOWER, 0)
    node.handle_message(0.1, B, RequestVote(3, B, 3, 3))
    assert node.messages_to_send() == [(B, RequestVoteResponse(3, False))]  # voted for C


def test_bootstrap_only_on_a_pristine_server() -> None:
    node = make(A, bootstrap=False)
    assert node.bootstrap(0.0, servers(A)) is True
    assert node.bootstrap(0.0, servers(A)) is False
    restored = make(A, restored=PersistentState(3, None, LOG))
    assert restored.bootstrap(0.0, servers(A)) is False
    with pytest.raises(ValueError, match="voter"):
        make(A, bootstrap=False).bootstrap(0.0, [])


def test_restarted_single_server_leads_again_in_a_new_term_and_replays_commits() -> None:
    first = make(A, (A,))
    campaign(first)
    first.propose(first.now, EntryType.COMMAND, b"x")
    saved = PersistentState.from_bytes(first.persistent_state().to_bytes())
    again = make(A, restored=saved, now=10.0)
    assert again.commit_index == 0
    campaign(again)
    assert (again.term, again.is_leader, again.commit_index) == (3, True, 4)
    evs = events(again)
    assert evs[0] == LeaderChanged(3, A)
    assert committed(evs) == [1, 2, 3, 4]


def test_restarted_leader_comes_back_as_a_follower() -> None:
    node, at = leader_of()
    node.handle_message(at, B, AppendEntriesResponse(2, True, 2))
    back = make(A, restored=node.persistent_state(), now=at + 1)
    assert (back.state, back.term, back.leader(), back.voted_for) == (
        RaftState.FOLLOWER,
        2,
        None,
        A,
    )
    with pytest.raises(ValueError):
        make(A, restored=PersistentState(2, None, (entry(2, 2),)))
