"""Where an idle agent's CPU goes: a wake-up table per source, for the raft leader and a follower.

Why: ``bench/cluster.py`` measures idle CPU per agent from ``/proc`` and counts context
switches, which says how often an agent wakes up but not what each wake-up costs, nor which
source (raft heartbeat, gossip probe, uvicorn tick, ...) costs it. This bench starts N of our
agents exactly as cluster.py does (servers, ``-bootstrap-expect 3``, LAN profile, Nomad's ports
on 127.0.1.k), joins them, waits for a raft leader, lets them settle, and reads a probe that
runs inside every agent for ``--seconds`` of quiet:

- every callback the event loop runs (``asyncio.Handle._run``) is timed with the thread's CPU
  clock (``time.thread_time``: user + system, of this thread only) and counted by *source*:
  the coroutine a task step belongs to, or the callback's own name (a timer, a datagram read);
- the selector's ``select`` (``epoll_wait``: the sleep itself and the kernel's wake-up) and the
  rest of each loop iteration (``BaseEventLoop._run_once`` minus the callbacks and the select:
  the loop's own bookkeeping) are rows of their own;
- garbage collections (``gc.callbacks``) are counted and timed per generation;
- the process's utime + stime from ``/proc`` over the same window, so the rows can be checked
  against the total (the difference is what the probe does not see, e.g. the probe itself).

A *wake-up* is one loop iteration whose select blocked (timeout not 0): the loop slept and
something (a socket or a timer) woke it. The table gives, per source, runs per second and µs of
CPU per run; the loop rows give wake-ups per second and µs per wake-up.

The probe is installed by running the agent through this file (``python bench/idle_profile.py
--probe-agent agent -server ...``, which patches asyncio before the agent imports it and then
runs ``python -m agent``'s ``main``), so no agent code carries it. SIGUSR1 resets the counters,
SIGUSR2 writes them as JSON to ``$IDLE_PROBE_OUT.<pid>``. The probe costs a few µs per callback
(two clock reads and a dictionary update), which the table includes: figures are an upper
bound of the agent's own cost.

Usage::

    python bench/idle_profile.py                       # N = 3, 30 s window
    python bench/idle_profile.py --sizes 3,10 --seconds 20 --json out.json
    python bench/idle_profile.py --py-spy 20           # also a py-spy profile of leader + follower
    python bench/idle_profile.py --agent-root ../before   # another checkout's agent ("before")
    python bench/idle_profile.py --floors              # a bare wake-up's and a send's CPU

``--py-spy S`` records the leader and one follower with py-spy for S seconds after the window
(``--nonblocking``, raw collapsed stacks beside ``--json`` or in a temp dir) and prints the top
frames by samples, for the "why" behind a row.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROBE_ENV = "IDLE_PROBE_OUT"
CPROFILE_ENV = "IDLE_PROBE_CPROFILE"
ROOT_ENV = "IDLE_PROBE_AGENT_ROOT"

# ----------------------------------------------------------------------------- the probe
# Runs inside the agent process (``--probe-agent``): only the standard library and the agent.


class _Probe:
    """Counters the patched loop feeds; one per process."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self.handles: dict[str, list[float]] = {}
        """source -> [runs, CPU seconds]"""
        self.iterations = 0
        self.wakeups = 0
        self.select_cpu = 0.0
        self.loop_cpu = 0.0
        """`_run_once` CPU minus its select and callbacks: the loop's own bookkeeping."""
        self.handle_cpu_in_iteration = 0.0
        self.gc: dict[int, list[float]] = {}
        self._gc_started = 0.0

    def snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "wall_s": time.monotonic() - self.started,
            "process_cpu_s": time.process_time() - self.cpu_started,
            "handles": {k: {"runs": int(v[0]), "cpu_s": v[1]} for k, v in self.handles.items()},
            "iterations": self.iterations,
            "wakeups": self.wakeups,
            "select_cpu_s": self.select_cpu,
            "loop_cpu_s": self.loop_cpu,
            "gc": {str(g): {"runs": int(v[0]), "cpu_s": v[1]} for g, v in self.gc.items()},
        }

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
            return
        row = self.gc.setdefault(info["generation"], [0, 0.0])
        row[0] += 1
        row[1] += time.thread_time() - self._gc_started


