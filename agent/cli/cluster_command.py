"""`gossip-agent cluster [-data-dir DIR] [-log-dir DIR]`: docker-compose.yml without Docker.

Starts the five agents of `agent.processes.topology` (3 servers, 2 clients) as child
processes on 127.0.0.11-15, each with Nomad's ports and the compose file's flags
(`process_argv`), prints where each one listens and a few things to try, writes each agent's
output to `<log-dir>/<name>.log`, and reports when all five are healthy. While it waits (for
HTTP, a raft leader, the clients' registration) a terminal shows a live line of what is
still awaited (`wait_progress.py`); elsewhere only the milestones are printed, one line
each. On SIGINT (Ctrl-C), SIGTERM or SIGHUP it stops them all: SIGTERM, up to 10 s of grace
(a second signal cuts it short), then SIGKILL; exit status 0. An agent that dies later (say
`kill -9` to play a crash) is reported and the rest keep running; one that dies while
starting stops the lot, status 1.

The children run in their own process group, so Ctrl-C reaches only this command, which
stops them in order; on Linux they also get SIGTERM if this command itself is killed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agent.cli.go_flags import GoFlagParser
from agent.cli.wait_progress import WaitDisplay, display_for
from agent.processes.supervisor import (
    RPC_PORT,
    SERF_PORT,
    AddressUnavailable,
    AgentProcess,
    PortsInUse,
    Supervisor,
    check_ports,
)
from agent.processes.topology import AGENTS, AgentSpec, loopback_specs

PROG = "gossip-agent"
STOP_GRACE = 10.0
"""Seconds between the SIGTERM to the agents and the SIGKILL to those still running."""
START_DEADLINE = 30.0
"""Seconds for every agent to answer HTTP; one that exits before that fails the command."""
POLL = 0.2
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ClusterError(Exception):
    """Printed as one line (`gossip-agent: error: ...`), exit status 1."""


class _Parser(GoFlagParser):
    usage_error = ClusterError


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} cluster",
        allow_abbrev=False,
        description="Run docker-compose.yml's 3 servers and 2 clients as local processes "
        "on 127.0.0.11-15 until Ctrl-C.",
    )
    parser.add_argument(
        "-data-dir",
        "--data-dir",
        metavar="DIR",
        help="agents' state, one directory each (default: a temporary one, removed at exit)",
    )
    parser.add_argument(
        "-log-dir",
        "--log-dir",
        metavar="DIR",
        help="where <agent>.log files go (default: a temporary directory, kept)",
    )
    return parser


# ---- preflight ------------------------------------------------------------------------------


def check_addresses(agents: Sequence[AgentSpec] = AGENTS) -> None:
    """Every agent's address exists here and its ports are free.

    Raises:
        ClusterError: one line saying which address or port, and what to do.
    """
    try:
        check_ports(agents)
    except AddressUnavailable as exc:
        raise ClusterError(
            f"cannot bind {exc.address} ({exc.reason}): the cluster needs loopback addresses "
            "127.0.0.11-15 (Linux has them; on macOS first run: for i in 11 12 13 14 15; "
            "do sudo ifconfig lo0 alias 127.0.0.$i up; done)"
        ) from None
    except PortsInUse as exc:  # the first is enough to say what is wrong
        raise ClusterError(
            f"cannot listen on {exc.busy[0]}; is another cluster or agent running there?"
        ) from None


# ---- the command ----------------------------------------------------------------------------


@dataclass
class Watched:
    """What the command has told the user about one agent so far."""

    agent: AgentProcess
    role: str
    reported: bool = False
    """Its exit was reported (or it died while starting)."""
    http_up: bool = False
    healthy: bool = False
    health_note: str = ""
    registered: bool = False
    """A client the leader has granted a heartbeat TTL (it is in the node table)."""


class Cluster:
    def __init__(self, data_dir: Path, log_dir: Path, out: IO[str], signals: list[int]) -> None:
        self.data_dir, self.log_dir, self.out = data_dir, log_dir, out
        self.signals = signals
        """Signals received so far (appended by the handler `main` installs)."""
        self.started = time.monotonic()
        # SIGTERM if this command dies: the agents then shut down as on Ctrl-C. No banners:
        # the logs are the agents' own output, as under docker compose.
        self.supervisor = Supervisor(log_dir, death_signal=signal.SIGTERM, run_banners=False)
        self.children = [
            Watched(self.supervisor.add(spec), topology.role)
            for spec, topology in zip(loopback_specs(data_dir), AGENTS, strict=True)
        ]
        self.display: WaitDisplay = display_for(out)
        self.leader = ""
        """The raft leader's RPC address once a server names one."""

    def say(self, text: str = "") -> None:
        self.display.say(text)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _self_stats(self, child: Watched) -> dict[str, dict[str, str]]:
        answer = child.agent.get("/v1/agent/self", timeout=1.0)
        if answer is None or not answer.ok:
            return {}
        try:
            stats = json.loads(answer.body).get("stats", {})
        except (ValueError, AttributeError):
            return {}
        return stats if isinstance(stats, dict) else {}

    def observe_milestones(self) -> None:
        """Report, once each, the raft leader and every client's registration."""
        if not self.leader:
            for child in self.children:
                if child.role == "server" and child.agent.running:
                    leader = self._self_stats(child).get("nomad", {}).get("leader_addr", "")
                    if leader:
                        self.leader = leader
                        self.say(f"==> raft leader elected: {leader} ({self.elapsed():.1f} s)")
                        break
        for child in self.children:
            if child.role == "client" and not child.registered and child.agent.running:
                ttl = self._self_stats(child).get("client", {}).get("heartbeat_ttl", "")
                if ttl and ttl != "0s":
                    child.registered = True
                    self.say(
                        f"==> {child.agent.name} registered with the servers "
                        f"(heartbeat TTL {ttl}; {self.elapsed():.1f} s)"
                    )

    def awaited(self) -> str:
        """What the cluster still lacks, for the live line."""
        missing = [] if self.leader else ["a raft leader"]
        missing += [
            f"{c.agent.name} to register"
            for c in self.children
            if c.role == "client" and not c.registered
        ]
        missing += [
            f"{c.agent.name} healthy ({c.health_note or 'no answer'})"
            for c in self.children
            if c.role == "server" and not c.healthy and self.leader
        ]
        return ", ".join(missing) or "the last health checks"

    # ---- phases ---------------------------------------------------------------------------

    def start(self) -> None:
        self.started = time.monotonic()
        for child in self.children:
            child.agent.start()
        self.say(self.table())

    def table(self) -> str:
        rows = [("agent", "role", "pid", "HTTP API", "RPC", "serf (udp+tcp)")]
        for c in self.children:
            ip = c.agent.address
            serf = f"{ip}:{SERF_PORT}" if c.role == "server" else "-"
            pid = str(c.agent.pid) if c.agent.pid is not None else "-"
            rows.append((c.agent.name, c.role, pid, c.agent.http, f"{ip}:{RPC_PORT}", serf))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            f"==> {PROG} cluster: 3 servers and 2 clients, the processes of docker-compose.yml",
            "",
        ]
        lines += [
            "    " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        s1, s2, c1 = (self.children[i].agent for i in (0, 1, 3))
        pid2 = s2.pid if s2.pid is not None else "PID"
        lines += [
            "",
            f"    data: {self.data_dir}/<agent>",
            f"    logs: {self.log_dir}/<agent>.log    (tail -f {self.log_dir}/*.log)",
            "",
            "==> Try:",
            f"    curl -s {s1.http}/v1/agent/members?pretty",
            f"    curl -s {c1.http}/v1/agent/servers",
            f"    curl -s {c1.http}/v1/agent/health?pretty",
            f"    kill -9 {pid2}    # server2 crashes, as docker compose kill server2",
            f"    curl -s -XPOST '{s1.http}/v1/agent/force-leave?node=server2.global'",
            "",
            "==> Waiting for the agents to be healthy; Ctrl-C stops them all.",
        ]
        return "\n".join(lines)

    def wait_until_up(self) -> bool:
        """Every agent answers HTTP; False if one exited first, or on a signal."""
        deadline = time.monotonic() + START_DEADLINE
        warned = False
        while not self.signals:
            for child in self.children:
                if not child.agent.running:
                    child.reported = True
                    self.say(
                        f"==> error: {child.agent.name} stopped while starting "
                        f"({child.agent.exit_description()}); the end of {child.agent.log_path}:"
                        f"\n{child.agent.log_tail(15, '    | ')}"
                    )
                    return False
                if not child.http_up:
                    child.http_up = child.agent.health(timeout=1.0) is not None
            if all(c.http_up for c in self.children):
                return True
            answering = sum(c.http_up for c in self.children)
            self.display.update(
                f"starting: {answering}/{len(self.children)} agents answer HTTP "
                f"({self.elapsed():.0f} s)"
            )
            if not warned and time.monotonic() > deadline:
                late = ", ".join(c.agent.name for c in self.children if not c.http_up)
                self.say(f"==> still no HTTP answer from {late}; see their logs")
                warned = True
            time.sleep(POLL)
        return False

    def supervise(self) -> int:
        """Report health once and exits as they happen, until a signal; 1 if all died."""
        all_healthy = settled = slow_reported = False
        while not self.signals:
            for child in self.children:
                if not child.reported and not child.agent.running:
                    child.reported = True
                    again = shlex.join([PROG, *child.agent.argv])
                    self.say(
                        f"==> {child.agent.name} (pid {child.agent.pid}) stopped: "
                        f"{child.agent.exit_description()}; log: {child.agent.log_path}\n"
                        f"    to run it again by hand: {again}"
                    )
            if all(c.reported for c in self.children):
                self.say("==> every agent has stopped")
                return 1
            if not all_healthy:
                for child in self.children:
                    if child.agent.running and not child.healthy:
                        answer = child.agent.health(timeout=1.0)
                        child.healthy = answer is not None and answer.ok
                        child.health_note = " ".join(answer.body.split())[:120] if answer else ""
            if not settled:
                self.observe_milestones()
            if not all_healthy:
                if all(c.healthy for c in self.children):
                    all_healthy = True
                    self.say(
                        f"==> All {len(self.children)} agents healthy after "
                        f"{time.monotonic() - self.started:.1f} s."
                    )
                elif not slow_reported and time.monotonic() - self.started > 2 * START_DEADLINE:
                    slow_reported = True
                    for child in self.children:
                        if not child.healthy:
                            self.say(f"==> {child.agent.name} not healthy yet: {child.health_note}")
            if not settled:
                registered = all(c.registered for c in self.children if c.role == "client")
                if all_healthy and registered and self.leader:
                    settled = True  # the long wait is over: the live line goes
                    self.display.close()
                else:
                    self.display.update(f"waiting for {self.awaited()} ({self.elapsed():.0f} s)")
            time.sleep(POLL if settled else 0.5)
        self.display.close()
        return 0

    def stop(self) -> None:
        """SIGTERM the agents, wait up to STOP_GRACE (less on another signal), SIGKILL."""
        self.display.close()
        patience = min(len(self.signals), 1)  # the signal that asked for this stop, if any
        stopped = self.supervisor.stop(
            signal.SIGTERM, STOP_GRACE, abandon=lambda: len(self.signals) > patience
        )
        if stopped.abandoned:
            self.say("==> second signal: killing the agents now")
        elif stopped.killed:
            self.say(
                f"==> {', '.join(stopped.killed)} still running after {STOP_GRACE:.0f} s: killing"
            )
        self.supervisor.close()


def main(argv: Sequence[str]) -> int:
    signals: list[int] = []
    for sig in _STOP_SIGNALS:  # from here on Ctrl-C is a request to stop, never a traceback
        signal.signal(sig, lambda signum, frame: signals.append(signum))
    try:
        args = build_parser().parse_args(list(argv))
        check_addresses()
    except ClusterError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    scratch: Path | None = None

    def scratch_dir() -> Path:
        nonlocal scratch
        if scratch is None:
            scratch = Path(tempfile.mkdtemp(prefix="gossip-agent-cluster-"))
        return scratch

    data_dir = Path(args.data_dir).resolve() if args.data_dir else scratch_dir() / "data"
    log_dir = Path(args.log_dir).resolve() if args.log_dir else scratch_dir() / "logs"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"{PROG}: error: cannot create {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    cluster = Cluster(data_dir, log_dir, sys.stdout, signals)
    status = 1
    try:
        cluster.start()
        if cluster.wait_until_up():
            status = cluster.supervise()
        elif cluster.signals:
            status = 0
        if cluster.signals:
            name = signal.Signals(cluster.signals[0]).name
            cluster.say(f"==> Caught {name}, stopping the agents...")
    finally:
        cluster.stop()
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    cluster.say(f"==> Stopped. Logs are in {log_dir}")
    return status
