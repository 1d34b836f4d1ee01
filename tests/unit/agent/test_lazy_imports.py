"""A running agent holds only what its command uses: what other commands, the simulator, the
test kit, encryption without `-encrypt` and Prometheus without a scrape need is imported when
used, not at start (bench/memory.py: ~8 MiB of RSS per agent). This fails if an eager import
of one of them comes back anywhere on the `agent` command's path (`python -P -m agent`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ADDRESS = "127.0.2.18"

NOT_LOADED = (
    "agent.api.prometheus",
    "agent.api.routes.fault",
    "agent.cli.cluster_command",
    "agent.cli.demo_command",
    "agent.cli.nomad_commands",
    "agent.cli.wait_progress",
    "agent.demo",
    "agent.launch.sim_http",
    "agent.launch.simulated",
    "agent.processes",
    "agent.sim",
    "agent.testing",
    "cryptography",
    "hypothesis",
    "prometheus_client",
    "pytest",
    "rich",
    "yaml",
)
"""Packages (and modules) the `agent` command must not import unless asked to."""

RUN_AND_LIST = """
import json, runpy, sys
try:
    runpy.run_module("agent", run_name="__main__", alter_sys=True)
except SystemExit as stop:
    status = stop.code
print("MODULES " + json.dumps(sorted(sys.modules)), flush=True)
sys.exit(status)
"""


def loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def ask(url: str) -> None:
    """GET `url` once it answers at all (uvicorn starts serving just after the banner)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while True:
        try:
            opener.open(url, timeout=30).read()
            return
        except urllib.error.HTTPError:
            return  # an answer all the same (health is 500 until raft has a leader)
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_serving_dev_agent_has_not_imported_what_it_does_not_use(tmp_path: Path) -> None:
    """-dev is both halves, server and client; it answers a FastAPI route and a fast-path one
    before its modules are listed."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    argv = ["agent", "-dev", "-bind", ADDRESS, "-http-port", "0", "-serf-port", "0",
            "-data-dir", str(tmp_path / "data"), "-log-level", "WARN"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c", RUN_AND_LIST, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(120, proc.kill)  # a hung agent fails the test, not the suite
    watchdog.start()
    try:
        assert proc.stdout is not None
        http = ""
        for line in proc.stdout:
            if "Bind Addrs: HTTP: " in line:
                http = line.split("HTTP: ")[1].split(";")[0].strip()
            if "Agent started" in line:
                break
        assert http, proc.stderr.read() if proc.stderr else ""
        for path in ("/v1/agent/members", "/v1/agent/health", "/v1/metrics", "/v1/status/leader"):
            ask(f"http://{http}{path}")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    listed = [line for line in out.splitlines() if line.startswith("MODULES ")]
    assert listed, err[-2000:]
    modules: list[str] = json.loads(listed[-1].removeprefix("MODULES "))
    for used in ("fastapi", "uvicorn", "gossip", "raft_stub", "agent.api.app", "agent.roles"):
        assert loaded(modules, used), used  # the list is of an agent that got that far
    assert [name for name in NOT_LOADED if loaded(modules, name)] == []
