"""Real agents as supervised child processes: start, signal, restart, wait, tear down.

`gossip-agent cluster`, the end-to-end tests and `bench/cluster.py` all run real agents on
loopback addresses with Nomad's fixed ports, so all of them need the same few things: the
ports free before anything starts (or a clear error naming the one that is not), every agent
running this very checkout's code, its output in a log file of its own, crashes (`kill -9`)
and signals (SIGTERM, SIGINT) on demand, a restart on the same data directory, waits that
poll the agent's health against a deadline instead of sleeping, and a teardown that kills
every child whatever happened to the caller. `Supervisor` holds the agents and does the
group-wide parts; each agent is an `AgentProcess` handle; a `ChildSpec` says what to run.

Synchronous on purpose (subprocess and urllib): callers are tests, a CLI command and the
setup of a bench, none of which runs an event loop of its own.

    with Supervisor(tmp_path) as agents:
        server = agents.start(ChildSpec("s1", "127.0.0.21", ("agent", "-dev")))[0]
        agents.wait_healthy()
        server.kill()
        server.restart()
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

from agent.processes.child import log_tail, signal_group, spawn

__all__ = [
    "HTTP_PORT",
    "RPC_PORT",
    "SERF_PORT",
    "AddressUnavailable",
    "AgentExited",
    "AgentProcess",
    "BusyPort",
    "ChildSpec",
    "HttpAnswer",
    "NotReady",
    "Ports",
    "PortsInUse",
    "Run",
    "Stopped",
    "Supervisor",
    "SupervisorError",
    "Transport",
    "busy_ports",
    "can_bind",
    "check_ports",
    "wait_ports_free",
]

HTTP_PORT, RPC_PORT, SERF_PORT = 4646, 4647, 4648
"""Nomad's ports; agents on loopback keep them, each on an address of its own."""

STOP_TIMEOUT = 30.0
"""Seconds a signalled agent gets to exit before it is SIGKILLed: generous, because a
graceful leave waits for its broadcast and a loaded CI machine is slow."""
HEALTH_TIMEOUT = 60.0
"""Default deadline for an agent to answer (or be healthy): generous for the same reason."""
POLL = 0.1
"""Pacing of every wait; the deadline decides when a wait fails, never this."""
_HTTP_TIMEOUT = 2.0

T = TypeVar("T")


# ---- errors -----------------------------------------------------------------------------------


class SupervisorError(Exception):
    """Something about the agents' processes went wrong; the message says what and where."""


class AddressUnavailable(SupervisorError):
    """An agent's address does not exist on this machine (a loopback alias is missing)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot bind {address} ({reason})")
        self.address = address
        self.reason = reason


class PortsInUse(SupervisorError):
    """Something else (another cluster, a stray agent) holds ports the agents need."""

    def __init__(self, busy: Sequence[BusyPort]) -> None:
        first, rest = busy[0], len(busy) - 1
        more = f" (and {rest} more: {', '.join(b.where for b in busy[1:])})" if rest else ""
        super().__init__(
            f"cannot listen on {first}{more}; is another cluster or agent running there?"
        )
        self.busy = tuple(busy)


class AgentExited(SupervisorError):
    """An agent that should be running has exited; the message ends with its log's tail."""

    def __init__(self, agent: AgentProcess, doing: str) -> None:
        super().__init__(
            f"{agent.name} exited {doing} ({agent.exit_description()}); the end of "
            f"{agent.log_path}:\n{agent.log_tail(20, '    | ')}"
        )
        self.agent = agent


class NotReady(SupervisorError):
    """A wait ran past its deadline; the message says what it last saw."""


# ---- what to run --------------------------------------------------------------------------------


class Transport(enum.Enum):
    TCP = socket.SOCK_STREAM
    UDP = socket.SOCK_DGRAM


