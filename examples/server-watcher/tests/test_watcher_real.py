"""The watcher against real gossip-agent processes on loopback (the `agent_cluster` fixture)."""

from __future__ import annotations

from server_watcher import NomadAgent, ServerWatcher


def test_a_killed_server_is_reported_and_force_left(agent_cluster) -> None:
    cluster = agent_cluster(servers=3)
    watcher = ServerWatcher(NomadAgent(cluster["s1"].http), threshold=1.0)
    assert watcher.poll() == []
    cluster["s3"].kill()
    assert cluster.wait_until(watcher.reap) == ["s3.global"]
    assert cluster.wait_until(lambda: cluster["s2"].statuses()["s3.global"] == "left")
