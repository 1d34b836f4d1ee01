"""How fast and how big the simulator runs: virtual seconds per wall second, and memory.

For each cluster size N (default 100, 1000, 5000) a fresh subprocess (so peak RSS is its own):
1. creates N nodes (LAN profile) and joins each to n1, then runs until every node lists N
   members alive (join convergence; wall and virtual time reported), and on until every
   broadcast queue has drained (the join's gossip storm is over);
2. measures steady state with no faults: virtual seconds simulated per wall second;
3. measures again with 1% datagram loss and one crash a minute;
4. reports peak RSS, and memory per (node x member entry) = (RSS once quiet - RSS with the N
   nodes created but unjoined) / N^2, since every node holds a view of every other. RSS
   includes what the allocator keeps from the join storm; `--traced` also reports the bytes
   of live objects per entry (tracemalloc, slow: use it on small N).

Goals from the issue (2-core machine): 1,000 nodes at >= 10x real time; 5,000 nodes at >= 1x
within 8 GiB; <= 200 bytes per member entry.

    python bench/sim_speed.py                      # all sizes
    python bench/sim_speed.py --sizes 100,1000 --steady 20
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_bytes() -> int:
    """Current resident set size, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _everyone_sees_all(c: object, n: int) -> bool:
    nodes = c.nodes  # type: ignore[attr-defined]
    return all(sum(1 for m in node.core.members() if m.status == "alive") == n for node in nodes)


def _queues_empty(c: object) -> bool:
    nodes = c.nodes  # type: ignore[attr-defined]
    return all(not node.core.swim.broadcasts and not node.core.has_broadcasts() for node in nodes)


def _rate(c: object, virtual: float) -> float:
    start = time.perf_counter()
    c.run(virtual)  # type: ignore[attr-defined]
    wall = time.perf_counter() - start
    return virtual / wall if wall > 0 else float("inf")


def measure(n: int, steady: float, faulty: float, seed: int, compression: bool) -> dict:
    from agent.sim import SimCluster

    c = SimCluster(seed=seed, profile="lan", record_events=False, enable_compression=compression)
    for i in range(1, n + 1):
        c.add_node(f"n{i}", tags={"role": "bench"})
    gc.collect()
    rss_unjoined = _rss_bytes()
    traced_unjoined = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    t0 = time.perf_counter()
    v0 = c.now
    for i in range(2, n + 1):
        c.join(f"n{i}", ["n1"])
    converged = c.run_until(lambda: _everyone_sees_all(c, n), 600.0, poll=1.0)
    join_wall = time.perf_counter() - t0
    join_virtual = c.now - v0
    quiet = c.run_until(lambda: _queues_empty(c), 600.0, poll=1.0)
    quiet_wall = time.perf_counter() - t0
    gc.collect()
    rss_converged = _rss_bytes()
    traced = None
    if tracemalloc.is_tracing():
        traced = round((tracemalloc.get_traced_memory()[0] - traced_unjoined) / (n * n), 1)
    steady_rate = _rate(c, steady)
    c.set_loss(0.01)
    start = c.now
    for k in range(int(faulty // 60.0) + 1):
        at = start + 30.0 + 60.0 * k
        if at < start + faulty:
            victim = f"n{n - k}"
            c.call_at(at, lambda v=victim: c.kill(v))
    faulty_rate = _rate(c, faulty)
    entries = n * n
    return {
        "nodes": n,
        "compression": compression,
        "converged": converged,
        "join_wall_s": round(join_wall, 2),
        "join_virtual_s": round(join_virtual, 2),
        "quiet": quiet,
        "quiet_wall_s": round(quiet_wall, 2),
        "steady_virtual_per_wall": round(steady_rate, 2),
        "faulty_virtual_per_wall": round(faulty_rate, 2),
        "peak_rss_mib": round(_peak_rss_bytes() / 2**20, 1),
        "bytes_per_member_entry": round((rss_converged - rss_unjoined) / entries, 1),
        "traced_bytes_per_member_entry": traced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--steady", type=float, default=30.0, help="virtual s, no faults")
    parser.add_argument("--faulty", type=float, default=60.0, help="virtual s, loss + crashes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--traced", action="store_true", help="also count live bytes (slow)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    compression = not args.no_compression
    if args.one:
        if args.traced:
            tracemalloc.start()
        print(json.dumps(measure(args.one, args.steady, args.faulty, args.seed, compression)))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            str(n),
            "--steady",
            str(args.steady),
            "--faulty",
            str(args.faulty),
            "--seed",
            str(args.seed),
        ]
        if not compression:
            cmd.append("--no-compression")
        if args.traced:
            cmd.append("--traced")
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"N={n}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    header = (
        "nodes",
        "join wall s",
        "quiet wall s",
        "steady x",
        "1% loss+crash x",
        "peak RSS MiB",
        "RSS B/entry",
        "live B/entry",
    )
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        print(
            f"| {r['nodes']} | {r['join_wall_s']} | {r['quiet_wall_s']} | "
            f"{r['steady_virtual_per_wall']} | {r['faulty_virtual_per_wall']} | "
            f"{r['peak_rss_mib']} | {r['bytes_per_member_entry']} | "
            f"{r['traced_bytes_per_member_entry']} |"
        )


if __name__ == "__main__":
    main()
