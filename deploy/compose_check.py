#!/usr/bin/env python3
"""Build the image and run docker-compose.yml's five agents through what a user would check.

Why this exists: the compose file is the first thing a user runs, so CI has to run it for
real, not only validate it. This script does with one command what README's compose
walk-through does by hand, and fails, naming the step, when the cluster does not behave:

  image       build the image and start the cluster (`up --build -d`)
  healthy     every container's healthcheck passes
  members     server1 lists the three servers alive
  clients     client1 and client2 (HTTP on 7646, 8646) list the three servers
  kill        `kill server2`: server1 marks server2.global failed
  force-leave server1's force-leave makes it left
  restart     `start server2`: it answers with its raft data, then is alive on server1
  healthy     every healthcheck passes again
  down        `down -v`, always, also when a step failed or the run was interrupted

It uses Docker when a Docker daemon answers (`docker compose`, or `docker-compose`), and
podman otherwise, with what podman needs on a machine without systemd or Docker Hub kept
here rather than in the Dockerfile or the compose file, which stay as Docker runs them:

- podman's settings go in a `containers.conf` of our own, named by CONTAINERS_CONF: the
  runc runtime and cgroupfs (crun cannot run in hybrid cgroup mode), the file events logger
  (no journald), and default ulimits within the hard limits (podman's defaults for root
  need CAP_SYS_RESOURCE).
- podman-compose 1.6.x runs in a virtual environment of its own (PyPI's; Debian's 1.0.3
  turns `healthcheck: test: [CMD, ...]` into a broken shell string).
- podman 4.3 schedules healthchecks with systemd timers, so without systemd they stay
  "starting"; `podman healthcheck run NAME` runs the compose file's check once, and polling
  it is what `docker compose up --wait` does.
- `python:3.11-slim` is pulled when it can be; when not (no route to Docker Hub), a
  stand-in is built with debootstrap: Debian 12's python3 (3.11) with a venv first on PATH
  (PEP 668 refuses `pip install` into Debian's own Python, and the healthcheck calls
  `python`), and the host's extra CA certificates (a TLS-intercepting proxy would otherwise
  fail pip inside the build). It is kept in podman's storage, so later runs skip it.

On a host where other programs may hold the published ports (4646, 5646 ... 8646),
`--private-network` runs podman and the cluster in a network namespace of their own, with
slirp4netns for outbound traffic, so neither side can disturb the other.

Run it from anywhere: `python3 deploy/compose_check.py` (`--help` for the options). It
needs only Python's standard library; the podman path needs root.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

_LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""The agents answer on this host: a proxy from the environment must never see their calls."""

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROJECT = "gossip-agent-check"
"""Compose project name: `down -v` removes this project's volumes and nothing else."""

SERVERS = ("server1", "server2", "server3")
CLIENTS = ("client1", "client2")
AGENTS = (*SERVERS, *CLIENTS)
HOST_HTTP_PORTS: Mapping[str, int] = {
    "server1": 4646,
    "server2": 5646,
    "server3": 6646,
    "client1": 7646,
    "client2": 8646,
}
"""Where docker-compose.yml publishes each agent's HTTP port (a unit test keeps these in step
with agent/processes/topology.py and the compose file)."""
RPC_PORT = 4647
REGION = "global"

BASE_IMAGE = "docker.io/library/python:3.11-slim"
IMAGE = "gossip-agent:local"
"""What docker-compose.yml's services run and `up --build` tags."""
PODMAN_COMPOSE_REQUIREMENT = "podman-compose>=1.6,<1.7"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
STANDIN_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NPROC_CAP = 32768
"""Default nproc for containers: plenty for five agents, and below any sane hard limit."""

T = TypeVar("T")


class CheckFailed(Exception):
    """A step did not see what it waited for; the message says what it saw last."""


class Missing(Exception):
    """Something the check needs is not on this machine; the message says how to get it."""


# ---- pure pieces (unit-tested) ----------------------------------------------------------------


def nproc_limit(hard: int, pid_max: int, cap: int = NPROC_CAP) -> int:
    """The nproc ulimit containers get: within the hard limit (`resource.RLIM_INFINITY` if
    none) and pid_max, since raising a limit past the hard one needs CAP_SYS_RESOURCE."""
    limits = [cap, pid_max]
    if hard != resource.RLIM_INFINITY and hard >= 0:
        limits.append(hard)
    return min(limits)