@dataclass(frozen=True)
class Ports:
    """The ports an agent listens on, all on its own address."""

    http: int = HTTP_PORT
    rpc: int = RPC_PORT
    serf: int | None = SERF_PORT
    """None for a client-only agent: it joins no gossip pool and binds no serf port."""

    def listeners(self) -> tuple[tuple[int, Transport], ...]:
        """Every (port, transport) the agent binds; serf (memberlist) binds TCP and UDP."""
        out = [(self.http, Transport.TCP), (self.rpc, Transport.TCP)]
        if self.serf is not None:
            out += [(self.serf, Transport.TCP), (self.serf, Transport.UDP)]
        return tuple(out)


class Binds(Protocol):
    """Anything naming an agent, its address and its ports (a `ChildSpec`, a topology entry):
    enough to check the ports before there is a command line to run."""

    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def ports(self) -> Ports: ...


@dataclass(frozen=True)
class ChildSpec:
    """One agent to run: `gossip-agent <argv>` listening on `address`."""

    name: str
    """The handle's name in its `Supervisor` and the log's (`<name>.log`); usually the node's."""
    address: str
    """The bind IP (one loopback address per agent, as each would have its own host)."""
    argv: tuple[str, ...]
    """What follows `gossip-agent`, e.g. `("agent", "-dev", "-bind", address)`; the
    supervisor adds nothing, so the argv alone says what runs (and can be shown to a user)."""
    ports: Ports = Ports()
    data_dir: Path | None = None
    """Created before the first start; the argv must name it (`-data-dir`) to be used. Kept
    across restarts, which is what lets an agent come back with its state."""
    program: tuple[str, ...] | None = None
    """What runs the argv. None: `gossip-agent` from this checkout (`python -P -m agent`),
    which is the point of the supervisor; another program only to test the supervisor with
    a trivial child, or to put a wrapper (`strace`, `timeout`) in front of the agent."""


@dataclass(frozen=True)
class BusyPort:
    name: str
    address: str
    port: int
    transport: Transport
    reason: str

    @property
    def where(self) -> str:
        return f"{self.address}:{self.port}/{self.transport.name.lower()}"

    def __str__(self) -> str:
        return f"{self.where} for {self.name} ({self.reason})"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Run:
    """One process of an agent: what it ran and how it ended (None while it runs)."""

    argv: tuple[str, ...]
    pid: int
    returncode: int | None = None


@dataclass(frozen=True)
class Stopped:
    """How `Supervisor.stop` went: who had to be SIGKILLed, and whether a caller gave up."""

    killed: tuple[str, ...]
    """Agents still running when the grace ended, then SIGKILLed."""
    abandoned: bool
    """The grace was cut short by `abandon()` rather than by the deadline."""


# ---- ports --------------------------------------------------------------------------------------