def _source(handle: Any) -> str:
    """What a loop callback belongs to: a task's coroutine, else the callback itself, with
    the protocol a transport feeds or the function a `LoopTimer` fires, when there is one."""
    callback = handle._callback
    owner = getattr(callback, "__self__", None)
    get_coro = getattr(owner, "get_coro", None)
    if get_coro is not None:  # a task step (C tasks: a wrapper whose __self__ is the task)
        coro = get_coro()
        return "task " + getattr(coro, "__qualname__", type(coro).__name__)
    func = getattr(callback, "func", None)  # functools.partial
    target = func if func is not None else callback
    name = str(getattr(target, "__qualname__", None) or type(target).__name__)
    protocol = getattr(owner, "_protocol", None)
    if protocol is not None:
        name += f" [{type(protocol).__qualname__}]"
    fire = getattr(owner, "_fire", None)
    if fire is not None:
        name += f" -> {getattr(fire, '__qualname__', fire)}"
    return name


def install_probe() -> _Probe:
    """Patch asyncio (before the agent imports it) and selectors to feed one `_Probe`."""
    import asyncio.base_events
    import asyncio.events
    import gc
    import selectors

    probe = _Probe()
    clock = time.thread_time
    handle_run = asyncio.events.Handle._run

    def timed_run(self: asyncio.events.Handle) -> None:
        start = clock()
        try:
            handle_run(self)
        finally:
            spent = clock() - start
            key = _source(self)
            row = probe.handles.get(key)
            if row is None:
                row = probe.handles[key] = [0, 0.0]
            row[0] += 1
            row[1] += spent
            probe.handle_cpu_in_iteration += spent

    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]

    select = selectors.EpollSelector.select

    def timed_select(self: selectors.EpollSelector, timeout: float | None = None) -> Any:
        start = clock()
        try:
            return select(self, timeout)
        finally:
            probe.select_cpu += clock() - start
            if timeout is None or timeout > 0:
                probe.wakeups += 1

    selectors.EpollSelector.select = timed_select  # type: ignore[method-assign]

    run_once = asyncio.base_events.BaseEventLoop._run_once

    def timed_run_once(self: asyncio.base_events.BaseEventLoop) -> None:
        start = clock()
        select_before = probe.select_cpu
        probe.handle_cpu_in_iteration = 0.0
        try:
            run_once(self)
        finally:
            total = clock() - start
            probe.iterations += 1
            probe.loop_cpu += total - (probe.select_cpu - select_before)
            probe.loop_cpu -= probe.handle_cpu_in_iteration

    asyncio.base_events.BaseEventLoop._run_once = timed_run_once  # type: ignore[method-assign]
    gc.callbacks.append(probe.on_gc)

    out = os.environ.get(PROBE_ENV)
    profiler: list[Any] = []

    def reset(signum: int, frame: Any) -> None:
        probe.reset()
        if os.environ.get(CPROFILE_ENV):
            import cProfile

            profiler[:] = [cProfile.Profile()]
            profiler[0].enable()

    def dump(signum: int, frame: Any) -> None:
        if profiler:
            profiler[0].disable()
            profiler[0].dump_stats(f"{out}.{os.getpid()}.pstats")
        if out:
            Path(f"{out}.{os.getpid()}").write_text(json.dumps(probe.snapshot()))

    signal.signal(signal.SIGUSR1, reset)
    signal.signal(signal.SIGUSR2, dump)
    return probe


def run_probed_agent(argv: Sequence[str]) -> int:
    root = os.environ.get(ROOT_ENV)
    if root:  # another checkout's agent (--agent-root), e.g. the "before" of a change
        sys.path.insert(0, root)
    install_probe()
    from agent.cli.main import main as agent_main

    return agent_main(list(argv))


# ----------------------------------------------------------------------------- the bench

_HERE = Path(__file__).resolve().parent

LABELS: tuple[tuple[str, str], ...] = (
    # (substring of the source, what it is): the first match names the row.
    ("task _Peer._run", "raft/RPC out: write queued frames (TCP)"),
    ("task AioRpcRuntime._serve", "raft/RPC in: read a frame, core, flush"),
    ("[_Inbound]", "raft/RPC in: read frames, core, flush, answer"),
    ("[StreamReaderProtocol]", "TCP readable: wake the stream's task"),
    ("[_UdpProtocol]", "gossip in: UDP datagram, core, flush"),
    ("AioRpcRuntime._on_timer", "raft timer: heartbeats (leader), election (follower)"),
    ("AioRuntime._on_timer", "gossip timer: probe, gossip, push-pull"),
    ("EmbeddedServer.main_loop", "uvicorn tick"),
    ("task Server.serve", "uvicorn tick"),
    ("task AioRuntime", "gossip stream (push-pull)"),
)


