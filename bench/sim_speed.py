"""How fast and how big the simulator runs: virtual seconds per wall second, and memory.

For each cluster size N (default 100, 1000, 5000) a fresh subprocess (so peak RSS is its own):
1. starts N nodes (LAN profile) and either joins each to n1, then runs until every node lists
   N members alive (join convergence; wall and virtual time reported) and on until every
   broadcast queue has drained, or, with `--converged-start`, seeds them as an already
   converged cluster (`SimCluster.add_converged`: the state a finished join leaves, without
   simulating the O(N^2) join storm); then `gc.freeze()`s what it built, so collections do not
   rescan the N^2 long-lived records;
2. measures steady state with no faults: virtual seconds simulated per wall second, then checks
   that every node still lists all N alive with nothing left to gossip (a figure from a pool
   that fell apart would mean nothing);
3. measures again with 1% datagram loss and one crash a minute (both phases fully simulated,
   whatever the start);
4. reports peak RSS, and memory per (node x member entry), two ways:
   - RSS: (RSS once started and quiet - RSS with the N nodes created but unjoined) / N^2, so
     it includes what the allocator keeps from the join storm;
   - view: `sys.getsizeof` of the per-view structures of a sample of nodes (memberlist's
     entries, dict and probe list, serf's member records and dict, and scalars no other view
     shares), per entry; shared flyweights (names, addresses, NodeInfo, tags) are left out.
   `--traced` also reports tracemalloc's live bytes per entry (slow: use it on small N).

`--join-storm` measures only the join, as a user's test does it: N nodes are created, each of
n2..nN joins n1 in turn with `SimCluster.join` (which runs virtual time until that join's push-
pull is done), then virtual time runs until every node lists all N alive. It prints the wall
and process CPU seconds of that, then the rate of the next 15 virtual seconds (broadcast queues
still draining) and of 30 more after them.

Compression: by default the bench takes `SimCluster`'s own default (off since the simulator
skips LZW; on in older trees); `--compression on|off` forces it. `--before TREE` first runs
each size on another checkout (e.g. ../before, a worktree of the commit before issue 14) and
then on this one, so before and after come from the same machine minutes apart.

Goals from the issue (2-core machine): 1,000 nodes at >= 10x real time; 5,000 nodes at >= 1x
within 8 GiB; <= 200 bytes per member entry; a 1,000-node join storm in < 60 s, 200 in < 5 s.

    python bench/sim_speed.py                      # all sizes, joined start
    python bench/sim_speed.py --sizes 100,1000 --steady 20
    python bench/sim_speed.py --sizes 5000 --converged-start --steady 60 --faulty 60
    python bench/sim_speed.py --sizes 1000 --json bench/results/sim_speed.json  # append rows
    python bench/sim_speed.py --join-storm --sizes 200,1000 --before ../before
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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
    """Every node lists all n members alive (counted on serf's table: `members()` would build
    n^2 Member records per check)."""
    tables = [node.core.table.states for node in c.nodes]  # type: ignore[attr-defined]
    if any(len(states) != n for states in tables):
        return False  # the cheap answer while the join is still spreading
    return all(sum(1 for m in states.values() if m.status == "alive") == n for states in tables)


def _cluster(seed: int, compression: bool | None, **kw: object) -> Any:
    from agent.sim import SimCluster

    if compression is not None:
        kw["enable_compression"] = compression
    return SimCluster(seed=seed, profile="lan", record_events=False, **kw)


def measure_join_storm(n: int, seed: int, compression: bool | None) -> dict:
    """N nodes join n1 one by one, then run until all list all N alive (module docstring)."""
    c = _cluster(seed, compression)
    names = [f"n{i}" for i in range(1, n + 1)]
    for name in names:
        c.add_node(name, {"role": "bench"})
    wall0, cpu0, v0 = time.perf_counter(), time.process_time(), c.now
    for name in names[1:]:
        c.join(name, ["n1"])
    joins_wall = time.perf_counter() - wall0
    converged = c.run_until(lambda: _everyone_sees_all(c, n), 600.0, poll=0.25)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    virtual = c.now - v0
    after_15, _ = _rate(c, 15.0)
    after_45, _ = _rate(c, 30.0)
    return {
        "mode": "join-storm",
        "nodes": n,
        "compression": c.config.memberlist.enable_compression,
        "converged": converged,
        "joins_wall_s": round(joins_wall, 2),
        "join_wall_s": round(wall, 2),
        "join_cpu_s": round(cpu, 2),
        "join_virtual_s": round(virtual, 2),
        "next_15s_virtual_per_wall": round(after_15, 2),
        "next_30s_virtual_per_wall": round(after_45, 2),
        "datagrams": c.network.datagrams_sent,
        "peak_rss_mib": round(_peak_rss_bytes() / 2**20, 1),
    }


def _queues_empty(c: object) -> bool:
    nodes = c.nodes
    return all(not node.core.swim.broadcasts and not node.core.has_broadcasts() for node in nodes)


def _view_bytes(core: object) -> int:
    """Bytes of one node's per-view member records (see the module docstring)."""
    membership = core.swim.membership
    states = core.table.states
    size = sys.getsizeof(membership.node_map) + sys.getsizeof(membership.nodes)
    size += sys.getsizeof(states)
    scalars = []
    for entry in membership.nodes:
        size += sys.getsizeof(entry)
        scalars.append(entry.state_change_at)
    for member in states.values():
        size += sys.getsizeof(member)
        scalars += (member.status_ltime, member.leave_time)
    # A float or int held only by this view (refcount: the list, the record, the call) is its
    # own; cached small ints, constants and values shared with other views are not.
    size += sum(sys.getsizeof(x) for x in scalars if sys.getrefcount(x) <= 3)
    return size


