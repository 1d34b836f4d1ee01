"""`gossip-agent cluster [-data-dir DIR] [-log-dir DIR]`: docker-compose.yml without Docker.

Starts the five agents of `agent.processes.topology` (3 servers, 2 clients) as child processes on
127.0.0.11-15, each with Nomad's ports and the compose file's flags (`process_argv`), prints
where each one listens and a few things to try, writes each agent's output to
`<log-dir>/<name>.log`, and reports when all five are healthy. On SIGINT (Ctrl-C), SIGTERM
or SIGHUP it stops them all: SIGTERM, up to 10 s of grace (a second signal cuts it short),
then SIGKILL; exit status 0. An agent that dies later (say `kill -9` to play a crash) is
reported and the rest keep running; one that dies while starting stops the lot, status 1.

The children run in their own process group, so Ctrl-C reaches only this command, which
stops them in order; on Linux they also get SIGTERM if this command itself is killed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from agent.processes.child import log_tail, spawn
from agent.processes.topology import AGENTS, HTTP_PORT, LOOPBACK_IPS, RPC_PORT, SERF_PORT, AgentSpec
from agent.processes.topology import process_argv as twin_argv

PROG = "gossip-agent"
STOP_GRACE = 10.0
"""Seconds between the SIGTERM to the agents and the SIGKILL to those still running."""
START_DEADLINE = 30.0
"""Seconds for every agent to answer HTTP; one that exits before that fails the command."""
POLL = 0.2
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ClusterError(Exception):
    """Printed as one line (`gossip-agent: error: ...`), exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ClusterError(message)

    def _get_option_tuples(self, option_string: str) -> list[Any]:
        return []  # no abbreviations, as Go's flag package


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
    for spec in agents:
        ip = spec.loopback_ip
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((ip, 0))
        except OSError as exc:
            raise ClusterError(
                f"cannot bind {ip} ({exc.strerror}): the cluster needs loopback addresses "
                "127.0.0.11-15 (Linux has them; on macOS first run: for i in 11 12 13 14 15; "
                "do sudo ifconfig lo0 alias 127.0.0.$i up; done)"
            ) from None
        wanted = [(socket.SOCK_STREAM, HTTP_PORT), (socket.SOCK_STREAM, RPC_PORT)]
        if spec.role == "server":
            wanted += [(socket.SOCK_STREAM, SERF_PORT), (socket.SOCK_DGRAM, SERF_PORT)]
        for kind, port in wanted:
            try:
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind((ip, port))
            except OSError as exc:
                proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
                raise ClusterError(
                    f"cannot listen on {ip}:{port}/{proto} for {spec.name} ({exc.strerror}); "
                    "is another cluster or agent running there?"
                ) from None


# ---- children -------------------------------------------------------------------------------


def agent_command() -> tuple[list[str], dict[str, str]]:
    """How to run `gossip-agent` with the very code this process runs: `python -P -m agent`
    with this package's parent directory first on PYTHONPATH (`-P`: not the cwd's `agent`)."""
    root = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSSIP_AGENT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return [sys.executable, "-P", "-m", "agent"], env