def label(source: str) -> str:
    for needle, text in LABELS:
        if needle in source:
            return text
    return ""


def table_rows(snap: dict[str, Any], cpu_proc_s: float, wall: float) -> list[str]:
    """The wake-up table of one agent, as markdown rows."""
    rows: list[tuple[float, str]] = []

    def row(source: str, runs: int, cpu_s: float, what: str = "") -> None:
        per_s = runs / wall
        each = cpu_s / runs * 1e6 if runs else 0.0
        share = cpu_s / wall * 100
        rows.append((cpu_s, f"| {source} | {what} | {per_s:.1f} | {each:.0f} | {share:.3f} |"))

    for source, v in snap["handles"].items():
        row(f"`{source}`", v["runs"], v["cpu_s"], label(source))
    row("select (epoll_wait)", snap["wakeups"], snap["select_cpu_s"], "the sleep and its wake-up")
    row("loop bookkeeping", snap["wakeups"], snap["loop_cpu_s"], "`_run_once` minus the above")
    for gen, v in snap["gc"].items():
        row(f"gc gen {gen}", v["runs"], v["cpu_s"], "garbage collection")
    seen = sum(v["cpu_s"] for v in snap["handles"].values()) + snap["select_cpu_s"]
    seen += snap["loop_cpu_s"]  # gc runs inside callbacks: already counted there
    rows.sort(key=lambda r: -r[0])
    wakeups = snap["wakeups"]
    lines = [r[1] for r in rows]
    lines.append(
        f"| **all (probe)** | {snap['iterations'] / wall:.1f} loop iterations/s | "
        f"{wakeups / wall:.1f} wake-ups/s | {seen / wakeups * 1e6 if wakeups else 0:.0f} "
        f"per wake-up | {seen / wall * 100:.3f} |"
    )
    lines.append(
        f"| **process (/proc)** | utime + stime | {wakeups / wall:.1f} | "
        f"{cpu_proc_s / wakeups * 1e6 if wakeups else 0:.0f} per wake-up | "
        f"{cpu_proc_s / wall * 100:.3f} |"
    )
    return lines


HEADER = "| source | what | runs/s | µs CPU each | % of a core |\n|---|---|---|---|---|"


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=_int_list, default=[3], help="cluster sizes")
    p.add_argument("--seconds", type=float, default=30.0, help="measurement window, s")
    p.add_argument("--settle", type=float, default=5.0, help="quiet before the window, s")
    p.add_argument("--base-ip", default="127.0.1.1", help="as cluster.py")
    p.add_argument("--log-level", default="WARN")
    p.add_argument(
        "--agent-root",
        type=Path,
        help="run the agent of this checkout instead of this one's (e.g. ../before)",
    )
    p.add_argument("--py-spy", type=float, default=0.0, help="py-spy seconds after (0: none)")
    p.add_argument(
        "--floors",
        action="store_true",
        help="only measure what a wake-up and a loopback send cost, without agents (~50 s)",
    )
    p.add_argument(
        "--cprofile", action="store_true", help="also cProfile the window (slower agents)"
    )
    p.add_argument("--json", type=Path, help="write snapshots and tables here")
    return p.parse_args(argv)


def _py_spy(pids: dict[str, int], seconds: float, outdir: Path) -> dict[str, str]:
    import subprocess

    spy = Path(sys.executable).with_name("py-spy")
    procs = {}
    for name, pid in pids.items():
        out = outdir / f"py-spy-{name}.txt"
        cmd = [str(spy), "record", "-r", "997", "--nonblocking", "-f", "raw"]
        cmd += ["-d", str(int(seconds)), "-o", str(out), "--pid", str(pid)]
        procs[name] = (
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            out,
        )
    paths = {}
    for name, (proc, out) in procs.items():
        proc.wait(timeout=seconds + 30)
        paths[name] = str(out)
    return paths


