"""Does the simulator keep serf's time? Same scenarios, simulated and with real serf agents.

Why: ``agent.sim.SimCluster`` is only useful for teaching and for testing Nomad-facing
behaviour if its timings look like the real thing. This script runs the same scenarios on
both sides, measured the same way, and prints the two distributions next to each other. The
target (the issue's words): the simulator's medians fall within 25% of serf's.

Scenarios, all timed in seconds from the triggering action, on agents named ``n1..nN``:

* ``join``: N agents running but unjoined; agent k joins agent 1 (k = 2..N, one after the
  other); until every agent lists all N as ``alive``.
* ``crash``: SIGKILL ``nN`` (sim: ``kill``); until every survivor shows it ``failed``. The
  first survivor to do so is reported as ``crash-first``.
* ``force-leave``: right after the crash was seen everywhere, ``force-leave nN`` on ``n1``;
  until every survivor shows ``nN`` ``left``.
* ``leave``: graceful leave of the highest-numbered live agent; until every other live agent
  shows it ``left``.

The scenarios are chained on one cluster per run (join, crash, force-leave, leave) because
crash detection dominates the cost (up to ~24 s with Lifeguard's k = 2 confirmations), with
``--settle`` seconds of quiet before each step after the join, on both sides alike. Start times
and pauses carry a seeded random ``--jitter`` (same schedule on both sides): memberlist's tick
phase is its start time, so fixed delays would hit the same phase in every run (``Plan.jitter``).

Measuring. serf: one persistent RPC connection per agent (``bench/serf_agents.py``),
pipelined ``members`` polls every ``--poll-interval`` s, each agent's time = when the answer
showing the condition arrived (so serf times carry up to one poll interval of lag). The serf
agent's event stream is not used for timing: it coalesces member events for 1-3 s. Simulator:
virtual time, stepped ``--sim-step`` s at a time with ``SimCluster.statuses`` as the same
predicate; each observer's time is then refined to the timestamp of the ``c.events`` entry
that made the predicate true (``member-join`` / ``member-failed`` / ``member-leave``), since
``c.leave``/``c.force_leave`` advance virtual time while they run.

Usage::

    python bench/fidelity.py                       # both sides, N = 3,10,25,50
    python bench/fidelity.py --serf-only --json bench/results/serf_fidelity.json
    python bench/fidelity.py --sim-only --serf-from bench/results/serf_fidelity.json
    python bench/fidelity.py --sim-only --serf-from bench/results/serf_fidelity.json \\
        --mixed-from bench/results/mixed_pool.json      # plus the mixed-pool column
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE), str(_HERE.parent)):  # bench/ for serf_agents, repo root for agent/
    if _path not in sys.path:
        sys.path.insert(0, _path)

from serf_agents import (  # noqa: E402
    SerfAgent,
    SerfCluster,
    SerfConnectionError,
    SerfRPC,
    SerfRPCError,
    serf_binary,
    serf_version,
)

SCENARIOS = ("join", "crash", "leave", "force-leave")
METRICS: dict[str, str] = {
    "join": "join convergence: every agent lists all N alive",
    "crash": "crash: every survivor shows the killed agent failed",
    "crash-first": "crash: the first survivor shows the killed agent failed",
    "leave": "graceful leave: every other live agent shows the leaver left",
    "force-leave": "force-leave of the failed agent on n1: every survivor shows it left",
}
METRIC_OF_SCENARIO = {
    "join": ("join",),
    "crash": ("crash", "crash-first"),
    "leave": ("leave",),
    "force-leave": ("force-leave",),
}
DEFAULT_SIZES = (3, 10, 25, 50)

Statuses = dict[str, str]
Predicate = Callable[[Statuses], bool]


@dataclass(frozen=True)
class Plan:
    """What one run does; identical for both sides."""

    scenarios: frozenset[str]
    settle: float = 2.0
    jitter: float = 1.0
    """Agents start at random offsets within this many seconds, and every action (the joins,
    the kill, force-leave, leave) comes a random 0..jitter s later than its fixed delay.
    memberlist's tick phase is set by the agent's start time (see ``SerfCluster.start``), so
    without this the actions would land at the same tick phase in every run."""
    join_timeout: float = 150.0
    """Generous on purpose: in some N = 50 serf runs one agent misses a few joiners' alive
    gossip and only learns them at a push-pull (scaled to 60 s above 32 nodes)."""
    crash_timeout: float = 120.0
    leave_timeout: float = 60.0


@dataclass(frozen=True)
class Wait:
    """One measured wait: the condition on each observer, and the simulator event that
    makes it true (used to refine virtual-time observations)."""

    observers: tuple[str, ...]
    predicate: Predicate
    event_kind: str
    event_members: frozenset[str]
    what: str
    timeout: float


class Side(Protocol):
    """One way of running a cluster: real serf agents or the simulator."""

    label: str

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None: ...
    def now(self) -> float: ...
    def settle(self, seconds: float) -> None: ...
    def join_all(self, names: Sequence[str]) -> None: ...
    def kill(self, name: str) -> None: ...
    def leave(self, name: str) -> None: ...
    def force_leave(self, on: str, target: str) -> None: ...
    def wait(self, since: float, spec: Wait) -> dict[str, float]: ...
    def close(self) -> None: ...


def all_alive(names: Iterable[str]) -> Predicate:
    wanted = tuple(names)
    return lambda statuses: all(statuses.get(name) == "alive" for name in wanted)


def status_is(member: str, status: str) -> Predicate:
    return lambda statuses: statuses.get(member) == status


def run_chain(side: Side, n: int, plan: Plan, schedule_seed: int) -> dict[str, float]:
    """One run: join, then (as requested) crash, force-leave and leave on the same cluster.

    ``schedule_seed`` fixes the start offsets and the random part of every pause.
    """
    names = [f"n{i}" for i in range(1, n + 1)]
    out: dict[str, float] = {}
    rng = random.Random(schedule_seed)
    offsets = sorted(rng.uniform(0.0, plan.jitter) for _ in range(n - 1))
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    side.start(names, gaps)
    try:
        side.settle(rng.uniform(0.0, plan.jitter))
        t0 = side.now()
        side.join_all(names)
        seen = side.wait(
            t0,
            Wait(
                tuple(names),
                all_alive(names),
                "member-join",
                frozenset(names),
                f"join of {n}",
                plan.join_timeout,
            ),
        )
        out["join"] = max(seen.values()) - t0
        alive = list(names)
        if plan.scenarios & {"crash", "force-leave"} and n >= 2:
            victim = alive.pop()
            side.settle(plan.settle + rng.uniform(0.0, plan.jitter))
            t0 = side.now()
            side.kill(victim)
            seen = side.wait(
                t0,
                Wait(
                    tuple(alive),
                    status_is(victim, "failed"),
                    "member-failed",
                    frozenset({victim}),
                    f"{victim} failed",
                    plan.crash_timeout,
                ),
            )
            out["crash"] = max(seen.values()) - t0
            out["crash-first"] = min(seen.values()) - t0
            if "force-leave" in plan.scenarios:
                side.settle(plan.settle + rng.uniform(0.0, plan.jitter))
                t0 = side.now()
                side.force_leave(alive[0], victim)
                seen = side.wait(
                    t0,
                    Wait(
                        tuple(alive),
                        status_is(victim, "left"),
                        "member-leave",
                        frozenset({victim}),
                        f"{victim} force-left",
                        plan.leave_timeout,
                    ),
                )
                out["force-leave"] = max(seen.values()) - t0
        if "leave" in plan.scenarios and len(alive) >= 2:
            leaver = alive.pop()
            side.settle(plan.settle + rng.uniform(0.0, plan.jitter))
            t0 = side.now()
            side.leave(leaver)
            seen = side.wait(
                t0,
                Wait(
                    tuple(alive),
                    status_is(leaver, "left"),
                    "member-leave",
                    frozenset({leaver}),
                    f"{leaver} left",
                    plan.leave_timeout,
                ),
            )
            out["leave"] = max(seen.values()) - t0
    finally:
        side.close()
    return out


# ----------------------------------------------------------------------------- serf side


class SerfSide:
    """Real ``serf agent`` processes on one loopback address (``--serf-host``), over RPC."""

    label = "serf"

    def __init__(
        self, *, poll_interval: float, log_level: str, keep_logs: bool, host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.poll_interval = poll_interval
        self.log_level = log_level
        self.keep_logs = keep_logs
        self.cluster: SerfCluster | None = None
        self._blocking: list[tuple[SerfAgent, SerfRPC, int]] = []

    def _c(self) -> SerfCluster:
        if self.cluster is None:
            raise RuntimeError("cluster not started")
        return self.cluster

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None:
        self.cluster = SerfCluster(
            len(names),
            host=self.host,
            profile="lan",
            log_level=self.log_level,
            keep_logs=self.keep_logs,
        )
        try:
            self.cluster.start(gaps)
        except BaseException:
            self.cluster.stop()
            raise

    def now(self) -> float:
        return time.monotonic()

    def settle(self, seconds: float) -> None:
        time.sleep(seconds)  # scenario spacing (the sim does c.run), not a correctness wait

    def join_all(self, names: Sequence[str]) -> None:
        self._c().join_all(names[0])

    def kill(self, name: str) -> None:
        self._c()[name].kill()

    def _send_blocking(self, agent: SerfAgent, command: str, body: dict[str, Any] | None) -> None:
        # leave / force-leave answer only after their broadcast; a second connection keeps
        # the agent's main connection free for the members polls that do the timing.
        rpc = agent.open_rpc()
        self._blocking.append((agent, rpc, rpc.send(command, body)))

    def leave(self, name: str) -> None:
        self._send_blocking(self._c()[name], "leave", None)

    def force_leave(self, on: str, target: str) -> None:
        self._send_blocking(self._c()[on], "force-leave", {"Node": target})

    def wait(self, since: float, spec: Wait) -> dict[str, float]:
        cluster = self._c()
        seen = cluster.wait_for(
            [cluster[name] for name in spec.observers],
            spec.predicate,
            timeout=spec.timeout,
            poll_interval=self.poll_interval,
            what=spec.what,
        )
        self._finish_blocking()
        return seen

    def _finish_blocking(self) -> None:
        for agent, rpc, seq in self._blocking:
            try:
                rpc.result(seq, timeout=15.0)
            except (SerfConnectionError, SerfRPCError) as exc:
                print(f"  note: {agent.name}: {exc}", file=sys.stderr)
            finally:
                rpc.close()
        self._blocking.clear()

    def close(self) -> None:
        for _, rpc, _ in self._blocking:
            rpc.close()
        self._blocking.clear()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


# ----------------------------------------------------------------------------- sim side


def sim_available() -> str | None:
    """None if ``agent.sim.SimCluster`` imports, else the reason it does not."""
    try:
        from agent.sim import SimCluster  # noqa: F401
    except Exception as exc:  # any import-time failure of a module being written right now
        return f"{type(exc).__name__}: {exc}"
    return None


def sim_network_kwargs(latency: float | None) -> tuple[dict[str, Any], str]:
    """SimCluster keywords for a loopback-like network, and a sentence for the report.

    Default: the simulator's own ``NetworkConditions.loopback()``; ``--sim-latency`` replaces
    it with a fixed one-way latency.
    """
    from agent.sim import NetworkConditions

    if latency is None:
        conditions, how = NetworkConditions.loopback(), "NetworkConditions.loopback()"
    else:
        conditions = NetworkConditions(latency_min=latency, latency_mean=0.0)
        how = f"--sim-latency {latency:g}"
    note = (
        f"sim network ({how}): one-way latency {conditions.latency_min * 1e3:g} ms "
        f"+ exponential mean {conditions.latency_mean * 1e3:g} ms, loss {conditions.loss:g}"
    )
    return {"network": conditions}, note


def _member_name(member: Any) -> str:
    return str(getattr(member, "name", member))


class SimSide:
    """``agent.sim.SimCluster`` with the LAN profile, in virtual time."""

    label = "sim"

    def __init__(self, seed: int, *, step: float, network: Mapping[str, Any]) -> None:
        self.seed = seed
        self.step = step
        self.network = dict(network)
        self.c: Any = None
        self.refined = 0
        self.stepped = 0

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None:
        from agent.sim import SimCluster

        self.c = SimCluster(seed=self.seed, profile="lan", **self.network)
        self.c.add_node(names[0])
        for name, gap in zip(names[1:], gaps, strict=True):
            if gap > 0:
                self.c.run(gap)
            self.c.add_node(name)

    def now(self) -> float:
        return float(self.c.now)

    def settle(self, seconds: float) -> None:
        if seconds > 0:
            self.c.run(seconds)

    def join_all(self, names: Sequence[str]) -> None:
        for name in names[1:]:
            self.c.join(name, [names[0]])

    def kill(self, name: str) -> None:
        self.c.kill(name)

    def leave(self, name: str) -> None:
        self.c.leave(name)

    def force_leave(self, on: str, target: str) -> None:
        self.c.force_leave(on, target, prune=False)

    def wait(self, since: float, spec: Wait) -> dict[str, float]:
        pending = list(spec.observers)
        seen: dict[str, float] = {}
        last: dict[str, Statuses] = {}
        deadline = since + spec.timeout
        while True:
            now = self.now()
            for name in pending:
                last[name] = dict(self.c.statuses(name))
                if spec.predicate(last[name]):
                    seen[name] = now
            pending = [name for name in pending if name not in seen]
            if not pending:
                break
            if now >= deadline:
                raise TimeoutError(
                    f"sim seed {self.seed}: timed out waiting for {spec.what}; pending: "
                    + "; ".join(f"{o}: {last[o]}" for o in pending)
                )
            self.c.run(self.step)
        return self._refine(since, spec, seen)

    def _refine(self, since: float, spec: Wait, seen: dict[str, float]) -> dict[str, float]:
        """Move each observer's time back to the event that made its predicate true."""
        latest: dict[str, float] = {}
        for entry in self.c.events:
            at, observer, kind, member = entry[0], entry[1], entry[2], entry[3]
            observer = _member_name(observer)
            if (
                observer in seen
                and kind == spec.event_kind
                and _member_name(member) in spec.event_members
                and since <= at <= seen[observer]
            ):
                latest[observer] = max(latest.get(observer, since), float(at))
        out = {}
        for observer, at in seen.items():
            if observer in latest:
                self.refined += 1
                out[observer] = latest[observer]
            else:
                self.stepped += 1
                out[observer] = at
        return out

    def close(self) -> None:
        self.c = None


