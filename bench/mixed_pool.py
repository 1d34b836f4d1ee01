"""A mixed pool (half real serf agents, half ours) against an all-serf pool: crash detection
and join convergence, measured as ``bench/cluster.py`` measures them.

Why: interoperability is only half the claim; the other half is that a pool in which our
agents take part still behaves like a serf pool. The goal (issue 13): failure detection and
join convergence in a mixed pool within 25% of an all-serf pool.

One run, per side (alternating ``mixed`` and ``serf``, so drifting machine load hits both):
``n1..nN`` start at seeded random offsets; in the mixed pool the odd-numbered agents are ours
(``python -m agent agent -server``, LAN timings, each on Nomad's ports of its own loopback
address from ``--base-ip``) and the even-numbered ones serf agents (``-profile=lan`` on
``--serf-host``); agents 2..N all join n1 (one of ours) at once; **join** is the time until
every agent lists all N alive. Then, after ``--settle`` s, one random non-seed agent
(never our raft leader) is SIGKILLed; **detect** is the time until every survivor lists it
failed. Each side is polled as ``bench/cluster.py`` polls it (pipelined serf RPC, async
HTTP), every ``--poll-interval`` s, both kinds in the same round.

Usage::

    python bench/mixed_pool.py --sizes 4,10 --runs 3 --json bench/results/mixed_pool.json

Defaults keep every process on 127.0.0.101-119: ours from 127.0.0.101 up, serf on
127.0.0.119 (ports of their own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE), str(_HERE.parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from cluster import (  # noqa: E402
    OursSide,
    Plan,
    Predicate,
    SerfSide,
    SideResults,
    Statuses,
    WaitTimeout,
    _member_name,
    run_once,
)
from serf_agents import SerfAgent, SerfCluster, serf_binary, serf_version  # noqa: E402

from agent.processes.supervisor import SERF_PORT  # noqa: E402


class MixedSide:
    """Odd-numbered agents ours, even-numbered ones serf, in one pool seeded by n1 (ours)."""

    label = "mixed"

    def __init__(
        self, *, base_ip: str, serf_host: str, poll_interval: float, log_level: str
    ) -> None:
        self.ours = OursSide(
            base_ip=base_ip,
            poll_interval=poll_interval,
            log_level=log_level,
            keep_logs=False,
            bootstrap_expect=3,
        )
        self.serf_host = serf_host
        self.poll_interval = poll_interval
        self.cluster: SerfCluster | None = None
        self.serf_of: dict[str, SerfAgent] = {}
        """Logical name (n2, n4...) -> its serf agent (named s1, s2...)."""
        self.logical: dict[str, str] = {}
        self.ours_names: list[str] = []
        self.info: dict[str, Any] = {}
        self._joins: list[tuple[SerfAgent, int]] = []

    # -- lifecycle

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None:
        self.ours_names = list(names[0::2])
        serf_names = list(names[1::2])
        self.ours.start(self.ours_names, [0.0] * (len(self.ours_names) - 1))
        if serf_names:
            self.cluster = SerfCluster(
                len(serf_names), host=self.serf_host, profile="lan", log_level="warn", prefix="s"
            )
            spread = list(gaps[: len(serf_names) - 1])
            self.cluster.start(spread if len(spread) == len(serf_names) - 1 else ())
            for logical, agent in zip(serf_names, self.cluster.agents, strict=True):
                self.serf_of[logical] = agent
                self.logical[agent.name] = logical

    def close(self) -> None:
        self.ours.close()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    def pids(self) -> dict[str, int]:
        out = self.ours.pids()
        for logical, agent in self.serf_of.items():
            if agent.running() and agent.pid is not None:
                out[logical] = agent.pid
        return out

    def describe(self) -> str:
        return f"ours: {self.ours.describe()}; serf: serf agent -profile=lan"

    # -- operations

    def join_all(self, names: Sequence[str], concurrent: bool) -> None:
        self.ours.join_all(self.ours_names, concurrent)
        seed = f"{self.ours[names[0]].address}:{SERF_PORT}"
        body = {"Existing": [seed], "Replay": False}
        self._joins = [(a, a.rpc.send("join", body)) for a in self.serf_of.values()]

    def finish_joins(self) -> None:
        self.ours.finish_joins()
        for agent, seq in self._joins:
            if int(agent.rpc.result(seq, timeout=30.0)["Num"]) < 1:
                raise RuntimeError(f"serf {agent.name}: join reached no one")
        self._joins = []

    def _translate(self, statuses: Statuses) -> Statuses:
        return {self.logical.get(k, _member_name(k)): v for k, v in statuses.items()}

    def wait_for(
        self, observers: Sequence[str], predicate: Predicate, *, timeout: float, what: str
    ) -> dict[str, float]:
        """Both kinds polled in each round, as each side's own wait polls them."""
        pending = list(observers)
        seen: dict[str, float] = {}
        last: dict[str, Statuses] = {}
        deadline = time.monotonic() + timeout
        while pending:
            round_start = time.monotonic()
            serf_pending = [self.serf_of[n] for n in pending if n in self.serf_of]
            sent = [(a, a.rpc.send("members")) for a in serf_pending]
            ours_pending = [self.ours[n] for n in pending if n not in self.serf_of]
            answers = self.ours._run(_gather_statuses(self.ours, ours_pending))
            for agent, answer in zip(ours_pending, answers, strict=True):
                if isinstance(answer, BaseException):
                    continue
                at, statuses = answer
                last[agent.name] = self._translate(statuses)
                if predicate(last[agent.name]):
                    seen[agent.name] = at
            for agent, seq in sent:
                body = agent.rpc.result(seq)
                at = time.monotonic()
                logical = self.logical[agent.name]
                last[logical] = self._translate({m["Name"]: m["Status"] for m in body["Members"]})
                if predicate(last[logical]):
                    seen[logical] = at
            pending = [n for n in pending if n not in seen]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise WaitTimeout(what, {n: last.get(n, {}) for n in pending})
            time.sleep(max(0.0, self.poll_interval - (time.monotonic() - round_start)))
        return seen

    def steady(self) -> dict[str, Any]:
        return {}

    def load(self, requests: int) -> None:
        return None

    def pick_victim(self, candidate: str, names: Sequence[str]) -> str:
        """``candidate``, unless it is our raft leader (ours elect among themselves: waiting
        for their leader first), then the next non-seed agent of ours, else a serf agent."""
        if candidate in self.serf_of:
            return candidate
        self.info = self.ours.steady()
        leader = self.info.get("leader")
        if candidate != leader:
            return candidate
        others = [n for n in self.ours_names[1:] if n != leader]
        return others[0] if others else next(iter(self.serf_of), candidate)

    def kill(self, name: str) -> None:
        if name in self.serf_of:
            self.serf_of[name].kill()
        else:
            self.ours.kill(name)


