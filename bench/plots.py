"""Draw the fidelity figures in docs/ from the benches' JSON results (matplotlib, PNG).

Why: the evidence that the simulator, our real agents and a mixed pool behave like serf was
tables in closing notes; two pictures put it in front of users.

* ``docs/crash_detection.png``: for each pool size, the distribution (box plot, every run
  drawn as a dot) of the time from a kill -9 until every survivor lists the victim
  ``failed``, for real serf agents, our simulator, our real agents and a mixed pool.
* ``docs/join_convergence.png``: the time until every agent lists all N alive after agents
  2..N join agent 1, per N, next to the curve of serf's convergence model (the epidemic its
  "convergence simulator" draws: 200 ms gossip interval, fanout 3, no loss), read as the
  time until 99.9% of nodes have heard.

Inputs (each optional; a missing one leaves its series out): ``bench/results/
serf_fidelity.json`` (serf, ``bench/fidelity.py --serf-only``), ``sim_fidelity.json``
(simulator, ``bench/fidelity.py --sim-only``), ``cluster.json`` (our agents,
``bench/cluster.py``), ``mixed_pool.json`` (``bench/mixed_pool.py``).

Usage::

    pip install matplotlib
    python bench/plots.py                     # reads bench/results/, writes docs/*.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERIES = ("serf", "simulator", "ours (real agents)", "mixed (half serf)")
COLORS = {
    "serf": "#4c72b0",
    "simulator": "#55a868",
    "ours (real agents)": "#dd8452",
    "mixed (half serf)": "#8172b3",
}


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _by_n(table: Mapping[str, Sequence[float]] | None) -> dict[int, list[float]]:
    return {int(n): list(v) for n, v in (table or {}).items() if v}


def collect(results: Path) -> dict[str, dict[str, dict[int, list[float]]]]:
    """metric ("crash", "join") -> series -> N -> seconds per run."""
    out: dict[str, dict[str, dict[int, list[float]]]] = {"crash": {}, "join": {}}
    serf = _load(results / "serf_fidelity.json")
    if serf:
        out["crash"]["serf"] = _by_n(serf.get("serf", {}).get("crash"))
        out["join"]["serf"] = _by_n(serf.get("serf", {}).get("join"))
    sim = _load(results / "sim_fidelity.json")
    if sim:
        out["crash"]["simulator"] = _by_n(sim.get("sim", {}).get("crash"))
        out["join"]["simulator"] = _by_n(sim.get("sim", {}).get("join"))
    for name, label, side in (
        ("cluster.json", "ours (real agents)", "ours"),
        ("mixed_pool.json", "mixed (half serf)", "mixed"),
    ):
        data = _load(results / name)
        if not data:
            continue
        runs = {int(n): per.get(side, {}) for n, per in data.get("results", {}).items()}
        out["crash"][label] = {n: r["detect_s"] for n, r in runs.items() if r.get("detect_s")}
        out["join"][label] = {n: r["join_s"] for n, r in runs.items() if r.get("join_s")}
    return out


def convergence_time(
    n: int, *, interval: float = 0.2, fanout: int = 3, target: float = 0.999
) -> float:
    """serf's convergence model: each round every informed node tells `fanout` random others,
    so a node stays uninformed with probability (1 - fanout/n) per informed node; the time
    until `target` of the n nodes are informed."""
    if n <= 1:
        return 0.0
    informed, rounds = 1.0, 0
    while informed < target * n and rounds < 10_000:
        p_miss = (1.0 - min(1.0, fanout / n)) ** informed
        informed += (n - informed) * (1.0 - p_miss)
        rounds += 1
    return rounds * interval


def plot(data: dict[str, dict[str, dict[int, list[float]]]], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    sizes = sorted({n for series in data["crash"].values() for n in series})
    buckets = _buckets(sizes)
    fig, ax = plt.subplots(figsize=(10, 5))
    present = [s for s in SERIES if data["crash"].get(s)]
    width = 0.8 / max(1, len(present))
    for k, series in enumerate(present):
        positions, values = [], []
        for b, ns in enumerate(buckets):
            runs = [v for n in ns for v in data["crash"][series].get(n, [])]
            if runs:
                positions.append(b + (k - (len(present) - 1) / 2) * width)
                values.append(runs)
        if not values:
            continue
        box = ax.boxplot(
            values, positions=positions, widths=width * 0.9, patch_artist=True, showfliers=False
        )
        for patch in box["boxes"]:
            patch.set_facecolor(COLORS[series])
            patch.set_alpha(0.45)
        for pos, runs in zip(positions, values, strict=True):
            ax.scatter([pos] * len(runs), runs, s=10, color=COLORS[series], zorder=3)
        ax.plot([], [], color=COLORS[series], linewidth=8, alpha=0.45, label=series)
    ax.set_xticks(range(len(buckets)), [_bucket_label(ns) for ns in buckets])
    ax.set_xlabel("pool size N")
    ax.set_ylabel("seconds from kill -9 to failed on every survivor")
    ax.set_title("Crash detection (memberlist LAN timings, loopback)")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = out_dir / "crash_detection.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    fig, ax = plt.subplots(figsize=(10, 5))
    all_n = sorted({n for series in data["join"].values() for n in series})
    if all_n:
        grid = list(range(2, max(all_n) + 1))
        ax.plot(
            grid,
            [convergence_time(n) for n in grid],
            color="black",
            linestyle="--",
            label="serf convergence model: 200 ms gossip, fanout 3 (99.9% informed)",
        )
    for series in SERIES:
        per = data["join"].get(series)
        if not per:
            continue
        ns = sorted(per)
        med = [_median(per[n]) for n in ns]
        lo = [m - min(per[n]) for n, m in zip(ns, med, strict=True)]
        hi = [max(per[n]) - m for n, m in zip(ns, med, strict=True)]
        ax.errorbar(ns, med, yerr=[lo, hi], fmt="o-", capsize=4, color=COLORS[series], label=series)
    ax.set_xlabel("pool size N")
    ax.set_ylabel("seconds until every agent lists all N alive")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_title("Join convergence: median, bars span min to max over runs")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = out_dir / "join_convergence.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _buckets(sizes: Sequence[int]) -> list[list[int]]:
    """Sizes within a factor 1.5 of each other share a column (the mixed pool runs N = 4
    where the others run 3: with one of ours at each end, N = 3 has one serf agent)."""
    out: list[list[int]] = []
    for n in sizes:
        if out and n <= out[-1][0] * 1.5:
            out[-1].append(n)
        else:
            out.append([n])
    return out


def _bucket_label(ns: Sequence[int]) -> str:
    return "N=" + "/".join(str(n) for n in ns)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    args = p.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    data = collect(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in plot(data, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