# ----------------------------------------------------------------------------- running


Results = dict[str, dict[str, list[float]]]  # metric -> str(N) -> values


def _record(results: Results, n: int, values: Mapping[str, float], wanted: set[str]) -> None:
    for metric, value in values.items():
        if metric in wanted:
            results.setdefault(metric, {}).setdefault(str(n), []).append(round(value, 4))


def _brief(values: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.2f}s" for k, v in values.items())


def run_serf(
    sizes: Sequence[int], runs: int, plan: Plan, args: argparse.Namespace, errors: list[str]
) -> Results:
    wanted = {m for s in plan.scenarios for m in METRIC_OF_SCENARIO[s]}
    results: Results = {}
    for n in sizes:
        for run in range(1, runs + 1):
            side = SerfSide(
                poll_interval=args.poll_interval,
                log_level=args.serf_log_level,
                keep_logs=args.keep_logs,
                host=args.serf_host,
            )
            started = time.monotonic()
            try:
                values = run_chain(side, n, plan, schedule_seed=n * 1000 + run)
            except (TimeoutError, SerfConnectionError, SerfRPCError, RuntimeError) as exc:
                errors.append(f"serf N={n} run {run}: {exc}")
                print(f"serf N={n} run {run}/{runs}: FAILED {exc}", file=sys.stderr)
                continue
            _record(results, n, values, wanted)
            took = time.monotonic() - started
            print(f"serf N={n} run {run}/{runs} ({took:.0f}s): {_brief(values)}", file=sys.stderr)
    return results