@dataclass
class Child:
    spec: AgentSpec
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    reported: bool = False
    http_up: bool = False
    healthy: bool = False
    health_note: str = ""

    @property
    def ip(self) -> str:
        return self.spec.loopback_ip

    @property
    def http(self) -> str:
        return f"http://{self.ip}:{HTTP_PORT}"

    def start(self, command: list[str], env: dict[str, str]) -> None:
        self.log_file = self.log_path.open("ab")
        # SIGTERM if this command dies: the agents then shut down as on Ctrl-C.
        self.proc = spawn(
            [*command, *self.argv], self.log_file, env=env, death_signal=signal.SIGTERM
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def describe_exit(self) -> str:
        assert self.proc is not None
        code = self.proc.returncode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, lines, "    | ")

    def close_log(self) -> None:
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def http_status(url: str, timeout: float = 1.0) -> tuple[int, str] | None:
    """(status, body) of a GET, or None if nothing answered."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError):
        return None


# ---- the command ----------------------------------------------------------------------------


class Cluster:
    def __init__(self, data_dir: Path, log_dir: Path, out: IO[str], signals: list[int]) -> None:
        self.data_dir, self.log_dir, self.out = data_dir, log_dir, out
        self.signals = signals
        """Signals received so far (appended by the handler `main` installs)."""
        self.started = time.monotonic()
        self.children = [
            Child(
                spec,
                twin_argv(spec, LOOPBACK_IPS, data_dir / spec.name),
                log_dir / f"{spec.name}.log",
            )
            for spec in AGENTS
        ]

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    # ---- phases ---------------------------------------------------------------------------

    def start(self) -> None:
        self.started = time.monotonic()
        command, env = agent_command()
        for child in self.children:
            (self.data_dir / child.spec.name).mkdir(parents=True, exist_ok=True)
            child.start(command, env)
        self.say(self.table())

    def table(self) -> str:
        rows = [("agent", "role", "pid", "HTTP API", "RPC", "serf (udp+tcp)")]
        for c in self.children:
            serf = f"{c.ip}:{SERF_PORT}" if c.spec.role == "server" else "-"
            pid = str(c.proc.pid) if c.proc else "-"
            rows.append((c.spec.name, c.spec.role, pid, c.http, f"{c.ip}:{RPC_PORT}", serf))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            f"==> {PROG} cluster: 3 servers and 2 clients, the processes of docker-compose.yml",
            "",
        ]
        lines += [
            "    " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        s1, s2, c1 = self.children[0], self.children[1], self.children[3]
        pid2 = s2.proc.pid if s2.proc else "PID"
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
                if not child.running():
                    child.reported = True
                    self.say(
                        f"==> error: {child.spec.name} stopped while starting "
                        f"({child.describe_exit()}); the end of {child.log_path}:\n"
                        f"{child.log_tail()}"
                    )
                    return False
                if not child.http_up:
                    child.http_up = http_status(f"{child.http}/v1/agent/health") is not None
            if all(c.http_up for c in self.children):
                return True
            if not warned and time.monotonic() > deadline:
                late = ", ".join(c.spec.name for c in self.children if not c.http_up)
                self.say(f"==> still no HTTP answer from {late}; see their logs")
                warned = True
            time.sleep(POLL)
        return False

    def supervise(self) -> int:
        """Report health once and exits as they happen, until a signal; 1 if all died."""
        all_healthy = slow_reported = False
        while not self.signals:
            for child in self.children:
                if not child.reported and not child.running():
                    child.reported = True
                    again = shlex.join([PROG, *child.argv])
                    self.say(
                        f"==> {child.spec.name} (pid {child.proc.pid if child.proc else '?'}) "
                        f"stopped: {child.describe_exit()}; log: {child.log_path}\n"
                        f"    to run it again by hand: {again}"
                    )
            if all(c.reported for c in self.children):
                self.say("==> every agent has stopped")
                return 1
            if not all_healthy:
                for child in self.children:
                    if child.running() and not child.healthy:
                        answer = http_status(f"{child.http}/v1/agent/health")
                        child.healthy = answer is not None and answer[0] == 200
                        child.health_note = " ".join(answer[1].split())[:120] if answer else ""
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
                            self.say(f"==> {child.spec.name} not healthy yet: {child.health_note}")
            time.sleep(POLL if all_healthy else 0.5)
        return 0

    def stop(self) -> None:
        """SIGTERM the agents, wait up to STOP_GRACE (less on another signal), SIGKILL."""
        patience = min(len(self.signals), 1)  # the signal that asked for this stop, if any
        living = [c for c in self.children if c.running()]
        for child in living:
            assert child.proc is not None
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while any(c.running() for c in living):
            if len(self.signals) > patience:
                self.say("==> second signal: killing the agents now")
                break
            if time.monotonic() > deadline:
                late = ", ".join(c.spec.name for c in living if c.running())
                self.say(f"==> {late} still running after {STOP_GRACE:.0f} s: killing")
                break
            time.sleep(0.05)
        for child in self.children:
            if child.proc is not None:
                if child.proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        child.proc.kill()
                child.proc.wait()
            child.close_log()


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