def top_frames(path: str, count: int = 15) -> list[str]:
    """Own-code frames by inclusive samples in one py-spy raw file (idle samples excluded)."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        samples = int(n)
        frames = stack.split(";")
        if "select" in frames[-1]:
            continue  # asleep in epoll_wait (or being woken)
        total += samples
        for frame in set(
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")" for f in frames
        ):
            inclusive[frame] = inclusive.get(frame, 0) + samples
    top = sorted(inclusive.items(), key=lambda kv: -kv[1])
    skip = (
        "_run_module",
        "_run_code",
        "<module>",
        "main (",
        "run (",
        "Runner.run",
        "run_until_complete",
        "run_forever",
        "_run_once",
        "timed_run",
        "Handle._run",
        "run_probed_agent",
    )
    lines = [f"{total} busy samples"]
    for frame, n in top:
        if any(s in frame for s in skip):
            continue
        lines.append(f"{n:5d} {100 * n / max(total, 1):5.1f}%  {frame}")
        if len(lines) > count:
            break
    return lines


def _take_snapshot(path: Path, timeout: float = 10.0) -> dict[str, Any]:
    """The probe's JSON at `path` once the agent has written it whole (on SIGUSR2), removed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            snap: dict[str, Any] = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # not yet, or half written
            if time.monotonic() > deadline:
                raise TimeoutError(f"no probe snapshot at {path} after {timeout} s") from None
            time.sleep(0.05)
            continue
        path.unlink()
        return snap


