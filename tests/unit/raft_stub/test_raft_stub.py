"""RaftStub as one agent sees it: a dev server electing itself, a waiting server, shutdown,
config validation, and the stats formats."""

from __future__ import annotations

import random

import pytest

from raft_stub import (
    AppendEntries,
    EntryCommitted,
    EntryType,
    LeaderChanged,
    LogEntry,
    RaftConfig,
    RaftEvent,
    RaftState,
    RaftStub,
    RequestVoteResponse,
    encode_configuration,
)
from raft_stub.stats import ServerEntry, format_configuration

ADDR = "127.0.0.1:4647"
PEER = "127.0.0.2:4647"


def _stub(expect: int, now: float = 0.0) -> RaftStub:
    config = RaftConfig(server_id=ADDR, address=ADDR, bootstrap_expect=expect)
    return RaftStub(config, rng=random.Random(1), now=now)


def _drain(stub: RaftStub) -> list[RaftEvent]:
    out: list[RaftEvent] = []
    while (event := stub.next_event()) is not None:
        out.append(event)
    return out


def test_bootstrap_alone_writes_the_configuration_then_wins_term_2() -> None:
    stub = _stub(1)
    assert (stub.state, stub.term, stub.leader()) == (RaftState.FOLLOWER, 1, None)
    assert stub.configuration == (ServerEntry(ADDR, ADDR),)
    assert stub.log.entries == (
        LogEntry(1, 1, EntryType.CONFIGURATION, encode_configuration([ServerEntry(ADDR, ADDR)])),
    )
    assert _drain(stub) == []
    deadline = stub.next_deadline()
    assert deadline is not None and 1.0 <= deadline < 2.0
    stub.handle_timer(deadline)
    assert stub.messages_to_send() == []
    assert _drain(stub) == [
        LeaderChanged(2, ADDR),
        EntryCommitted(stub.log.entry(1)),
        EntryCommitted(LogEntry(2, 2, EntryType.NOOP, b"")),
    ]
    assert stub.stats(5.0) == {
        "state": "Leader",
        "term": "2",
        "last_log_index": "2",
        "last_log_term": "2",
        "commit_index": "2",
        "applied_index": "2",
        "fsm_pending": "0",
        "last_snapshot_index": "0",
        "last_snapshot_term": "0",
        "protocol_version": "1",
        "protocol_version_min": "0",
        "protocol_version_max": "3",
        "snapshot_version_min": "0",
        "snapshot_version_max": "1",
        "latest_configuration_index": "1",
        "latest_configuration": f"[{{Suffrage:Voter ID:{ADDR} Address:{ADDR}}}]",
        "num_peers": "0",
        "last_contact": "0",
    }
    # alone, the leader only wakes for its heartbeat and lease timers, and stays leader
    stub.handle_timer(deadline + 60.0)
    assert stub.is_leader and stub.messages_to_send() == []


@pytest.mark.parametrize("expect", [0, 3])
def test_waiting_server_has_no_leader(expect: int) -> None:
    stub = _stub(expect)
    assert stub.state is RaftState.FOLLOWER
    assert stub.leader() is None
    assert stub.next_event() is None
    stub.handle_timer(10.0)  # not a voter of any configuration: no election
    assert (stub.state, stub.term, stub.messages_to_send()) == (RaftState.FOLLOWER, 0, [])
    stats = stub.stats(1.0)
    assert (stats["state"], stats["term"], stats["last_contact"]) == ("Follower", "0", "never")
    assert (stats["latest_configuration"], stats["num_peers"]) == ("[]", "0")


def test_follower_last_contact_is_a_go_duration() -> None:
    stub = _stub(0)
    stub.last_contact_at = 1.0
    assert stub.stats(3.5)["last_contact"] == "2.5s"


def test_shutdown_reports_no_leader_and_goes_quiet() -> None:
    stub = _stub(1, now=1.0)
    deadline = stub.next_deadline()
    assert deadline is not None
    stub.handle_timer(deadline)
    _drain(stub)
    stub.shutdown(deadline + 1)
    assert stub.state is RaftState.SHUTDOWN
    assert _drain(stub) == [LeaderChanged(2, None)]
    assert stub.stats(deadline + 1)["state"] == "Shutdown"
    assert stub.next_deadline() is None
    stub.handle_message(deadline + 2, PEER, AppendEntries(9, PEER, 0, 0, (), 0))
    assert (stub.term, stub.messages_to_send(), stub.next_event()) == (2, [], None)
    assert stub.propose(deadline + 2, EntryType.COMMAND, b"x") is None


def test_time_cannot_go_back() -> None:
    stub = _stub(1, now=5.0)
    with pytest.raises(ValueError, match="backwards"):
        stub.handle_timer(4.0)
    with pytest.raises(ValueError, match="backwards"):
        stub.handle_message(4.0, PEER, RequestVoteResponse(1, True))


def test_handle_message_refuses_what_is_not_a_raft_message() -> None:
    with pytest.raises(TypeError):
        _stub(1).handle_message(0.0, PEER, b"\x00")  # type: ignore[arg-type]


@pytest.mark.parametrize("expect", [-1])
def test_config_rejects_negative_expect(expect: int) -> None:
    with pytest.raises(ValueError):
        RaftConfig(server_id=ADDR, address=ADDR, bootstrap_expect=expect)


@pytest.mark.parametrize(
    "field",
    [
        "heartbeat_timeout",
        "election_timeout",
        "leader_lease_timeout",
        "commit_timeout",
        "max_append_entries",
    ],
)
@pytest.mark.parametrize("value", [0, -1.0])
def test_config_timing_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RaftConfig(server_id=ADDR, address=ADDR, **{field: value})  # type: ignore[arg-type]


def test_config_defaults_are_hashicorps() -> None:
    config = RaftConfig(server_id=ADDR, address=ADDR)
    assert (
        config.heartbeat_timeout,
        config.election_timeout,
        config.leader_lease_timeout,
        config.commit_timeout,
        config.max_append_entries,
    ) == (1.0, 1.0, 0.5, 0.05, 64)
    assert config.heartbeat_interval == pytest.approx(0.1)


def test_configuration_format_several_servers() -> None:
    servers = [ServerEntry("a:1", "a:1"), ServerEntry("b:1", "b:1", "Nonvoter")]
    assert format_configuration(servers) == (
        "[{Suffrage:Voter ID:a:1 Address:a:1} {Suffrage:Nonvoter ID:b:1 Address:b:1}]"
    )
