"""Fault injection in real agent processes: a partition made with `/v1/agent/fault/drop`.

Two servers (`-bootstrap-expect 2`, local gossip timings) on 127.0.0.71 and .72 run this
worktree's code (`python -m agent` with the repository on PYTHONPATH, not whatever
`gossip-agent` is installed). One of them drops all traffic with the other, both ways:
serf's probes fail on both sides, so each marks the other `failed`, and raft's frames on the
RPC port are lost too, so the pair has no leader. `clear` lifts it: both are `alive` again
and elect a leader. Every wait polls against a generous deadline; logs are printed at
teardown (pytest shows them when a test fails); agents are stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIRST, SECOND = "127.0.0.71", "127.0.0.72"
DEADLINE = 60.0


class Server:
    def __init__(self, ip: str, name: str, peer: str, log: Path) -> None:
        self.ip, self.name, self.log = ip, name, log
        self.base = f"http://{ip}:4646"
        self._log_file = log.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_AGENT_")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(":")
        env["NO_PROXY"] = "*"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent",
                "agent",
                "-server",
                "-bootstrap-expect",
                "2",
                "-bind",
                ip,
                "-node",
                name,
                "-gossip-profile",
                "local",
                "-retry-join",
                peer,
                "-retry-interval",
                "1s",
                "-enable-fault-injection",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> httpx.Response:
        assert self.proc.poll() is None, f"{self.name} exited:\n{self.logs()}"
        return httpx.get(f"{self.base}{path}", timeout=5.0)

    def post(self, path: str) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", timeout=5.0)

    def statuses(self) -> dict[str, str]:
        members = self.get("/v1/agent/members").json()["Members"]
        return {m["Name"]: m["Status"] for m in members}

    def healthy(self) -> bool:
        return self.get("/v1/agent/health").status_code == 200

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._log_file.close()
        return self.proc.returncode


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    servers = [
        Server(FIRST, "f1", SECOND, tmp_path / "f1.log"),
        Server(SECOND, "f2", FIRST, tmp_path / "f2.log"),
    ]
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            code = server.stop()
            print(f"===== {server.name} ({server.ip}) exit {code} =====\n{server.logs()}")


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_dropping_all_traffic_fails_both_sides_and_clear_heals(
    pair: tuple[Server, Server],
) -> None:
    first, second = pair
    alive = {"f1.global": "alive", "f2.global": "alive"}
    eventually(lambda: first.statuses() == alive and second.statuses() == alive, "the join")
    eventually(lambda: first.healthy() and second.healthy(), "a raft leader")

    dropped = first.post(f"/v1/agent/fault/drop?peer={SECOND}&direction=both")
    assert dropped.status_code == 200, dropped.text
    listed = first.get("/v1/agent/fault").json()
    assert listed == [
        {"Kind": "drop", "Peer": SECOND, "Direction": "both", "Rate": 1.0, "DelayMs": 0.0}
    ]
    assert second.get("/v1/agent/fault").json() == []  # only f1 drops: it cuts both ways

    eventually(lambda: first.statuses()["f2.global"] == "failed", "f1 to mark f2 failed")
    eventually(lambda: second.statuses()["f1.global"] == "failed", "f2 to mark f1 failed")
    # Raft's frames are dropped too: two servers out of touch have no quorum, so no leader.
    eventually(lambda: not first.healthy() and not second.healthy(), "the leader to go")

    cleared = first.post("/v1/agent/fault/clear")
    assert (cleared.status_code, cleared.json()) == (200, [])
    eventually(lambda: first.statuses() == alive, "f1 to see f2 alive again")
    eventually(lambda: second.statuses() == alive, "f2 to see f1 alive again")
    eventually(lambda: first.healthy() and second.healthy(), "a leader again")
