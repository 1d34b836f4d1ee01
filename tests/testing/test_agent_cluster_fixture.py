"""The `agent_cluster` fixture: real processes, healthy at once, handles that crash, restart and
leave them, partitions through the agents' fault injection, and nothing left behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config.settings import Settings
from agent.testing import AgentCluster
from agent.testing.agent_cluster import FaultInjectionOff, FaultRequest, partition_requests
from tests.testing.test_plugin import PLUGIN

pytest_plugins = ["pytester"]

Factory = Callable[..., AgentCluster]
HAS_FAULT_INJECTION = "enable_fault_injection" in Settings.model_fields


def test_a_real_cluster_crashes_restarts_and_leaves(agent_cluster: Factory) -> None:
    c = agent_cluster(servers=3, clients=1)
    s1, s2, s3, c1 = c["s1"], c["s2"], c["s3"], c["c1"]
    assert [h.name for h in c.servers] == ["s1", "s2", "s3"] and c.clients == [c1]
    assert s1.http == f"http://{s1.address}:4646" and c1.serf is None
    assert s1.nomad.agent.get_members()["Members"][0]["Status"] == "alive"
    assert c1.get("/v1/agent/health")["client"]["ok"] is True

    s3.kill()
    assert not s3.running
    c.wait_until(lambda: s1.statuses()["s3.global"] == "failed")
    s3.restart()
    c.wait_until(lambda: s1.statuses()["s3.global"] == "alive")

    s2.leave()
    assert not s2.running
    c.wait_until(lambda: s1.statuses()["s2.global"] == "left")


def test_partition_without_fault_injection_says_how_to_get_it(tmp_path: Path) -> None:
    c = AgentCluster(tmp_path, servers=1)  # refused before any agent is asked
    with pytest.raises(FaultInjectionOff, match="fault_injection=True"):
        c.partition(["s1"], [])
    with pytest.raises(FaultInjectionOff, match="heal"):
        c.heal()


def test_a_partition_drops_every_address_of_the_other_side_both_ways() -> None:
    peers = {
        "s1": ("127.0.0.160:4648", "127.0.0.160:4647"),
        "s2": ("127.0.0.161:4648", "127.0.0.161:4647"),
        "c1": ("127.0.0.162:4647",),
    }
    requests = partition_requests([["s1"], ["s2", "c1"]], peers)
    targets = {(r.agent, r.target) for r in requests}
    drop = "/v1/agent/fault/drop?peer={}&direction=both&rate=1"
    assert targets == {
        ("s1", drop.format("127.0.0.161%3A4648")),
        ("s1", drop.format("127.0.0.161%3A4647")),
        ("s1", drop.format("127.0.0.162%3A4647")),
        ("s2", drop.format("127.0.0.160%3A4648")),
        ("s2", drop.format("127.0.0.160%3A4647")),
        ("c1", drop.format("127.0.0.160%3A4648")),
        ("c1", drop.format("127.0.0.160%3A4647")),
    }
    assert len(requests) == len(targets)
    assert partition_requests([["s1"]], peers) == []  # one group cuts nothing
    with pytest.raises(ValueError, match="two partition groups"):
        partition_requests([["s1"], ["s1"]], peers)
    with pytest.raises(ValueError, match="no agent named 'x'"):
        partition_requests([["x"]], peers)
    assert FaultRequest("s1", "/v1/agent/fault/clear").target == "/v1/agent/fault/clear"


@pytest.mark.skipif(not HAS_FAULT_INJECTION, reason="this agent has no -enable-fault-injection")
def test_partition_cuts_a_server_off_and_heal_clears_every_fault(agent_cluster: Factory) -> None:
    c = agent_cluster(servers=3, fault_injection=True)
    c.partition(["s1", "s2"], ["s3"])
    assert {f["Peer"] for f in c["s1"].faults()} == set(c["s3"].peer_addresses)
    assert len(c["s3"].faults()) == 4
    c.wait_until(lambda: c["s1"].statuses()["s3.global"] == "failed", 60.0)
    # (s3, alone, takes longer: Lifeguard stretches its probes as its own health sinks.)
    assert c["s1"].statuses()["s2.global"] == "alive"
    c.heal()
    assert all(h.faults() == [] for h in c)
    # Rejoining is serf's reconnect (every 30 s), which the fault-injection e2e test shows.


# ---- nothing left behind -------------------------------------------------------------------

INNER = """
from pathlib import Path

def test_inner(agent_cluster):
    c = agent_cluster(servers=1, clients=1)
    Path({pids!r}).write_text(" ".join(map(str, c.pids())))
    {ending}
"""


def _gone(pid: int) -> bool:
    """The process has exited and been reaped (no zombie either)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(
    ("ending", "outcome"),
    [
        ("assert False, 'the test failed'", "failed"),
        ("raise KeyboardInterrupt", "interrupted"),
    ],
)
def test_no_agent_survives_a_failing_or_interrupted_test(
    pytester: pytest.Pytester, tmp_path: Path, ending: str, outcome: str
) -> None:
    pids_file = tmp_path / "pids"
    pytester.makepyfile(test_inner=INNER.format(pids=str(pids_file), ending=ending))
    reprec = pytester.inline_run(
        "-p", "no:cacheprovider", *PLUGIN, "--agent-bind-base=127.0.0.140", no_reraise_ctrlc=True
    )
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids), [p for p in pids if not _gone(p)]
    if outcome == "failed":
        reports = [r for r in reprec.getreports("pytest_runtest_logreport") if r.failed]
        assert len(reports) == 1
        sections = dict(reports[0].sections)
        logs = [title for title in sections if title.startswith("gossip-agent: s1 log")]
        assert logs and "start: gossip-agent agent -node s1" in sections[logs[0]]
    else:
        assert reprec.ret == pytest.ExitCode.INTERRUPTED