def run_sim(
    sizes: Sequence[int],
    seeds: Sequence[int],
    plan: Plan,
    args: argparse.Namespace,
    errors: list[str],
    notes: list[str],
) -> Results:
    wanted = {m for s in plan.scenarios for m in METRIC_OF_SCENARIO[s]}
    network, note = sim_network_kwargs(args.sim_latency)
    notes.append(note)
    results: Results = {}
    refined = stepped = 0
    for n in sizes:
        for seed in seeds:
            side = SimSide(seed, step=args.sim_step, network=network)
            started = time.monotonic()
            try:
                values = run_chain(side, n, plan, schedule_seed=n * 1000 + seed)
            except Exception as exc:  # a simulator bug must not hide the other results
                errors.append(f"sim N={n} seed {seed}: {type(exc).__name__}: {exc}")
                print(
                    f"sim  N={n} seed {seed}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr
                )
                continue
            refined += side.refined
            stepped += side.stepped
            _record(results, n, values, wanted)
            took = time.monotonic() - started
            print(f"sim  N={n} seed {seed} ({took:.1f}s wall): {_brief(values)}", file=sys.stderr)
    if stepped:
        notes.append(
            f"sim timing: {stepped} observer times had no matching event and keep the "
            f"{args.sim_step * 1e3:g} ms step resolution ({refined} refined from c.events)"
        )
    else:
        notes.append("sim timing: every observer time refined from c.events timestamps")
    return results