def run_size(n: int, args: argparse.Namespace, outdir: Path) -> dict[str, Any]:
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
    sys.path.insert(0, str(_HERE.parent))
    sys.path.append(str(_HERE))
    import cluster

    program = (sys.executable, "-P", str(Path(__file__).resolve()), "--probe-agent")
    side = cluster.OursSide(
        base_ip=args.base_ip,
        poll_interval=0.05,
        log_level=args.log_level,
        keep_logs=False,
        bootstrap_expect=3,
        program=program,
    )
    os.environ[PROBE_ENV] = str(outdir / f"probe-n{n}")
    if args.cprofile:
        os.environ[CPROFILE_ENV] = "1"
    if args.agent_root:
        os.environ[ROOT_ENV] = str(args.agent_root.resolve())
    names = [f"n{i}" for i in range(1, n + 1)]
    side.start(names, [0.05] * (n - 1))
    try:
        side.join_all(names, True)
        side.wait_for(names, cluster.all_alive(names), timeout=120.0, what=f"join of {n}")
        side.finish_joins()
        info = side.steady()
        time.sleep(args.settle)
        pids = side.pids()
        for pid in pids.values():
            os.kill(pid, signal.SIGUSR1)
        before = {name: cluster.cpu_seconds(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        time.sleep(args.seconds)
        for pid in pids.values():
            os.kill(pid, signal.SIGUSR2)
        wall = time.monotonic() - t0
        after = {name: cluster.cpu_seconds(pid) for name, pid in pids.items()}
        snaps = {
            name: _take_snapshot(Path(f"{os.environ[PROBE_ENV]}.{pid}"))
            for name, pid in pids.items()
        }
        leader = info["leader"]
        follower = next(name for name in names if name != leader)
        result: dict[str, Any] = {
            "n": n,
            "agent_root": str(args.agent_root or _HERE.parent),
            "leader": leader,
            "follower": follower,
            "window_s": round(wall, 3),
            "loadavg": os.getloadavg(),
            "proc_cpu_s": {name: round(after[name] - before[name], 3) for name in pids},
            "snapshots": snaps,
            "tables": {},
        }
        for role, name in (("raft leader", leader), ("follower", follower)):
            rows = table_rows(snaps[name], after[name] - before[name], wall)
            result["tables"][name] = f"N = {n}, {role} {name}:\n{HEADER}\n" + "\n".join(rows)
        cpu = [100 * (after[x] - before[x]) / wall for x in pids]
        result["summary"] = (
            f"N = {n} ({args.agent_root or _HERE.parent}): /proc CPU per agent mean "
            f"{sum(cpu) / len(cpu):.3f}% "
            f"(max {max(cpu):.3f}%), leader {leader} "
            f"{100 * (after[leader] - before[leader]) / wall:.3f}%, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        if args.cprofile:
            result["cprofile"] = {
                role: f"{os.environ[PROBE_ENV]}.{pids[name]}.pstats"
                for role, name in (("leader", leader), ("follower", follower))
            }
        if args.py_spy > 0:
            spy = _py_spy({"leader": pids[leader], "follower": pids[follower]}, args.py_spy, outdir)
            result["py_spy"] = {role: top_frames(path) for role, path in spy.items()}
        return result
    finally:
        side.close()


# ----------------------------------------------------------------------------- floors


def floors(wakeups: int = 200, period: float = 0.1) -> dict[str, float]:
    """What one wake-up costs this machine before any agent code runs, µs of thread CPU each:
    an asyncio timer doing nothing, a bare `epoll.poll` loop in Python, and a 60-byte send on
    a loopback TCP or UDP socket whose reader sleeps in another process (the kernel delivers
    it and wakes the reader inside the sender's call). Each at `1 / period` per second, as an
    idle agent's wake-ups come."""
    import asyncio
    import select
    import socket

    result: dict[str, float] = {}

    async def timer() -> float:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        count = [0, 0.0]

        def tick() -> None:
            count[0] += 1
            if count[0] == 10:
                count[1] = time.thread_time()
            if count[0] == wakeups + 10:
                done.set_result(time.thread_time() - count[1])
            else:
                loop.call_later(period, tick)

        loop.call_later(period, tick)
        return float(await done)

    result["asyncio timer, nothing to do"] = asyncio.run(timer()) / wakeups * 1e6
    poller = select.epoll()
    start = time.thread_time()
    for _ in range(wakeups):
        poller.poll(period)
    result["epoll.poll in a Python loop"] = (time.thread_time() - start) / wakeups * 1e6
    poller.close()
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        server = socket.socket(socket.AF_INET, kind)
        server.bind(("127.0.1.1", 0))
        if kind == socket.SOCK_STREAM:
            server.listen()
        child = os.fork()
        if child == 0:  # the sleeping reader
            conn = server.accept()[0] if kind == socket.SOCK_STREAM else server
            while conn.recv(65536):
                pass
            os._exit(0)
        sender = socket.socket(socket.AF_INET, kind)
        sender.connect(server.getsockname())
        spent = 0.0
        for _ in range(wakeups // 2):
            time.sleep(period)
            start = time.thread_time()
            sender.send(b"x" * 60)
            spent += time.thread_time() - start
        what = "TCP" if kind == socket.SOCK_STREAM else "UDP"
        result[f"loopback {what} send of 60 bytes to a sleeping reader"] = (
            spent / (wakeups // 2) * 1e6
        )
        sender.close()
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        server.close()
    result["a follower's heartbeat through the RPC cores, warm, no I/O"] = _warm_heartbeat()
    return result


def _warm_heartbeat(rounds: int = 20000) -> float:
    """µs of CPU for one AppendEntries through `RpcEndpoint`, `ServerRpc` and `RaftStub` and
    the flush after it, repeated back to back (caches warm), with no socket or loop."""
    import random

    sys.path.insert(0, str(_HERE.parent))
    from agent.rpc.endpoint import RpcEndpoint, RpcEvent, flush_messages
    from agent.rpc.server_rpc import ServerRpc
    from agent.rpc.wire import FrameKind, encode_frame
    from raft_stub import AppendEntries, RaftConfig, RaftStub, encode_message

    me, leader = "127.0.1.2:4647", "127.0.1.1:4647"
    raft = RaftStub(RaftConfig(server_id=me, address=me), rng=random.Random(1), now=0.0)
    server = ServerRpc(
        raft,
        addr=me,
        region="global",
        bootstrap_expect=3,
        rng=random.Random(2),
        members=lambda: ("n2", "global", "dc1", []),
    )
    endpoint = RpcEndpoint(server, None)

    class Sink:
        def send(self, dst: str, data: bytes) -> None:
            pass

        def deliver(self, event: RpcEvent) -> None:
            pass

        def set_deadline(self, at: float | None) -> None:
            pass

    sink = Sink()
    beat = AppendEntries(
        term=1, leader_id=leader, prev_log_index=0, prev_log_term=0, entries=(), leader_commit=0
    )
    frame = encode_frame(leader, FrameKind.RAFT, encode_message(beat))
    now = 1.0
    start = 0.0
    for i in range(rounds + 1000):
        if i == 1000:
            start = time.thread_time()
        now += 0.1
        endpoint.handle_message(now, frame)
        flush_messages(endpoint, sink, None)
    return (time.thread_time() - start) / rounds * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--probe-agent"]:
        return run_probed_agent(argv[1:])
    args = parse_args(argv)
    if args.floors:
        for what, micros in floors().items():
            print(f"| {what} | {micros:.0f} |")
        return 0
    import tempfile

    outdir = Path(tempfile.mkdtemp(prefix="idle-profile-"))
    results = []
    for n in args.sizes:
        result = run_size(n, args, outdir)
        results.append(result)
        print(result["summary"])
        for text in result["tables"].values():
            print(f"\n{text}\n")
        for role, path in result.get("cprofile", {}).items():
            import pstats

            print(f"cProfile, {role} ({path}):")
            pstats.Stats(path).sort_stats("tottime").print_stats(25)
        for role, lines in result.get("py_spy", {}).items():
            print(f"py-spy, {role}:")
            print("\n".join(lines))
            print()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
