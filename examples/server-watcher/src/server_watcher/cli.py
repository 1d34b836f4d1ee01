"""`server-watcher`: report (and optionally force-leave) servers failed longer than a threshold."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from server_watcher.watcher import NomadAgent, ServerWatcher


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server-watcher", description=__doc__)
    parser.add_argument("--address", default="http://127.0.0.1:4646")
    parser.add_argument("--threshold", type=float, default=300.0, help="seconds failed")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--force-leave", action="store_true", help="force-leave what it reports")
    parser.add_argument("--once", action="store_true", help="poll once and exit")
    args = parser.parse_args(argv)
    watcher = ServerWatcher(NomadAgent(args.address), args.threshold)
    while True:
        stale = watcher.reap() if args.force_leave else watcher.poll()
        for name in stale:
            verb = "force-left" if args.force_leave else "failed too long"
            print(f"{name}: {verb}", flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)