def _rate(c: object, virtual: float) -> tuple[float, float]:
    """Virtual seconds per wall second and per process CPU second (the CPU figure is the one
    to trust on a shared machine: other processes slow the wall clock, not our CPU time)."""
    start, cpu = time.perf_counter(), time.process_time()
    c.run(virtual)  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return (
        virtual / wall if wall > 0 else float("inf"),
        virtual / cpu if cpu > 0 else float("inf"),
    )


def measure(
    n: int, steady: float, faulty: float, seed: int, compression: bool | None, converged_start: bool
) -> dict:
    c: Any = _cluster(seed, compression)
    names = [f"n{i}" for i in range(1, n + 1)]
    tags = {"role": "bench"}
    if converged_start:  # baseline: the same N cores without any member table, torn down again
        probe: Any = _cluster(seed, compression)
        gc.collect()
        before = _rss_bytes()
        for name in names:
            probe.add_node(name, tags)
        gc.collect()
        core_rss = _rss_bytes() - before
        del probe
        gc.collect()
        rss_unjoined = _rss_bytes() + core_rss
    else:
        for name in names:
            c.add_node(name, tags)
        gc.collect()
        rss_unjoined = _rss_bytes()
    traced_unjoined = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    t0 = time.perf_counter()
    v0 = c.now
    if converged_start:
        c.add_converged(names, tags)
        converged = quiet = c.converged()
    else:
        for name in names[1:]:
            c.join(name, ["n1"])
        converged = c.run_until(lambda: _everyone_sees_all(c, n), 600.0, poll=1.0)
    join_wall = time.perf_counter() - t0
    join_virtual = c.now - v0
    if not converged_start:
        quiet = c.run_until(lambda: _queues_empty(c), 600.0, poll=1.0)
    quiet_wall = time.perf_counter() - t0
    gc.collect()
    gc.freeze()
    rss_converged = _rss_bytes()
    traced = None
    if tracemalloc.is_tracing():
        traced = round((tracemalloc.get_traced_memory()[0] - traced_unjoined) / (n * n), 1)
    sample = c.nodes[:: max(1, n // 10)]
    view = sum(_view_bytes(node.core) for node in sample) / (len(sample) * n)
    steady_rate, steady_cpu_rate = _rate(c, steady)
    # A rate means nothing if the pool fell apart while it was measured (a bug that makes
    # nodes suspect each other shows up here, not as a slower figure).
    healthy = _everyone_sees_all(c, n) and _queues_empty(c)
    c.set_loss(0.01)
    start = c.now
    crashes = 0
    for k in range(int(faulty // 60.0) + 1):
        at = start + 30.0 + 60.0 * k
        if at < start + faulty:
            victim = f"n{n - k}"
            c.call_at(at, lambda v=victim: c.kill(v))
            crashes += 1
    faulty_rate, faulty_cpu_rate = _rate(c, faulty)
    entries = n * n
    return {
        "nodes": n,
        "start": "seeded-converged" if converged_start else "joined",
        "compression": c.config.memberlist.enable_compression,
        "converged": converged,
        "join_wall_s": round(join_wall, 2),
        "join_virtual_s": round(join_virtual, 2),
        "quiet": quiet,
        "quiet_wall_s": round(quiet_wall, 2),
        "steady_virtual_s": steady,
        "steady_virtual_per_wall": round(steady_rate, 2),
        "steady_virtual_per_cpu": round(steady_cpu_rate, 2),
        "steady_all_alive": healthy,
        "faulty_virtual_s": faulty,
        "faulty_crashes": crashes,
        "faulty_virtual_per_wall": round(faulty_rate, 2),
        "faulty_virtual_per_cpu": round(faulty_cpu_rate, 2),
        "peak_rss_mib": round(_peak_rss_bytes() / 2**20, 1),
        "bytes_per_member_entry": round((rss_converged - rss_unjoined) / entries, 1),
        "view_bytes_per_member_entry": round(view, 1),
        "traced_bytes_per_member_entry": traced,
    }


def _child(args: argparse.Namespace) -> None:
    """One size in this process (the parent spawned it so peak RSS is its own)."""
    if args.tree is not None:  # measure another checkout's code with this bench
        sys.path.insert(0, str(args.tree))
    compression = None if args.compression == "default" else args.compression == "on"
    if args.join_storm:
        row = measure_join_storm(args.one, args.seed, compression)
    else:
        if args.traced:
            tracemalloc.start()
        row = measure(
            args.one, args.steady, args.faulty, args.seed, compression, args.converged_start
        )
    row["tree"] = str(args.tree or ROOT)
    print(json.dumps(row))


def _spawn(args: argparse.Namespace, n: int, tree: Path | None) -> dict | None:
    cmd = [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed)]
    cmd += ["--steady", str(args.steady), "--faulty", str(args.faulty)]
    cmd += ["--compression", args.compression]
    for flag in ("traced", "converged_start", "join_storm"):
        if getattr(args, flag):
            cmd.append("--" + flag.replace("_", "-"))
    env = dict(os.environ)
    if tree is not None:
        cmd += ["--tree", str(tree)]
        env["PYTHONPATH"] = str(tree)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if out.returncode != 0:
        print(f"N={n} ({tree or ROOT}): failed\n{out.stderr[-2000:]}", file=sys.stderr)
        return None
    row: dict = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def _print_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A markdown table: a blank line, the header and its rule, one line per row."""
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for cells in rows:
        print("| " + " | ".join(map(str, cells)) + " |")


def _print_join_storm(rows: list[dict]) -> None:
    header = (
        "tree",
        "nodes",
        "compression",
        "all alive",
        "join wall s",
        "join CPU s",
        "virtual s",
        "next 15 s x",
        "next 30 s x",
        "peak RSS MiB",
    )
    _print_table(
        header,
        (
            (
                r["tree"],
                r["nodes"],
                "on" if r["compression"] else "off",
                "yes" if r["converged"] else "NO",
                r["join_wall_s"],
                r["join_cpu_s"],
                r["join_virtual_s"],
                r["next_15s_virtual_per_wall"],
                r["next_30s_virtual_per_wall"],
                r["peak_rss_mib"],
            )
            for r in rows
        ),
    )


def _print_rates(rows: list[dict]) -> None:
    header = (
        "tree",
        "nodes",
        "start",
        "compression",
        "join wall s",
        "steady x (CPU)",
        "all alive after",
        "1% loss+crash x (CPU)",
        "peak RSS MiB",
        "RSS B/entry",
        "view B/entry",
        "live B/entry",
    )
    _print_table(
        header,
        (
            (
                r.get("tree", ROOT),
                r["nodes"],
                r["start"],
                "on" if r["compression"] else "off",
                r["quiet_wall_s"],
                f"{r['steady_virtual_per_wall']} ({r.get('steady_virtual_per_cpu')})",
                "yes" if r.get("steady_all_alive") else "NO",
                f"{r['faulty_virtual_per_wall']} ({r.get('faulty_virtual_per_cpu')})",
                r["peak_rss_mib"],
                r["bytes_per_member_entry"],
                r["view_bytes_per_member_entry"],
                r["traced_bytes_per_member_entry"],
            )
            for r in rows
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--steady", type=float, default=30.0, help="virtual s, no faults")
    parser.add_argument("--faulty", type=float, default=60.0, help="virtual s, loss + crashes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--compression",
        choices=("default", "on", "off"),
        default="default",
        help="memberlist's LZW; default: whatever SimCluster defaults to in the tree measured",
    )
    parser.add_argument("--no-compression", action="store_true", help="same as --compression off")
    parser.add_argument("--traced", action="store_true", help="also count live bytes (slow)")
    parser.add_argument(
        "--converged-start",
        action="store_true",
        help="seed an already converged cluster instead of simulating the joins",
    )
    parser.add_argument(
        "--join-storm", action="store_true", help="measure only the join (module docstring)"
    )
    parser.add_argument(
        "--before", type=Path, help="first run each size on this checkout (e.g. ../before)"
    )
    parser.add_argument("--json", type=Path, help="append the rows to this JSON list file")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.no_compression:
        args.compression = "off"
    if args.one:
        _child(args)
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for tree in ([args.before.resolve()] if args.before else []) + [None]:
            row = _spawn(args, n, tree)
            if row is not None:
                rows.append(row)
    if args.json is not None and rows:
        saved = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(saved + rows, indent=2) + "\n")
    if args.join_storm:
        _print_join_storm(rows)
    else:
        _print_rates(rows)


if __name__ == "__main__":
    main()
