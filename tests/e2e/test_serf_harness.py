"""The serf harness itself works: three real serf agents on loopback join and see each other.

Why: ``bench/fidelity.py`` and later interop tests trust ``bench/serf_agents.py`` to start,
drive (msgpack RPC) and stop real agents; this pins that down with the smallest cluster.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.serf,
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("serf") is None,
        reason="needs the real serf binary: apt-get install -y serf (Debian's package)",
    ),
]

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from serf_agents import SerfCluster  # noqa: E402


def test_three_agents_join_and_all_alive(tmp_path: Path) -> None:
    with SerfCluster(3, workdir=tmp_path) as cluster:
        assert [a.rpc.statuses() for a in cluster] == [
            {"n1": "alive"},
            {"n2": "alive"},
            {"n3": "alive"},
        ]
        assert cluster.join_all() == [1, 1]  # one successful push-pull each
        names = {"n1", "n2", "n3"}
        seen = cluster.wait_for(
            cluster.agents,
            lambda s: set(s) == names and all(v == "alive" for v in s.values()),
            timeout=20.0,
            what="three agents alive everywhere",
        )
        assert set(seen) == names
        for agent in cluster:
            members = {m["Name"]: m for m in agent.rpc.members()}
            assert {m["Status"] for m in members.values()} == {"alive"}
            assert members["n2"]["Port"] == cluster["n2"].port
            assert members["n2"]["DelegateCur"] == 5  # the Debian agent speaks serf protocol 5
        pids = [a.pid for a in cluster]
    for agent in cluster:
        assert not agent.running(), f"{agent.name} (pid {agent.pid}) still running"
    assert all(pid is not None for pid in pids)
