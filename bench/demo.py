"""The teaching demo's cost: the demo process's CPU and the page's in headless Chromium.

    python bench/demo.py [--sizes 10,100,500] [--seconds 20] [--speed 1] [--no-page]

For each size N (servers + clients + gossip-only nodes: 3 servers, 2 clients, N - 5 gossip
nodes) it starts `gossip-agent demo` as its own process on loopback, waits for it to answer,
kills one gossip node (so suspicions, failures and deltas flow), then measures for
`--seconds` of wall time, with the page open in Debian's Chromium (Playwright,
`executable_path`; nothing is downloaded):

- the demo process's CPU (user + system, from /proc) as a fraction of one core;
- how fast virtual time moved against the wall (1.0 = real time at speed 1);
- the page's update rate (server-sent deltas applied per second) and its main thread's busy
  time (Chrome's `Performance.getMetrics` TaskDuration, as a fraction of the wall);
- the page's backlog at the end: how far the virtual time it shows trails the demo's.

The issue's goals on 2 cores: at 100 nodes under half a core with the page keeping up (no
growing backlog), and at 500 nodes still real time.
"""
# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py would shadow the standard library's `http` (urllib imports it): take the
# script's own directory off the path first, as bench/http.py itself does.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Figures:
    nodes: int
    seconds: float
    demo_cpu_cores: float
    virtual_per_wall: float
    page_updates_per_s: float | None
    page_main_thread_busy: float | None
    page_backlog_virtual_s: float | None
    startup_wall_s: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _post(url: str) -> None:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def measure(nodes: int, seconds: float, speed: float, page: bool) -> Figures:
    port = _free_port()
    gossip = max(0, nodes - 5)
    argv = [sys.executable, "-m", "agent", "demo", "-nodes", str(gossip), "-http-port", str(port)]
    argv += ["-speed", str(speed), "-no-agent-apis", "-seed", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                _get(f"{base}/v1/sim/state")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - started > 300:
                    raise RuntimeError("the demo did not start") from None
                time.sleep(0.2)
        startup = time.monotonic() - started
        browser = None
        if page:
            browser = _open_page(f"{base}/ui")
        time.sleep(2.0)
        _post(f"{base}/v1/sim/nodes/n{gossip}/kill" if gossip else f"{base}/v1/sim/nodes/c2/kill")
        cpu0, wall0 = _cpu_seconds(proc.pid), time.monotonic()
        virtual0 = _get(f"{base}/v1/sim/state")["clock"]["now"]
        page0 = browser.sample() if browser else None
        time.sleep(seconds)
        cpu1, wall1 = _cpu_seconds(proc.pid), time.monotonic()
        virtual1 = _get(f"{base}/v1/sim/state")["clock"]["now"]
        page1 = browser.sample() if browser else None
        wall = wall1 - wall0
        updates = busy = backlog = None
        if browser is not None and page0 is not None and page1 is not None:
            updates = (page1[0] - page0[0]) / wall
            busy = (page1[1] - page0[1]) / wall
            shown = browser.shown_now()
            backlog = max(0.0, _get(f"{base}/v1/sim/state")["clock"]["now"] - shown)
            browser.close()
        return Figures(
            nodes=nodes,
            seconds=round(wall, 1),
            demo_cpu_cores=round((cpu1 - cpu0) / wall, 3),
            virtual_per_wall=round((virtual1 - virtual0) / wall, 3),
            page_updates_per_s=None if updates is None else round(updates, 2),
            page_main_thread_busy=None if busy is None else round(busy, 3),
            page_backlog_virtual_s=None if backlog is None else round(backlog, 2),
            startup_wall_s=round(startup, 1),
        )
    finally:
        proc.terminate()
        proc.wait(30)


class _Page:
    def __init__(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        executable = shutil.which("chromium") or "/usr/bin/chromium"
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS
        )
        self.page = self._browser.new_page(viewport={"width": 1500, "height": 1000})
        self.page.goto(url, timeout=120_000)
        self.page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        self._cdp = self.page.context.new_cdp_session(self.page)
        self._cdp.send("Performance.enable")

    def sample(self) -> tuple[float, float]:
        """(updates applied so far, main-thread task seconds so far)."""
        updates = float(self.page.evaluate("Number(document.body.dataset.updates || 0)"))
        metrics = self._cdp.send("Performance.getMetrics")["metrics"]
        busy = next(m["value"] for m in metrics if m["name"] == "TaskDuration")
        return updates, float(busy)

    def shown_now(self) -> float:
        text = self.page.locator("#now").inner_text()
        return float(text.split()[0])

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()


def _open_page(url: str) -> _Page:
    return _Page(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--no-page", action="store_true", help="measure the process alone")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    rows = []
    header = (
        "| nodes | demo CPU (cores) | virtual s / wall s | page updates/s "
        "| page main thread busy | page backlog (virtual s) | startup s |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        figures = measure(size, args.seconds, args.speed, not args.no_page)
        rows.append(asdict(figures))

        def show(value: float | None, fmt: str) -> str:
            return "-" if value is None else format(value, fmt)

        print(
            f"| {figures.nodes} | {figures.demo_cpu_cores:.2f} | {figures.virtual_per_wall:.2f} "
            f"| {show(figures.page_updates_per_s, '.1f')} "
            f"| {show(figures.page_main_thread_busy, '.0%')} "
            f"| {show(figures.page_backlog_virtual_s, '.2f')} | {figures.startup_wall_s:.1f} |",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