# ----------------------------------------------------------------------------- reporting


def _summary(values: Sequence[float] | None) -> tuple[float, float, float, int] | None:
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)


def _cell(values: Sequence[float] | None) -> str:
    s = _summary(values)
    if s is None:
        return "-"
    med, lo, hi, count = s
    return f"{med:6.2f} [{lo:.2f}-{hi:.2f}] ({count})"


def _verdict(
    serf: Sequence[float] | None, sim: Sequence[float] | None, tol: float, abs_tol: float
) -> tuple[str, str]:
    a, b = _summary(serf), _summary(sim)
    if a is None or b is None or a[0] <= 0:
        return "-", "-"
    ratio = b[0] / a[0]
    if abs(ratio - 1.0) <= tol:
        return f"{ratio:5.2f}", "ok"
    if abs(b[0] - a[0]) <= abs_tol:
        return f"{ratio:5.2f}", f"ok (<= {abs_tol:g} s)"
    return f"{ratio:5.2f}", f"OFF ({(ratio - 1) * 100:+.0f}%)"


def render(
    serf: Results,
    sim: Results,
    sizes: Sequence[int],
    metrics: Sequence[str],
    tol: float,
    abs_tol: float = 0.0,
) -> str:
    lines: list[str] = []
    head = ("N", "serf median [min-max] (n)", "sim median [min-max] (n)", "sim/serf", "verdict")
    widths = (4, 28, 28, 8, 16)
    for metric in metrics:
        lines.append("")
        lines.append(f"{metric}: {METRICS[metric]} (seconds)")
        lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        for n in sizes:
            a = serf.get(metric, {}).get(str(n))
            b = sim.get(metric, {}).get(str(n))
            ratio, verdict = _verdict(a, b, tol, abs_tol)
            row = (str(n), _cell(a), _cell(b), ratio, verdict)
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


