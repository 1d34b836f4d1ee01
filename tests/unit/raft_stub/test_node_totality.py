"""Whatever a network delivers (stale, duplicated, reordered, contradictory), a core neither
raises nor breaks its own bookkeeping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from raft_stub import (
    AppendEntries,
    AppendEntriesResponse,
    EntryType,
    LogEntry,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
)
from tests.helpers.raft import A, B, C, D, config_entry, make

peers = st.sampled_from([B, C, D])
terms = st.integers(0, 6)
indices = st.integers(0, 8)


@st.composite
def append_entries(draw: st.DrawFn) -> AppendEntries:
    prev = draw(indices)
    prev_term = draw(st.integers(0, 3))
    term = draw(st.integers(prev_term, 6))
    count = draw(st.integers(0, 3))
    entries = []
    entry_term = prev_term
    for offset in range(count):
        entry_term = draw(st.integers(entry_term, term))
        if draw(st.booleans()):
            entries.append(config_entry(prev + 1 + offset, entry_term, A, B, C))
        else:
            entries.append(LogEntry(prev + 1 + offset, entry_term, EntryType.COMMAND, b"x"))
    return AppendEntries(term, draw(peers), prev, prev_term, tuple(entries), draw(indices))


messages = st.one_of(
    st.builds(RequestVote, terms, peers, indices, terms),
    st.builds(RequestVoteResponse, terms, st.booleans()),
    append_entries(),
    st.builds(AppendEntriesResponse, terms, st.booleans(), indices),
)
steps = st.lists(
    st.tuples(st.floats(0.0, 0.7), st.one_of(messages, st.just("timer"), st.just("propose"))),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(0, 3))
def test_any_input_sequence_keeps_the_core_consistent(
    script: list[tuple[float, RaftMessage | str]], seed: int
) -> None:
    node = make(A, (A, B, C), seed=seed)
    now = 0.0
    term = version = commit = 0
    for delay, step in script:
        now += delay
        if step == "timer":
            node.handle_timer(now)
        elif step == "propose":
            node.propose(now, EntryType.COMMAND, b"p")
        else:
            assert not isinstance(step, str)
            node.handle_message(now, B, step)
        node.messages_to_send()
        while node.next_event() is not None:
            pass
        assert node.term >= term and node.state_version >= version
        assert commit <= node.commit_index <= node.last_log_index
        assert node.next_deadline() is not None  # only a shut-down core has no timer
        term, version, commit = node.term, node.state_version, node.commit_index