def nofile_limit(hard: int, cap: int = 1048576) -> int:
    """The nofile ulimit containers get: podman's own default, unless the hard limit is lower."""
    if hard == resource.RLIM_INFINITY or hard < 0:
        return cap
    return min(hard, cap)


def containers_conf(nofile: int, nproc: int) -> str:
    """podman's settings for a host without systemd, journald or working crun (see module
    docstring); the CONTAINERS_CONF file we write."""
    return (
        "# Written by deploy/compose_check.py; used through CONTAINERS_CONF.\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "\n"
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )


def choose_engine(requested: str, docker_answers: bool, podman_found: bool) -> str:
    """`docker` when asked, or on `auto` when a Docker daemon answers; else `podman`.

    Raises:
        Missing: the requested engine (or, on auto, either) is not usable here.
    """
    if requested == "docker" or (requested == "auto" and docker_answers):
        if not docker_answers:
            raise Missing("--engine docker: no Docker daemon answers `docker info`")
        return "docker"
    if not podman_found:
        raise Missing(
            "no Docker daemon answers and podman is not installed: "
            "apt-get install podman runc debootstrap (or start Docker)"
        )
    return "podman"


def member_statuses(body: object) -> dict[str, str]:
    """/v1/agent/members's body -> {member name: status}.

    Raises:
        CheckFailed: not the members document.
    """
    if not isinstance(body, dict) or not isinstance(body.get("Members"), list):
        raise CheckFailed(f"/v1/agent/members answered {body!r:.200}")
    return {str(m.get("Name")): str(m.get("Status")) for m in body["Members"]}


def member_addrs(body: object) -> dict[str, str]:
    """/v1/agent/members's body -> {member name: gossip address (IP)}."""
    if not isinstance(body, dict) or not isinstance(body.get("Members"), list):
        raise CheckFailed(f"/v1/agent/members answered {body!r:.200}")
    return {str(m.get("Name")): str(m.get("Addr")) for m in body["Members"]}


def server_name(service: str) -> str:
    """A server's serf name: Nomad's `<node>.<region>`."""
    return f"{service}.{REGION}"


def servers_alive_problem(statuses: Mapping[str, str]) -> str | None:
    """None when the three servers are listed alive; else what is wrong, in one line."""
    wrong = {
        server_name(s): statuses.get(server_name(s), "missing")
        for s in SERVERS
        if statuses.get(server_name(s)) != "alive"
    }
    if not wrong:
        return None
    return "not alive: " + ", ".join(f"{name} {status}" for name, status in sorted(wrong.items()))


def client_servers_problem(listing: object, addrs: Mapping[str, str]) -> str | None:
    """None when a client's /v1/agent/servers names the three servers' RPC addresses.

    `addrs` are the servers' gossip addresses (server1's members); RPC is on 4647 there. A
    name instead of an address (`server1:4647`, as given by `-servers`) also counts.
    """
    if not isinstance(listing, list) or not all(isinstance(x, str) for x in listing):
        return f"not a list of addresses: {listing!r:.200}"
    expected = {
        s: {f"{addrs.get(server_name(s), '?')}:{RPC_PORT}", f"{s}:{RPC_PORT}"} for s in SERVERS
    }
    missing = [s for s, forms in expected.items() if not forms & set(listing)]
    if missing or len(listing) != len(SERVERS):
        return f"lists {sorted(listing)}; missing {missing or 'nothing'} of {list(SERVERS)}"
    return None


def raft_numbers(body: object) -> tuple[int, int]:
    """/v1/agent/self's body -> (raft term, last log index) of a server.

    Raises:
        CheckFailed: no raft block (not a server, or not the self document).
    """
    try:
        raft = body["stats"]["raft"]  # type: ignore[index]
        return int(raft["term"]), int(raft["last_log_index"])
    except (KeyError, TypeError, ValueError):
        raise CheckFailed(f"/v1/agent/self has no raft term and index: {body!r:.200}") from None


def conflict_lines(log: str, member: str) -> list[str]:
    """serf's warning for a name claimed from two addresses (a restart at a new address)."""
    return [line for line in log.splitlines() if f"Name conflict for '{member}'" in line]