MIXED_METRICS = {"join": "join_s", "crash": "detect_s", "crash-first": "detect_first_s"}
"""fidelity's metric -> bench/mixed_pool.py's field (its scenario is bench/cluster.py's)."""


def render_mixed(data: Mapping[str, Any], tol: float) -> str:
    """The mixed-pool column: a pool of half serf agents, half ours, against the all-serf
    pool measured alternately in the same ``bench/mixed_pool.py`` invocation (concurrent
    joins, so its join figures are not comparable with the sequential joins above)."""
    results = data.get("results", {})
    sizes = sorted(results, key=int)
    lines: list[str] = []
    head = ("N", "all-serf median [min-max] (n)", "mixed median [min-max] (n)", "mix/serf")
    widths = (4, 30, 28, 8, 16)
    for metric, field in MIXED_METRICS.items():
        lines.append("")
        lines.append(f"{metric} (mixed pool): {METRICS[metric]} (seconds)")
        lines.append("  ".join(h.ljust(w) for h, w in zip((*head, "verdict"), widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        for n in sizes:
            serf = results[n].get("serf", {}).get(field)
            mixed = results[n].get("mixed", {}).get(field)
            ratio, verdict = _verdict(serf, mixed, tol, 0.0)
            row = (n, _cell(serf), _cell(mixed), ratio, verdict)
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _seeds(text: str) -> list[int]:
    values = _int_list(text)
    if len(values) == 1 and "," not in text:
        return list(range(1, values[0] + 1))
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Compare simulator timings with real serf agents on loopback.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--sizes",
        type=_int_list,
        default=list(DEFAULT_SIZES),
        help="cluster sizes, comma separated",
    )
    p.add_argument("--runs", type=int, default=5, help="serf runs per size")
    p.add_argument(
        "--seeds",
        type=_seeds,
        default=list(range(1, 8)),
        help="simulator seeds: a count (7 = seeds 1..7) or a comma list",
    )
    p.add_argument(
        "--scenarios",
        type=lambda s: [x for x in s.split(",") if x],
        default=list(SCENARIOS),
        help=f"subset of {','.join(SCENARIOS)}",
    )
    side = p.add_mutually_exclusive_group()
    side.add_argument("--sim-only", action="store_true", help="skip the real serf agents")
    side.add_argument("--serf-only", action="store_true", help="skip the simulator")
    p.add_argument(
        "--serf-from",
        type=Path,
        help="take serf numbers from a JSON file written by --json instead of "
        "running agents (e.g. bench/results/serf_fidelity.json)",
    )
    p.add_argument("--json", type=Path, help="write raw numbers and metadata here")
    p.add_argument(
        "--mixed-from",
        type=Path,
        help="also print the mixed-pool column from a bench/mixed_pool.py JSON file "
        "(e.g. bench/results/mixed_pool.json)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="quiet seconds before each step after the join (both sides)",
    )
    p.add_argument(
        "--jitter",
        type=float,
        default=1.0,
        help="agents start at random offsets within this many seconds and every "
        "action comes 0..this many seconds late (spreads timer phases)",
    )
    p.add_argument(
        "--poll-interval", type=float, default=0.025, help="serf members poll period, seconds"
    )
    p.add_argument(
        "--sim-step",
        type=float,
        default=0.05,
        help="virtual seconds per simulator step while waiting",
    )
    p.add_argument(
        "--sim-latency",
        type=float,
        default=None,
        help="fixed one-way simulated latency in seconds "
        "(default: the simulator's loopback conditions)",
    )
    p.add_argument(
        "--tolerance", type=float, default=0.25, help="allowed relative difference of the medians"
    )
    p.add_argument(
        "--abs-tolerance",
        type=float,
        default=0.0,
        help="also accept medians this many seconds apart (e.g. 0.05 for sub-0.2 s quantities, "
        "where one gossip tick and the 25 ms serf poll dominate); 0 = the pure 25%% criterion",
    )
    p.add_argument("--serf-log-level", default="info", help="serf agent -log-level")
    p.add_argument(
        "--serf-host", default="127.0.0.1", help="loopback address every serf agent binds"
    )
    p.add_argument("--keep-logs", action="store_true", help="keep serf agent logs")
    args = p.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through SerfCluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must unwind (and stop the agents) even if the shell started us with SIGINT
    # ignored, as non-interactive shells do for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    plan = Plan(scenarios=frozenset(args.scenarios), settle=args.settle, jitter=args.jitter)
    metrics = [m for s in SCENARIOS if s in plan.scenarios for m in METRIC_OF_SCENARIO[s]]
    metrics = [m for m in METRICS if m in metrics]  # stable report order
    errors: list[str] = []
    notes: list[str] = []
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sizes": args.sizes,
        "scenarios": sorted(plan.scenarios),
        "settle_s": plan.settle,
        "jitter_s": plan.jitter,
        "tolerance": args.tolerance,
        "abs_tolerance_s": args.abs_tolerance,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }

    serf: Results = {}
    if args.serf_from:
        loaded = json.loads(args.serf_from.read_text())
        serf = loaded.get("serf", {})
        meta["serf"] = {"from": str(args.serf_from), **loaded.get("meta", {}).get("serf", {})}
        notes.append(f"serf numbers loaded from {args.serf_from}")
    elif not args.sim_only:
        if serf_binary() is None:
            notes.append(
                "serf not found: install it with `apt-get install -y serf` "
                "(Debian's package, 0.8.2-dev); running the simulator only"
            )
            print(notes[-1], file=sys.stderr)
        else:
            meta["serf"] = {
                "version": serf_version(),
                "profile": "lan",
                "runs": args.runs,
                "poll_interval_s": args.poll_interval,
                "bind": "127.0.0.1",
            }
            serf = run_serf(args.sizes, args.runs, plan, args, errors)

    sim: Results = {}
    if not args.serf_only:
        reason = sim_available()
        if reason is None:
            meta["sim"] = {"profile": "lan", "seeds": args.seeds, "step_s": args.sim_step}
            sim = run_sim(args.sizes, args.seeds, plan, args, errors, notes)
        else:
            notes.append(f"simulator unavailable ({reason}); serf side only")
            print(notes[-1], file=sys.stderr)

    print(render(serf, sim, args.sizes, metrics, args.tolerance, args.abs_tolerance))
    if args.mixed_from is not None:
        print(render_mixed(json.loads(args.mixed_from.read_text()), args.tolerance))
        notes.append(f"mixed-pool column from {args.mixed_from} (bench/mixed_pool.py)")
    for note in notes:
        print(f"note: {note}")
    for error in errors:
        print(f"error: {error}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        meta["notes"] = notes
        meta["errors"] = errors
        payload = {
            "meta": meta,
            "metrics": {m: METRICS[m] for m in metrics},
            "serf": serf,
            "sim": sim,
        }
        args.json.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # agents were already stopped while unwinding
        print("interrupted", file=sys.stderr)
        sys.exit(130)