def can_bind(address: str) -> bool:
    """`address` exists on this machine (127.0.0.x beyond .1 needs an alias on macOS)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def busy_ports(agents: Iterable[Binds]) -> list[BusyPort]:
    """The agents' ports something already holds. Probed with SO_REUSEADDR, as the agent
    binds them, so sockets of a previous run in TIME_WAIT do not count.

    Raises:
        AddressUnavailable: an address does not exist here at all.
    """
    agents = list(agents)
    for agent in agents:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((agent.address, 0))
        except OSError as exc:
            raise AddressUnavailable(agent.address, exc.strerror or str(exc)) from None
    busy = []
    for agent in agents:
        for port, transport in agent.ports.listeners():
            with socket.socket(socket.AF_INET, transport.value) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((agent.address, port))
                except OSError as exc:
                    reason = exc.strerror or str(exc)
                    busy.append(BusyPort(agent.name, agent.address, port, transport, reason))
    return busy


def check_ports(agents: Iterable[Binds]) -> None:
    """Every agent's address exists and its ports are free.

    Raises:
        AddressUnavailable: an address does not exist here.
        PortsInUse: naming every busy port.
    """
    if busy := busy_ports(agents):
        raise PortsInUse(busy)


def wait_ports_free(agents: Iterable[Binds], timeout: float) -> float:
    """Wait up to `timeout` s for the agents' ports (agents of a previous run may still be
    exiting); the seconds waited.

    Raises:
        AddressUnavailable: at once, as no wait brings an address.
        PortsInUse: after `timeout`.
    """
    agents = list(agents)
    start = time.monotonic()
    while busy := busy_ports(agents):
        if time.monotonic() - start >= timeout:
            raise PortsInUse(busy)
        time.sleep(POLL)
    return time.monotonic() - start


# ---- one agent ----------------------------------------------------------------------------------

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def _agent_command() -> tuple[tuple[str, ...], dict[str, str]]:
    """How to run `gossip-agent` with the very code this process runs: `python -P -m agent`
    with this package's parent directory first on PYTHONPATH (`-P`: not the cwd's `agent`,
    and not an installed copy either). The caller's GOSSIP_AGENT_* settings, NOMAD_* and
    proxy variables stay out: the argv alone decides what the agent does."""
    root = str(Path(__file__).resolve().parents[2])
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GOSSIP_AGENT_", "NOMAD_")) and not key.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return (sys.executable, "-P", "-m", "agent"), env


class AgentProcess:
    """One agent and its current process: a handle that outlives restarts.

    Every stop (`kill`, `terminate`, `interrupt`, `leave`, `stop`) waits for the exit and
    returns the exit status (negative: killed by that signal), SIGKILLing after its timeout;
    it also tells the supervisor the agent is meant to be down, so `check_running` does not
    report it as a crash.
    """

    def __init__(
        self, spec: ChildSpec, log_path: Path, *, death_signal: int, run_banners: bool
    ) -> None:
        self.spec = spec
        self.log_path = log_path
        self.argv: tuple[str, ...] = spec.argv
        """The current (or next) run's argv: the spec's, or the last one `start` was given."""
        self.runs: list[Run] = []
        """Every run so far, the current one last."""
        self.expected_running = False
        """Started and not deliberately stopped since: an exit now is a crash."""
        self._death_signal = death_signal
        self._run_banners = run_banners
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<AgentProcess {self.name} {self.address} pid={self.pid} running={self.running}>"

    # ---- identity ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        """The bind IP."""
        return self.spec.address

    @property
    def http(self) -> str:
        """Base URL of the HTTP API, e.g. `http://127.0.0.11:4646`."""
        return f"http://{self.address}:{self.spec.ports.http}"

    @property
    def rpc(self) -> str:
        """`ip:port` of the RPC listener, as raft and `-servers` name a server."""
        return f"{self.address}:{self.spec.ports.rpc}"

    @property
    def pid(self) -> int | None:
        """The current (or last) process's PID, also its process group; None before a start."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            self._note_exit()
            return False
        return True

    @property
    def returncode(self) -> int | None:
        """The last run's exit status; None while it runs or before a start."""
        return None if self._proc is None else self._proc.poll()

    def command_line(self) -> str:
        """The current argv as a shell command a user could paste (`gossip-agent ...`)."""
        return shlex.join([*(self.spec.program or ("gossip-agent",)), *self.argv])

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, argv: Sequence[str] | None = None) -> None:
        """Start a new process: with `argv` (which becomes the agent's argv from now on), or
        the last one. Returns at once; `wait_http`/`wait_healthy` wait for it.

        Raises:
            SupervisorError: it is already running.
        """
        if self.running:
            raise SupervisorError(f"{self.name} is already running (pid {self.pid})")
        if argv is not None:
            self.argv = tuple(argv)
        if self.spec.data_dir is not None:
            self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command, env = _agent_command()
        if self.spec.program is not None:
            command = self.spec.program
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            if self._run_banners:
                log.write(f"\n===== start: {self.command_line()} =====\n".encode())
                log.flush()
            self._proc = spawn(
                [*command, *self.argv], log, env=env, death_signal=self._death_signal
            )
        self.runs.append(Run(self.argv, self._proc.pid))
        self.expected_running = True

    def restart(
        self, argv: Sequence[str] | None = None, *, sig: int = signal.SIGTERM
    ) -> int | None:
        """Stop the agent with `sig` if it runs, then start it again on the same data dir,
        with `argv` or the same one; the old process's exit status (None if none ran)."""
        code = self.stop(sig) if self.running else self.returncode
        self.start(argv)
        return code

    def send_signal(self, sig: int) -> None:
        """Send `sig` to the agent's process group without waiting (no-op once it exited)."""
        if self._proc is not None:
            signal_group(self._proc, sig)

    def wait(self, timeout: float) -> int | None:
        """Wait up to `timeout` s for the process to exit; its status, None if still running."""
        if self._proc is None:
            return None
        deadline = time.monotonic() + timeout
        while self._proc.poll() is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
        self._note_exit()
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Send `sig`, wait up to `timeout` s, then SIGKILL; the exit status (None if the
        agent never started)."""
        self.expected_running = False
        if self._proc is None:
            return None
        self.send_signal(sig)
        code = self.wait(timeout)
        if code is None:
            self.send_signal(signal.SIGKILL)
            code = self.wait(STOP_TIMEOUT)
        return code

    def kill(self) -> int | None:
        """`kill -9`: a crash, as `docker compose kill`; no leave, no shutdown."""
        return self.stop(signal.SIGKILL)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM: Nomad shuts down, leaving the cluster only with `leave_on_terminate`."""
        return self.stop(signal.SIGTERM, timeout)

    def interrupt(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGINT (Ctrl-C): Nomad shuts down, leaving the cluster only with
        `leave_on_interrupt`."""
        return self.stop(signal.SIGINT, timeout)

    def leave(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """A graceful leave: SIGINT to a server that leaves on interrupt, as Nomad's agents
        leave (its HTTP API has no leave). Checked first on `/v1/agent/self`, so a test
        that means a leave never gets a plain shutdown that looks like a crash to the others.

        Raises:
            SupervisorError: the agent is not running, cannot tell, or would not leave (not
                a server, or no `leave_on_interrupt = true` in a `-config` file).
        """
        answer = self.get("/v1/agent/self")
        if answer is None or not answer.ok:
            raise SupervisorError(
                f"{self.name}: cannot read /v1/agent/self to leave ({_describe(answer)})"
            )
        config = json.loads(answer.body)["config"]
        if not (config["Server"]["Enabled"] and config["LeaveOnInt"]):
            raise SupervisorError(
                f"{self.name} would not leave on SIGINT: only servers leave, and only with "
                "leave_on_interrupt = true in a -config file; interrupt() just stops it"
            )
        return self.interrupt(timeout)

    def _note_exit(self) -> None:
        if self._proc is not None and self.runs and self.runs[-1].returncode is None:
            self.runs[-1].returncode = self._proc.poll()

    def exit_description(self) -> str:
        """`running`, `exit status 1` or `killed by SIGKILL`."""
        code = self.returncode
        if code is None:
            return "running" if self._proc is not None else "never started"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    # ---- HTTP -------------------------------------------------------------------------------

    def get(self, path: str, timeout: float = _HTTP_TIMEOUT) -> HttpAnswer | None:
        """GET `path` from the agent's HTTP API; None if nothing answered (not listening yet,
        gone, or too slow)."""
        try:
            with _OPENER.open(self.http + path, timeout=timeout) as response:
                return HttpAnswer(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return HttpAnswer(exc.code, exc.read().decode(errors="replace"))
        except (OSError, ValueError):
            return None

    def health(self, timeout: float = _HTTP_TIMEOUT) -> HttpAnswer | None:
        """`/v1/agent/health`: 200 once a server knows its leader and a client its servers."""
        return self.get("/v1/agent/health", timeout)

    def wait_http(self, timeout: float = HEALTH_TIMEOUT) -> None:
        """Until the HTTP API answers at all (any status: the agent is up, maybe not healthy).

        Raises:
            AgentExited: the agent exited first.
            NotReady: no answer within `timeout` s.
        """
        _wait_all([self], _answers, "answering HTTP", timeout)

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> None:
        """Until `/v1/agent/health` answers 200.

        Raises:
            AgentExited: the agent exited first.
            NotReady: not healthy within `timeout` s; the last answer is in the message.
        """
        _wait_all([self], _healthy, "healthy", timeout)

    # ---- log --------------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything the agent wrote, every run; `(no log)` before the first."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def log_tail(self, lines: int = 15, prefix: str = "") -> str:
        return log_tail(self.log_path, lines, prefix)


def _describe(answer: HttpAnswer | None) -> str:
    return (
        "no answer" if answer is None else f"{answer.status} {' '.join(answer.body.split())[:120]}"
    )


def _answers(answer: HttpAnswer | None) -> bool:
    return answer is not None


def _healthy(answer: HttpAnswer | None) -> bool:
    return answer is not None and answer.ok


def _wait_all(
    agents: Sequence[AgentProcess],
    done: Callable[[HttpAnswer | None], bool],
    what: str,
    timeout: float,
) -> None:
    """Poll every agent not yet `done` (on its health answer) each round until all are."""
    deadline = time.monotonic() + timeout
    pending = list(agents)
    last: dict[str, HttpAnswer | None] = {}
    while pending:
        for agent in pending:
            if not agent.running:
                raise AgentExited(agent, f"before it was {what}")
            last[agent.name] = agent.health()
        pending = [a for a in pending if not done(last[a.name])]
        if not pending:
            return
        if time.monotonic() >= deadline:
            seen = "; ".join(f"{a.name}: {_describe(last[a.name])}" for a in pending)
            raise NotReady(f"not {what} after {timeout:.0f} s: {seen}")
        time.sleep(POLL)


# ---- a group of agents --------------------------------------------------------------------------


class Supervisor:
    """The agents one caller runs: started, looked up by name, waited for, torn down.

    A context manager: leaving the block, by an exception or a Ctrl-C too, SIGKILLs every
    agent. Children still running when the interpreter exits are SIGKILLed (`atexit`), and on
    Linux the kernel sends `death_signal` to each if this process dies without either.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        death_signal: int = signal.SIGKILL,
        run_banners: bool = True,
    ) -> None:
        """`log_dir` gets `<name>.log` per agent, appended to across restarts; with
        `run_banners` each run starts with a `===== start: <command> =====` line there."""
        self.log_dir = log_dir
        self.death_signal = death_signal
        self.run_banners = run_banners
        self._agents: dict[str, AgentProcess] = {}

    # ---- the agents -------------------------------------------------------------------------

    def add(self, spec: ChildSpec) -> AgentProcess:
        """A handle for `spec`, not started (`start` adds and starts in one go)."""
        if spec.name in self._agents:
            raise SupervisorError(f"there is already an agent named {spec.name}")
        agent = AgentProcess(
            spec,
            self.log_dir / f"{spec.name}.log",
            death_signal=self.death_signal,
            run_banners=self.run_banners,
        )
        self._agents[spec.name] = agent
        return agent

    def start(self, *specs: ChildSpec, ports_free_within: float = 0.0) -> list[AgentProcess]:
        """Check every spec's address and ports, then start them all (without waiting).

        `ports_free_within` s are allowed for the ports to be freed (a previous run's agents
        still exiting); by default they must be free now.

        Raises:
            AddressUnavailable, PortsInUse: nothing was started.
        """
        wait_ports_free(specs, ports_free_within)
        agents = [self.add(spec) for spec in specs]
        for agent in agents:
            agent.start()
        return agents

    def __getitem__(self, name: str) -> AgentProcess:
        return self._agents[name]

    def __iter__(self) -> Iterator[AgentProcess]:
        return iter(list(self._agents.values()))

    def __len__(self) -> int:
        return len(self._agents)

    @property
    def agents(self) -> tuple[AgentProcess, ...]:
        return tuple(self._agents.values())

    def _pick(self, agents: Iterable[AgentProcess | str] | None) -> list[AgentProcess]:
        if agents is None:
            return [a for a in self._agents.values() if a.expected_running]
        return [self._agents[a] if isinstance(a, str) else a for a in agents]

    # ---- waiting ----------------------------------------------------------------------------

    def check_running(self) -> None:
        """Raises `AgentExited` for the first agent that should run and does not."""
        for agent in self._agents.values():
            if agent.expected_running and not agent.running:
                raise AgentExited(agent, "unexpectedly")

    def wait_http(
        self, agents: Iterable[AgentProcess | str] | None = None, timeout: float = HEALTH_TIMEOUT
    ) -> None:
        """`AgentProcess.wait_http` for `agents` (default: every one meant to be running),
        polled together against one deadline."""
        _wait_all(self._pick(agents), _answers, "answering HTTP", timeout)

    def wait_healthy(
        self, agents: Iterable[AgentProcess | str] | None = None, timeout: float = HEALTH_TIMEOUT
    ) -> None:
        """`AgentProcess.wait_healthy` for `agents` (default: every one meant to be running),
        polled together against one deadline."""
        _wait_all(self._pick(agents), _healthy, "healthy", timeout)

    def eventually(
        self,
        check: Callable[[], T],
        what: str,
        timeout: float,
        *,
        show: Callable[[], object] | None = None,
        retry_on: tuple[type[BaseException], ...] = (OSError, AssertionError, KeyError, ValueError),
        poll: float = 0.25,
    ) -> T:
        """Poll `check` until it returns something truthy (returned) or `timeout` s pass.

        An exception in `retry_on` counts as "not yet" (an agent may still be starting); the
        last one, or the last value of `show()`, is in the failure message. An agent that
        should be running and exited fails the wait at once (`AgentExited`).

        Raises:
            NotReady: the deadline passed.
        """
        end = time.monotonic() + timeout
        last: object = None
        while True:
            self.check_running()
            try:
                result = check()
            except retry_on as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if result:
                    return result
                last = result
            if show is not None:
                with contextlib.suppress(Exception):
                    last = show()
            if time.monotonic() >= end:
                seen = last if isinstance(last, str) else json.dumps(last, default=str)
                raise NotReady(
                    f"timed out after {timeout:.0f} s waiting for {what}; last seen: {seen}"
                )
            time.sleep(poll)

    def always(self, check: Callable[[], None], duration: float, every: float = 0.5) -> int:
        """`check` (which raises to fail) holds at every poll for `duration` s, and every
        agent meant to run keeps running; the number of polls."""
        end = time.monotonic() + duration
        polls = 0
        while True:
            self.check_running()
            check()
            polls += 1
            if time.monotonic() >= end:
                return polls
            time.sleep(every)

    # ---- teardown ---------------------------------------------------------------------------

    def stop(
        self,
        sig: int = signal.SIGTERM,
        grace: float = 10.0,
        *,
        abandon: Callable[[], bool] | None = None,
    ) -> Stopped:
        """Send `sig` to every running agent at once, wait up to `grace` s for all of them
        (less if `abandon()` turns true, e.g. on a user's second Ctrl-C), SIGKILL the rest."""
        living = [a for a in self._agents.values() if a.running]
        for agent in self._agents.values():
            agent.expected_running = False
        for agent in living:
            agent.send_signal(sig)
        deadline = time.monotonic() + grace
        abandoned = False
        while any(a.running for a in living) and time.monotonic() < deadline:
            if abandon is not None and abandon():
                abandoned = True
                break
            time.sleep(0.05)
        late = [a for a in living if a.running]
        for agent in late:
            agent.kill()
        return Stopped(tuple(a.name for a in late), abandoned)

    def close(self) -> None:
        """SIGKILL every agent still running and reap it. Idempotent."""
        for agent in self._agents.values():
            agent.send_signal(signal.SIGKILL)
        for agent in self._agents.values():
            agent.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def report(self) -> str:
        """Every agent's runs (exit statuses) and whole log, for a failed test's output."""
        parts = []
        for agent in self._agents.values():
            agent.running  # noqa: B018 - records an exit that nobody has looked at yet
            runs = "; ".join(
                f"run {i}: pid {run.pid}, "
                + ("running" if run.returncode is None else f"exit {run.returncode}")
                for i, run in enumerate(agent.runs, 1)
            )
            parts.append(f"===== {agent.name} ({agent.address}) {runs} =====\n{agent.log_text()}")
        return "\n".join(parts)