async def _gather_statuses(side: OursSide, agents: Sequence[Any]) -> list[Any]:
    return list(await asyncio.gather(*(side._statuses(a) for a in agents), return_exceptions=True))


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="4,10", help="pool sizes, comma separated")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--base-ip", default="127.0.0.101")
    p.add_argument("--serf-host", default="127.0.0.119")
    p.add_argument("--poll-interval", type=float, default=0.05)
    p.add_argument("--settle", type=float, default=2.0)
    p.add_argument("--jitter", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if serf_binary() is None:
        print("needs serf: apt-get install -y serf", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",") if s]
    plan = Plan(settle=args.settle, jitter=args.jitter)
    results: dict[int, dict[str, SideResults]] = {}
    errors: list[str] = []
    started_all = time.monotonic()
    for n in sizes:
        per = results.setdefault(n, {"mixed": SideResults(), "serf": SideResults()})
        for run in range(1, args.runs + 1):
            for label in ("mixed", "serf"):
                side: Any = (
                    MixedSide(
                        base_ip=args.base_ip,
                        serf_host=args.serf_host,
                        poll_interval=args.poll_interval,
                        log_level="WARN",
                    )
                    if label == "mixed"
                    else HostedSerfSide(args.serf_host, args.poll_interval)
                )
                try:
                    brief = run_once(
                        side,
                        n,
                        plan,
                        schedule_seed=args.seed * 100_000 + n * 1000 + run,
                        idle=False,
                        results=per[label],
                    )
                except Exception as exc:
                    errors.append(f"{label} N={n} run {run}: {type(exc).__name__}: {exc}")
                    print(f"{label} N={n} run {run}: FAILED {exc}", file=sys.stderr)
                    continue
                print(f"{label:5} N={n} run {run}/{args.runs}: {brief}", file=sys.stderr)
    lines = ["| N | metric | mixed | serf | mixed/serf |", "|---|---|---|---|---|"]
    for n in sizes:
        for metric in ("join", "detect"):
            m = _median(getattr(results[n]["mixed"], metric))
            s = _median(getattr(results[n]["serf"], metric))
            ratio = f"{m / s:.2f}" if m and s else "-"
            lines.append(
                f"| {n} | {metric} | {m if m is None else f'{m:.2f}'} | "
                f"{s if s is None else f'{s:.2f}'} | {ratio} |"
            )
    table = "\n".join(lines)
    print(table)
    if args.json:
        payload = {
            "meta": {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "serf_version": serf_version(),
                "profile": "lan",
                "runs": args.runs,
                "sizes": sizes,
                "poll_interval_s": args.poll_interval,
                "wall_s": round(time.monotonic() - started_all, 1),
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                "errors": errors,
            },
            "results": {
                str(n): {label: r.to_json() for label, r in per.items()}
                for n, per in results.items()
            },
            "table": table,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 1 if errors else 0


class HostedSerfSide(SerfSide):
    """``bench/cluster.py``'s serf side, on one chosen loopback address."""

    def __init__(self, host: str, poll_interval: float) -> None:
        super().__init__(poll_interval=poll_interval, log_level="warn", keep_logs=False)
        self.host = host

    def start(self, names: Sequence[str], gaps: Sequence[float]) -> None:
        self.cluster = SerfCluster(len(names), host=self.host, profile="lan", log_level="warn")
        try:
            self.cluster.start(gaps)
        except BaseException:
            self.cluster.stop()
            raise


if __name__ == "__main__":
    sys.exit(main())
