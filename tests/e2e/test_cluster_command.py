"""`gossip-agent cluster`: docker-compose.yml's five agents as processes on 127.0.0.11-15.

The command runs as `python -m agent cluster` from this checkout (so the code under test runs,
whatever is installed). Every wait polls against a generous deadline; the command's output
and the agents' logs are printed at teardown (pytest shows them when a test fails); anything
left running is killed by PID.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cluster_harness import can_bind

from agent.processes.topology import AGENTS, SERVERS

ROOT = Path(__file__).resolve().parents[2]
HEALTHY_DEADLINE = 60.0
MEMBERS_DEADLINE = 30.0
EXIT_DEADLINE = 20.0
_ROW = re.compile(r"^\s+(server\d|client\d)\s+(server|client)\s+(\d+)\s+(http://\S+)", re.M)


_MISSING = [a.loopback_ip for a in AGENTS if not can_bind(a.loopback_ip)]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"cannot bind {', '.join(_MISSING)} (loopback aliases 127.0.0.11-15 needed)",
    ),
]


@dataclass
class ClusterProcess:
    proc: subprocess.Popen[bytes]
    output: Path
    log_dir: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def report(self) -> str:
        parts = [f"===== gossip-agent cluster (exit {self.proc.returncode}) =====\n{self.text()}"]
        for spec in AGENTS:
            log = self.log_dir / f"{spec.name}.log"
            if log.exists():
                parts.append(f"===== {spec.name} =====\n{log.read_text(errors='replace')}")
        return "\n".join(parts)

    def pids(self) -> dict[str, int]:
        return {m[0]: int(m[2]) for m in _ROW.findall(self.text())}


def _eventually(
    check: Callable[[], bool], what: str, deadline: float, cluster: ClusterProcess
) -> None:
    end = time.monotonic() + deadline
    while not check():
        assert cluster.proc.poll() is None, f"cluster exited while waiting for {what}"
        assert time.monotonic() < end, f"timed out after {deadline:.0f} s waiting for {what}"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterProcess]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GOSSIP_AGENT_", "NOMAD_")) and not k.lower().endswith("_proxy")
    }
    output = tmp_path / "cluster.out"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent",
                "cluster",
                "-data-dir",
                str(tmp_path / "data"),
                "-log-dir",
                str(tmp_path / "logs"),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    running = ClusterProcess(proc, output, tmp_path / "logs")
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in running.pids().values():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        print(running.report())


def test_cluster_starts_the_compose_topology_and_stops_on_ctrl_c(
    cluster: ClusterProcess,
) -> None:
    http = httpx.Client(trust_env=False, timeout=2.0)

    _eventually(lambda: len(cluster.pids()) == len(AGENTS), "the table", 30.0, cluster)
    table = cluster.pids()
    text = cluster.text()
    for spec in AGENTS:
        assert f"http://{spec.loopback_ip}:4646" in text
        assert f"{spec.loopback_ip}:4647" in text
        assert (f"{spec.loopback_ip}:4648" in text) == (spec.role == "server")
        assert _alive(table[spec.name]), spec.name

    def healthy(base: str) -> bool:
        try:
            return http.get(f"{base}/v1/agent/health").status_code == 200
        except httpx.HTTPError:
            return False

    for spec in AGENTS:
        base = f"http://{spec.loopback_ip}:4646"
        _eventually(lambda b=base: healthy(b), f"{spec.name} healthy", HEALTHY_DEADLINE, cluster)

    def servers_alive() -> bool:
        members = http.get("http://127.0.0.11:4646/v1/agent/members").json()["Members"]
        status = {m["Name"]: m["Status"] for m in members}
        return all(status.get(f"{name}.global") == "alive" for name in SERVERS)

    _eventually(servers_alive, "the three servers alive on server1", MEMBERS_DEADLINE, cluster)
    _eventually(lambda: "All 5 agents healthy" in cluster.text(), "the report", 10.0, cluster)

    cluster.proc.send_signal(signal.SIGINT)
    assert cluster.proc.wait(EXIT_DEADLINE) == 0
    text = cluster.text()
    assert "Traceback" not in text
    assert "Caught SIGINT" in text
    leftovers = [name for name, pid in table.items() if _alive(pid)]
    assert leftovers == [], f"still running after the cluster command exited: {leftovers}"
    for spec in AGENTS:  # every port is free again
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((spec.loopback_ip, 4646))