def busy_ports(ports: Sequence[int], host: str = "0.0.0.0") -> list[int]:
    """The ports of `ports` that cannot be bound on `host` right now (someone holds them)."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                busy.append(port)
    return busy


def format_timings(timings: Sequence[tuple[str, float, str]], total: float) -> str:
    """The closing table: one line per step with its seconds and outcome, then the run's."""
    width = max([len("total"), *(len(name) for name, _, _ in timings)])
    lines = [f"  {name:<{width}}  {secs:6.1f} s  {outcome}" for name, secs, outcome in timings]
    lines.append(f"  {'total':<{width}}  {total:6.1f} s")
    return "\n".join(lines)


# ---- running things ---------------------------------------------------------------------------


@dataclass
class Reporter:
    """Prints each step as it starts and ends, with its time, and keeps them for the table."""

    started: float = field(default_factory=time.monotonic)
    timings: list[tuple[str, float, str]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        print(f"[{self.elapsed():6.1f} s] {text}", flush=True)

    def table(self) -> str:
        return format_timings(self.timings, self.elapsed())

    @contextlib.contextmanager
    def step(self, name: str, what: str) -> Iterator[None]:
        self.say(f"{name}: {what}")
        t0 = time.monotonic()
        try:
            yield
        except BaseException as exc:
            elapsed = time.monotonic() - t0
            self.timings.append((name, elapsed, "FAILED"))
            self.say(f"{name}: FAILED after {elapsed:.1f} s: {exc}")
            raise
        elapsed = time.monotonic() - t0
        self.timings.append((name, elapsed, "ok"))
        self.say(f"{name}: ok ({elapsed:.1f} s)")


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    log: Path | None = None,
    check: bool = True,
    stdin: Any = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; its output goes to `log` (appended) or is captured.

    Raises:
        CheckFailed: it exited non-zero (with `check`) or ran past `timeout`; the message
            has the command and the tail of its output.
    """
    try:
        if log is not None:
            with log.open("a") as out:
                out.write(f"\n$ {' '.join(argv)}\n")
                out.flush()
                done = subprocess.run(
                    argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                    timeout=timeout, stdin=stdin, check=False,
                )  # fmt: skip
            tail = _tail(log)
        else:
            done = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=stdin,
                check=False,
            )  # fmt: skip
            tail = (done.stdout + done.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"`{' '.join(argv)}` ran past {timeout:.0f} s") from None
    if check and done.returncode != 0:
        raise CheckFailed(f"`{' '.join(argv)}` exited {done.returncode}:\n{tail}")
    return done


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(
    what: str, probe: Callable[[], tuple[bool, str]], deadline: float, interval: float = 1.0
) -> str:
    """Poll `probe` (-> (done, what it saw)) until done or `deadline` seconds pass.

    Returns what it saw last. Raises CheckFailed naming `what` and the last sighting.
    """
    t0 = time.monotonic()
    seen = "nothing yet"
    while True:
        try:
            done, seen = probe()
        except (OSError, CheckFailed, ValueError) as exc:  # not up yet, mid-restart ...
            done, seen = False, f"{type(exc).__name__}: {exc}"
        if done:
            return seen
        if time.monotonic() - t0 > deadline:
            raise CheckFailed(f"{what}: not within {deadline:.0f} s; last seen: {seen}")
        time.sleep(interval)


def http_json(port: int, path: str, method: str = "GET", timeout: float = 5.0) -> object:
    """GET (or POST) http://127.0.0.1:<port><path> and decode its JSON body (None if empty).

    Raises:
        CheckFailed: a non-2xx answer (with its body).
        OSError: no answer (URLError is one).
    """
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with _LOOPBACK_OPENER.open(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")[:300]
        raise CheckFailed(f"{method} :{port}{path} -> {exc.code} {body}") from None
    return json.loads(raw) if raw.strip() else None


# ---- the container engine ---------------------------------------------------------------------


@dataclass
class Engine:
    """One container engine: its CLI, its compose command and the environment both need."""

    cli: str
    compose: list[str]
    env: dict[str, str]
    log: Path

    def run(self, *args: str, timeout: float = 600.0, check: bool = True) -> str:
        done = run([self.cli, *args], env=self.env, timeout=timeout, check=check)
        return done.stdout

    def compose_run(self, *args: str, timeout: float = 600.0, check: bool = True) -> None:
        argv = [*self.compose, "-p", PROJECT, "-f", str(COMPOSE_FILE), *args]
        run(argv, env=self.env, timeout=timeout, log=self.log, check=check)

    def healthy(self, name: str) -> tuple[bool, str]:
        """Has `name`'s compose healthcheck passed? Docker runs the checks itself; podman 4.3
        needs systemd for that, so `podman healthcheck run` runs one now."""
        if self.cli == "docker":
            fmt = "{{if .State.Health}}{{.State.Health.Status}}{{else}}no healthcheck{{end}}"
            status = self.run("inspect", "--format", fmt, name, check=False).strip()
            return status == "healthy", status or "no such container"
        done = run([self.cli, "healthcheck", "run", name], env=self.env, timeout=60, check=False)
        said = (done.stdout + done.stderr).strip().splitlines()
        return done.returncode == 0, said[-1] if said else f"exit {done.returncode}"

    def logs(self, name: str) -> str:
        """Container `name`'s output so far (stdout and stderr), "" if there is none."""
        done = run([self.cli, "logs", name], env=self.env, check=False, timeout=60)
        return done.stdout + done.stderr

    def image_id(self, name: str) -> str:
        """The ID of image `name`, or "" if there is none."""
        done = run(
            [self.cli, "image", "inspect", "--format", "{{.Id}}", name],
            env=self.env, check=False, timeout=60,
        )  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else ""

    def existing(self, names: Sequence[str]) -> list[str]:
        """Which of these container names exist (running or not)."""
        out = self.run("ps", "-a", "--format", "{{.Names}}", check=False)
        present = set(out.split())
        return [n for n in names if n in present]


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return done.returncode == 0


def docker_engine(log: Path) -> Engine:
    env = dict(os.environ)
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        compose = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        compose = ["docker-compose"]
    else:
        raise Missing("Docker answers but has neither `docker compose` nor `docker-compose`")
    return Engine("docker", compose, env, log)


def podman_engine(cache: Path, log: Path, reporter: Reporter) -> Engine:
    """podman with our containers.conf, and podman-compose from its own venv (made once)."""
    if os.geteuid() != 0:
        raise Missing("the podman path runs rootful podman: run it as root")
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            raise Missing(f"{tool} not found: apt-get install podman runc debootstrap")
    cache.mkdir(parents=True, exist_ok=True)
    conf = cache / "containers.conf"
    nofile = nofile_limit(resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    nproc = nproc_limit(resource.getrlimit(resource.RLIMIT_NPROC)[1], pid_max)
    conf.write_text(containers_conf(nofile, nproc))
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    venv = cache / "podman-compose-venv"
    podman_compose = venv / "bin" / "podman-compose"
    version = ""
    if podman_compose.exists():
        done = run([str(podman_compose), "--version"], env=env, check=False, timeout=60)
        version = done.stdout + done.stderr
    if "podman-compose version 1.6" not in version:
        with reporter.step("podman-compose", f"{PODMAN_COMPOSE_REQUIREMENT} into {venv}"):
            run([sys.executable, "-m", "venv", "--clear", str(venv)], log=log)
            pip = [str(venv / "bin" / "pip"), "install", "--quiet", PODMAN_COMPOSE_REQUIREMENT]
            run(pip, log=log, timeout=600)
    return Engine("podman", [str(podman_compose)], env, log)


def ensure_base_image(engine: Engine, reporter: Reporter, cache: Path, mirror: str) -> None:
    """Make `python:3.11-slim` available to podman: kept, pulled, or built with debootstrap."""
    with reporter.step("base-image", BASE_IMAGE):
        present = run([engine.cli, "image", "exists", BASE_IMAGE], env=engine.env, check=False)
        if present.returncode == 0:
            reporter.say("base-image: present in podman's storage")
            return
        pull = [engine.cli, "pull", "--quiet", BASE_IMAGE]
        with contextlib.suppress(CheckFailed):  # a pull that hangs counts as one that failed
            if run(pull, env=engine.env, check=False, timeout=300).returncode == 0:
                reporter.say("base-image: pulled")
                return
        reporter.say("base-image: cannot pull; building a stand-in with debootstrap")
        build_standin(engine, cache, mirror)


def build_standin(engine: Engine, cache: Path, mirror: str) -> None:
    """Debian 12's Python 3.11 as `python:3.11-slim`: a venv first on PATH, our CAs trusted."""
    if shutil.which("debootstrap") is None:
        raise Missing("no python:3.11-slim and no debootstrap to make one: apt-get install it")
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache))
    try:
        run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             DEBIAN_SUITE, str(rootfs), mirror],
            log=engine.log, timeout=1200,
        )  # fmt: skip
        extra = sorted(EXTRA_CA_DIR.glob("*.crt")) if EXTRA_CA_DIR.is_dir() else []
        for cert in extra:
            shutil.copy2(cert, rootfs / "usr/local/share/ca-certificates" / cert.name)
        run(["chroot", str(rootfs), "update-ca-certificates"], log=engine.log)
        run(["chroot", str(rootfs), "python3", "-m", "venv", "/opt/venv"], log=engine.log)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            run(
                [engine.cli, "import",
                 "--change", f"ENV PATH={STANDIN_PATH}",
                 "--change", "ENV LANG=C.UTF-8",
                 "--change", 'CMD ["python3"]',
                 "-", BASE_IMAGE],
                env=engine.env, log=engine.log, stdin=tar.stdout, timeout=600,
            )  # fmt: skip
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


