"""The watcher against simulated Nomad servers over real HTTP, in virtual time.

`sim_agents` runs real gossip-agent servers on a simulated network; each answers Nomad's HTTP
API on its own loopback address. Virtual time moves only when the test runs it, so a 5-minute
threshold passes in milliseconds, and the same seed gives the same run.
"""

from __future__ import annotations

from server_watcher import NomadAgent, ServerWatcher

THRESHOLD = 300.0


def failed(cluster, observer: str, member: str) -> bool:
    return cluster.statuses(observer).get(member) == "failed"


def test_a_crashed_server_is_reported_only_after_the_threshold(sim_agents) -> None:
    cluster = sim_agents(servers=3)
    watcher = ServerWatcher(NomadAgent(cluster.http("s1")), THRESHOLD, clock=lambda: cluster.now)
    assert watcher.poll() == []

    cluster.kill("s3")
    assert cluster.run_until(lambda: failed(cluster, "s1", "s3.global"), 60.0)
    assert watcher.poll() == []  # failed, but just now
    cluster.run(THRESHOLD - 1.0)
    assert watcher.poll() == []
    cluster.run(1.0)
    assert watcher.poll() == ["s3.global"]


def test_reap_force_leaves_it_and_everyone_sees_left(sim_agents) -> None:
    cluster = sim_agents(servers=3)
    watcher = ServerWatcher(NomadAgent(cluster.http("s1")), THRESHOLD, clock=lambda: cluster.now)
    cluster.kill("s2")
    assert cluster.run_until(lambda: failed(cluster, "s1", "s2.global"), 60.0)
    watcher.poll()
    cluster.run(THRESHOLD)
    assert watcher.reap() == ["s2.global"]
    assert cluster.statuses("s1")["s2.global"] == "left"
    assert cluster.run_until(lambda: cluster.statuses("s3")["s2.global"] == "left", 30.0)
    assert watcher.poll() == []


def test_a_server_back_in_time_is_never_reported(sim_agents) -> None:
    cluster = sim_agents(servers=3)
    watcher = ServerWatcher(NomadAgent(cluster.http("s1")), THRESHOLD, clock=lambda: cluster.now)
    cluster.kill("s3")
    assert cluster.run_until(lambda: failed(cluster, "s1", "s3.global"), 60.0)
    watcher.poll()
    cluster.run(THRESHOLD / 2)
    cluster.restart("s3")  # rejoins s1
    assert cluster.run_until(lambda: not failed(cluster, "s1", "s3.global"), 60.0)
    watcher.poll()
    cluster.run(THRESHOLD)
    assert watcher.poll() == []
