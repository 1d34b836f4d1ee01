"""RaftStub: a self-bootstrapping single server and a waiting one; the stats formats."""

from __future__ import annotations

import random

import pytest

from raft_stub import LeaderChanged, RaftConfig, RaftState, RaftStub, format_go_duration
from raft_stub.stats import ServerEntry, format_configuration, seconds_to_go_duration

ADDR = "127.0.0.1:4647"


def _stub(expect: int, now: float = 0.0) -> RaftStub:
    config = RaftConfig(server_id=ADDR, address=ADDR, bootstrap_expect=expect)
    return RaftStub(config, rng=random.Random(1), now=now)


def test_bootstrap_alone_leads_in_term_1() -> None:
    stub = _stub(1)
    assert stub.state is RaftState.LEADER
    assert stub.leader() == ADDR
    assert stub.next_event() == LeaderChanged(1, ADDR)
    assert stub.next_event() is None
    assert stub.next_deadline() is None
    assert stub.messages_to_send() == []
    assert stub.stats(5.0) == {
        "state": "Leader",
        "term": "1",
        "last_log_index": "1",
        "last_log_term": "1",
        "commit_index": "1",
        "applied_index": "1",
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


@pytest.mark.parametrize("expect", [0, 3])
def test_waiting_server_has_no_leader(expect: int) -> None:
    stub = _stub(expect)
    assert stub.state is RaftState.FOLLOWER
    assert stub.leader() is None
    assert stub.next_event() is None
    stats = stub.stats(1.0)
    assert (stats["state"], stats["term"], stats["last_contact"]) == ("Follower", "0", "never")
    assert (stats["latest_configuration"], stats["num_peers"]) == ("[]", "0")


def test_follower_last_contact_is_a_go_duration() -> None:
    stub = _stub(0)
    stub.last_contact_at = 1.0
    assert stub.stats(3.5)["last_contact"] == "2.5s"


def test_shutdown_reports_no_leader() -> None:
    stub = _stub(1, now=1.0)
    stub.next_event()
    stub.shutdown(2.0)
    assert stub.state is RaftState.SHUTDOWN
    assert stub.next_event() == LeaderChanged(1, None)
    assert stub.stats(2.0)["state"] == "Shutdown"


def test_messages_are_counted_and_time_cannot_go_back() -> None:
    stub = _stub(1, now=5.0)
    stub.handle_message(6.0, "127.0.0.2:4647", b"\x00")
    assert stub.dropped_messages == 1
    with pytest.raises(ValueError, match="backwards"):
        stub.handle_timer(4.0)


@pytest.mark.parametrize("expect", [-1])
def test_config_rejects_negative_expect(expect: int) -> None:
    with pytest.raises(ValueError):
        RaftConfig(server_id=ADDR, address=ADDR, bootstrap_expect=expect)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (12_500_000, "12.5ms"),
        (1_000_000_000, "1s"),
        (1_500_000_000, "1.5s"),
        (17_795_689_370, "17.79568937s"),
        (61_000_000_000, "1m1s"),
        (120_000_000_000, "2m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (5_400_000_000_000, "1h30m0s"),
        ((1 << 63) - 1, "2562047h47m16.854775807s"),
        (-1_500_000_000, "-1.5s"),
    ],
    ids=lambda v: str(v),
)
def test_go_duration_format(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


def test_seconds_to_go_duration_saturates() -> None:
    assert seconds_to_go_duration(0.0125) == "12.5ms"
    assert seconds_to_go_duration(1e30) == "2562047h47m16.854775807s"


def test_configuration_format_several_servers() -> None:
    servers = [ServerEntry("a:1", "a:1"), ServerEntry("b:1", "b:1", "Nonvoter")]
    assert format_configuration(servers) == (
        "[{Suffrage:Voter ID:a:1 Address:a:1} {Suffrage:Nonvoter ID:b:1 Address:b:1}]"
    )