# ---- the checks -------------------------------------------------------------------------------


@dataclass
class Deadlines:
    """Seconds each wait may take. Generous: a loaded 2-core machine is slow to start Python."""

    healthy: float = 240.0
    failed: float = 90.0
    left: float = 60.0
    restart: float = 240.0
    """GossipToTheDeadTime (30 s) plus a push-pull interval (30 s) is the usual bound."""


def wait_healthy(engine: Engine, deadline: float) -> str:
    pending = list(AGENTS)

    def probe() -> tuple[bool, str]:
        sightings = []
        for name in list(pending):
            ok, said = engine.healthy(name)
            if ok:
                pending.remove(name)
            else:
                sightings.append(f"{name}: {said}")
        return not pending, "; ".join(sightings) or "all healthy"

    return wait_for("every healthcheck passing", probe, deadline, interval=2.0)


def server1_members() -> object:
    return http_json(HOST_HTTP_PORTS["server1"], "/v1/agent/members")


def status_probe(member: str, want: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        statuses = member_statuses(server1_members())
        return statuses.get(member) == want, f"{member} {statuses.get(member, 'missing')}"

    return probe


def check_cluster(engine: Engine, reporter: Reporter, deadlines: Deadlines) -> None:
    """README's walk-through, step by step."""
    with reporter.step("healthy", "every healthcheck passes (podman: `podman healthcheck run`)"):
        wait_healthy(engine, deadlines.healthy)

    with reporter.step("members", "server1 (HTTP 4646) lists the three servers alive"):

        def servers_alive() -> tuple[bool, str]:
            problem = servers_alive_problem(member_statuses(server1_members()))
            return problem is None, problem or "three servers alive"

        wait_for("three servers alive on server1", servers_alive, 60.0)
        addrs = member_addrs(server1_members())

    with reporter.step("clients", "client1 (7646) and client2 (8646) list the three servers"):
        for client in CLIENTS:

            def client_ok(port: int = HOST_HTTP_PORTS[client]) -> tuple[bool, str]:
                problem = client_servers_problem(http_json(port, "/v1/agent/servers"), addrs)
                return problem is None, problem or "ok"

            wait_for(f"{client}'s /v1/agent/servers", client_ok, 60.0)

    server2 = server_name("server2")
    term, index = raft_numbers(http_json(HOST_HTTP_PORTS["server2"], "/v1/agent/self"))
    reporter.say(f"server2 at {addrs.get(server2)}: raft term {term}, last log index {index}")

    with reporter.step("kill", "kill server2 (SIGKILL); server1 marks server2.global failed"):
        engine.compose_run("kill", "server2", timeout=120)
        wait_for(f"{server2} failed on server1", status_probe(server2, "failed"), deadlines.failed)

    with reporter.step("force-leave", "force-leave server2.global on server1; it goes left"):
        http_json(HOST_HTTP_PORTS["server1"], f"/v1/agent/force-leave?node={server2}", "POST")
        wait_for(f"{server2} left on server1", status_probe(server2, "left"), deadlines.left)

    with reporter.step("restart", "start server2: it keeps its data, then is alive on server1"):
        engine.compose_run("start", "server2", timeout=120)

        def kept_data() -> tuple[bool, str]:
            now_term, now_index = raft_numbers(
                http_json(HOST_HTTP_PORTS["server2"], "/v1/agent/self")
            )
            kept = now_term >= term and now_index >= index
            return True, f"raft term {now_term}, last log index {now_index}" + (
                "" if kept else " (LOST)"
            )

        seen = wait_for("server2 answering on 5646", kept_data, 90.0)
        if "(LOST)" in seen:
            raise CheckFailed(f"server2 came back without its data: {seen}, was {term}/{index}")
        reporter.say(f"restart: server2 answers with {seen}")
        wait_for(f"{server2} alive on server1", status_probe(server2, "alive"), deadlines.restart)
        new_addr = member_addrs(server1_members()).get(server2)
        moved = "a new address" if new_addr != addrs.get(server2) else "the same address"
        reporter.say(f"restart: server2 is alive at {new_addr}: {moved}")
        said = engine.logs("server1")
        conflicts = conflict_lines(said, server2)
        if conflicts:
            reporter.say(f"restart: server1 logged {len(conflicts)} name conflicts meanwhile:")
            reporter.say(f"  {conflicts[-1].strip()}")

    with reporter.step("healthy-again", "every healthcheck passes again"):
        wait_healthy(engine, deadlines.healthy)
        problem = servers_alive_problem(member_statuses(server1_members()))
        if problem is not None:
            raise CheckFailed(f"server1: {problem}")


def dump_logs(engine: Engine) -> None:
    """The last lines of every agent's log, for a failed run."""
    for name in AGENTS:
        done = run([engine.cli, "logs", "--tail", "30", name], env=engine.env, check=False)
        text = (done.stdout + done.stderr).strip()
        print(f"---- {engine.cli} logs --tail 30 {name} ----\n{text}", flush=True)


def check(args: argparse.Namespace, reporter: Reporter) -> None:
    """Pick the engine, get the base image, bring the cluster up, check it, always take it down."""
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "last-run.log"
    log.write_text("")
    reporter.say(f"commands' output: {log}")
    with reporter.step("engine", "Docker if its daemon answers, else podman"):
        kind = choose_engine(args.engine, docker_answers(), shutil.which("podman") is not None)
        reporter.say(f"engine: {kind}")
    engine = docker_engine(log) if kind == "docker" else podman_engine(cache, log, reporter)
    reporter.say(f"compose: {' '.join(engine.compose)}")
    taken = engine.existing(AGENTS)
    if taken:
        raise Missing(
            f"containers {', '.join(taken)} exist already (a compose cluster is up?): take it "
            f"down first (`compose down -v` where it was started, or `{engine.cli} rm -f "
            f"{' '.join(taken)}`)"
        )
    busy = busy_ports(list(HOST_HTTP_PORTS.values()))
    if busy:
        hint = " (or --private-network)" if kind == "podman" else ""
        raise Missing(f"host ports {busy} are in use: free them{hint}")
    if kind == "podman":
        ensure_base_image(engine, reporter, cache, args.mirror)
    try:
        with reporter.step("up", f"up --build -d (builds {IMAGE})"):
            previous = engine.image_id(IMAGE)
            engine.compose_run("up", "--build", "-d", timeout=1200)
            if previous and previous != engine.image_id(IMAGE):
                # the build replaced it: drop the old one (and its untagged layers), so that
                # repeated runs on one machine do not pile up images
                engine.run("rmi", previous, check=False)
        check_cluster(engine, reporter, Deadlines())
    except Exception:  # a failed check or a bug; not Ctrl-C or SIGTERM
        with contextlib.suppress(Exception):
            dump_logs(engine)
        raise
    finally:
        with reporter.step("down", "down -v (containers, network, volumes)"), uninterrupted():
            engine.compose_run("down", "-v", timeout=300, check=False)


# ---- a network namespace of our own ----------------------------------------------------------


def in_private_network(argv: Sequence[str], reporter: Reporter) -> int:
    """Run this script again inside a new network namespace, online through slirp4netns.

    Published ports then live in that namespace, so a busy port on the host (or a host
    program that dials one) meets neither our cluster nor podman's port forwarding rules.
    """
    for tool in ("ip", "nsenter", "slirp4netns"):
        if shutil.which(tool) is None:
            raise Missing(f"--private-network needs {tool} (apt-get install iproute2 slirp4netns)")
    name = f"gossip-compose-check-{os.getpid()}"
    # nsenter, not `ip netns exec`: that one mounts a fresh /sys, which hides the cgroup
    # mounts runc needs ("no cgroup mount found in mountinfo")
    enter = ["nsenter", f"--net=/run/netns/{name}", "--"]
    run(["ip", "netns", "add", name])
    slirp = None
    try:
        slirp = subprocess.Popen(
            ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
             "--netns-type=path", f"/run/netns/{name}", "tap0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def online() -> tuple[bool, str]:
            routes = run([*enter, "ip", "-4", "route", "show", "default"])
            return bool(routes.stdout.strip()), routes.stdout.strip() or "no default route"

        wait_for("slirp4netns's default route", online, 20.0, interval=0.2)
        reporter.say(f"private network: namespace {name}, online through slirp4netns")
        inner = [sys.executable, str(Path(__file__).resolve()), *argv, "--inside-private-network"]
        return wait_passing_signals(subprocess.Popen([*enter, *inner]))
    finally:
        if slirp is not None:
            slirp.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                slirp.wait(timeout=10)
        run(["ip", "netns", "del", name], check=False)


# ---- command line -----------------------------------------------------------------------------


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "gossip-agent" / "compose-check")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="deploy/compose_check.py",
        description="Build the image, run docker-compose.yml's cluster, check it as README's "
        "walk-through does, and take it down again.",
    )
    parser.add_argument(
        "--engine", choices=("auto", "docker", "podman"), default="auto",
        help="auto (default): Docker if its daemon answers, else podman",
    )  # fmt: skip
    parser.add_argument(
        "--private-network", action="store_true",
        help="podman only: run everything in a network namespace of its own (slirp4netns), "
        "for hosts where other programs use the published ports",
    )  # fmt: skip
    parser.add_argument("--inside-private-network", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cache-dir", default=default_cache_dir(),
        help="podman settings, the podman-compose venv, the last run's log (%(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--mirror", default=DEBIAN_MIRROR,
        help="Debian mirror for the stand-in base image (default: %(default)s)",
    )  # fmt: skip
    return parser.parse_args(argv)


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through `finally`, so `down -v` still runs


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM meanwhile: a second one must not cut `down -v` short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_passing_signals(child: subprocess.Popen[bytes]) -> int:
    """Wait for the run inside the namespace, which must outlive us to take the cluster down.

    Ctrl-C reaches it from the terminal (same process group), so we only keep waiting;
    SIGTERM, sent to us alone, is passed on. Either way we return (or exit) after it does,
    and only then is its network namespace removed.
    """
    stopping: BaseException | None = None
    while True:
        try:
            code = child.wait()
        except KeyboardInterrupt as exc:
            stopping = exc
        except SystemExit as exc:
            child.send_signal(signal.SIGTERM)
            stopping = exc
        else:
            if stopping is not None:
                raise stopping
            return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv, args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str], args: argparse.Namespace) -> int:
    reporter = Reporter()
    try:
        if args.private_network and not args.inside_private_network:
            if args.engine == "docker":
                raise Missing("--private-network works with podman only (dockerd has its own)")
            outer = [a for a in argv if a != "--private-network"]
            return in_private_network([*outer, "--engine", "podman"], reporter)
        check(args, reporter)
    except Missing as exc:
        print(f"compose check: cannot run: {exc}", file=sys.stderr, flush=True)
        return 2
    except CheckFailed as exc:
        failed = next((name for name, _, o in reporter.timings if o == "FAILED"), "?")
        print(reporter.table(), flush=True)
        print(f"compose check FAILED at step {failed}: {exc}", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, SystemExit) as exc:
        code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 130
        print(reporter.table(), flush=True)
        print(f"compose check interrupted (exit {code})", file=sys.stderr, flush=True)
        return code
    print(reporter.table(), flush=True)
    print("compose check passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
