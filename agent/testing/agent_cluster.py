"""AgentCluster: real `gossip-agent` processes on loopback, for the `agent_cluster` fixture.

Built on `agent.processes.supervisor` (this checkout's code in each child, logs per agent,
port checks, SIGKILL of every child at teardown and, on Linux, when the test process dies).
What this adds is a cluster shape and handles a test reads like prose: servers `s1..sN`
(`-bootstrap-expect N`, each `-retry-join`ing the others every 0.5 s) and clients `c1..cM`
(`-servers` naming every server's RPC address), on consecutive addresses from `bind_base`,
each with Nomad's ports; `start()` returns once every agent is healthy and every server sees
every server alive.

Partitions use the agents' own fault injection (`-enable-fault-injection`, so no root and no
iptables): `partition(a, b)` has every agent drop all traffic, both ways, to and from the serf
and RPC addresses of every agent outside its group; `heal()` clears every fault.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent.launch.sim_http import nth_address
from agent.processes.supervisor import (
    HEALTH_TIMEOUT,
    RPC_PORT,
    SERF_PORT,
    AgentProcess,
    ChildSpec,
    Ports,
    Supervisor,
    SupervisorError,
)
from agent.testing.loopback import DEFAULT_BIND_BASE
from agent.testing.shapes import NOMAD_REGION, ClusterShape

if TYPE_CHECKING:
    import nomad

RETRY_INTERVAL = "0.5s"
"""How often a server retries its joins while the others start: short, for a quick start."""
_HTTP_TIMEOUT = 10.0
T = TypeVar("T")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FaultInjectionOff(SupervisorError):
    """partition()/heal() on a cluster started without fault injection."""


@dataclass(frozen=True, slots=True)
class FaultRequest:
    """One `POST /v1/agent/fault/...` to one agent."""

    agent: str
    path: str
    query: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        """Path and query, as sent."""
        return self.path + ("?" + urllib.parse.urlencode(self.query) if self.query else "")


def partition_requests(
    groups: Sequence[Sequence[str]], peers: dict[str, tuple[str, ...]]
) -> list[FaultRequest]:
    """The drops that split `groups` apart: every agent of a group drops both directions of
    every address (`ip:port`, serf and RPC) of every agent in another group. Agents in no
    group keep talking to everyone.

    Raises:
        ValueError: an unknown name, or one listed in two groups.
    """
    group_of: dict[str, int] = {}
    for index, group in enumerate(groups):
        for name in group:
            if name not in peers:
                raise ValueError(f"no agent named {name!r}")
            if group_of.setdefault(name, index) != index:
                raise ValueError(f"{name} is listed in two partition groups")
    requests = []
    for name, mine in group_of.items():
        for other, theirs in group_of.items():
            if theirs == mine:
                continue
            for address in peers[other]:
                query = (("peer", address), ("direction", "both"), ("rate", "1"))
                requests.append(FaultRequest(name, "/v1/agent/fault/drop", query))
    return requests


class AgentHandle:
    """One agent of an `AgentCluster`: where it listens, and what a test does to it."""

    def __init__(self, process: AgentProcess, *, server: bool) -> None:
        self.process = process
        self.server = server

    def __repr__(self) -> str:
        return f"<AgentHandle {self.name} {self.address} running={self.running}>"

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def member_name(self) -> str:
        """The serf member name (`<node>.<region>`) of a server."""
        return f"{self.name}.{NOMAD_REGION}"

    @property
    def address(self) -> str:
        """The agent's IP (every listener binds it)."""
        return self.process.address

    @property
    def http(self) -> str:
        """Base URL of the Nomad HTTP API, e.g. `http://127.0.0.160:4646`."""
        return self.process.http

    @property
    def rpc(self) -> str:
        return f"{self.address}:{RPC_PORT}"

    @property
    def serf(self) -> str | None:
        """`ip:port` of serf (servers only: clients do not gossip)."""
        return f"{self.address}:{SERF_PORT}" if self.server else None

    @property
    def peer_addresses(self) -> tuple[str, ...]:
        """The addresses others' fault rules name this agent by."""
        return tuple(a for a in (self.serf, self.rpc) if a is not None)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def nomad(self) -> nomad.Nomad:
        """A python-nomad client on this agent (`pip install python-nomad`)."""
        import nomad

        return nomad.Nomad(host=self.address, port=4646, timeout=_HTTP_TIMEOUT)

    def kill(self) -> int | None:
        """`kill -9`: a crash, no leave. Returns the exit status."""
        return self.process.kill()

    def terminate(self) -> int | None:
        """SIGTERM: stops without leaving (Nomad's default), which peers see as a crash."""
        return self.process.terminate()

    def leave(self) -> int | None:
        """A graceful leave (SIGINT to a server started with `leave_on_interrupt`)."""
        return self.process.leave()

    def restart(self, *, wait: bool = True, timeout: float = HEALTH_TIMEOUT) -> None:
        """Stop it if it runs (SIGTERM), start it again on the same data dir; by default
        wait until it is healthy."""
        self.process.restart()
        if wait:
            self.process.wait_healthy(timeout)

    def get(self, path: str) -> Any:
        """GET `path` of the HTTP API, decoded from JSON.

        Raises:
            urllib.error.URLError: no answer, or an error status.
        """
        with _NO_PROXY.open(self.http + path, timeout=_HTTP_TIMEOUT) as response:
            return json.loads(response.read())

    def post(self, target: str) -> Any:
        """POST to `target` (a path and query) of the HTTP API; the decoded answer."""
        request = urllib.request.Request(self.http + target, data=b"", method="POST")
        with _NO_PROXY.open(request, timeout=_HTTP_TIMEOUT) as response:
            body = response.read()
        return json.loads(body) if body.strip() else None

    def faults(self) -> list[dict[str, Any]]:
        """The faults this agent applies now (`GET /v1/agent/fault`; needs fault injection)."""
        listing: list[dict[str, Any]] = self.get("/v1/agent/fault")
        return listing

    def statuses(self) -> dict[str, str]:
        """{member: status} from this agent's `/v1/agent/members`."""
        return {m["Name"]: m["Status"] for m in self.get("/v1/agent/members")["Members"]}

    def log_text(self) -> str:
        return self.process.log_text()

    @property
    def log_path(self) -> Path:
        return self.process.log_path


class AgentCluster:
    """Servers s1..sN and clients c1..cM as real processes (see the module docstring)."""

    def __init__(
        self,
        workdir: Path,
        *,
        servers: int = 3,
        clients: int = 0,
        bind_base: str = DEFAULT_BIND_BASE,
        profile: str = "local",
        fault_injection: bool = False,
        extra_args: Sequence[str] = (),
        health_timeout: float = HEALTH_TIMEOUT,
    ) -> None:
        self.shape = ClusterShape(servers=servers, clients=clients)
        if servers == 0:
            raise ValueError("agent_cluster needs at least one server (clients register with one)")
        self.workdir = workdir
        self.fault_injection = fault_injection
        self.health_timeout = health_timeout
        self.supervisor = Supervisor(workdir / "logs")
        names = [*self.shape.server_names, *self.shape.client_names]
        self._addresses = {name: nth_address(bind_base, k) for k, name in enumerate(names)}
        self._specs = [self._spec(name, profile, extra_args) for name in names]
        self.handles: dict[str, AgentHandle] = {}

    def _spec(self, name: str, profile: str, extra: Sequence[str]) -> ChildSpec:
        address = self._addresses[name]
        data_dir = self.workdir / name
        argv = ["agent", "-node", name, "-bind", address, "-data-dir", str(data_dir)]
        servers = self.shape.server_names
        if name in servers:
            config = self.workdir / f"{name}.json"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(json.dumps({"leave_on_interrupt": True}))
            argv += ["-server", "-bootstrap-expect", str(len(servers))]
            argv += ["-gossip-profile", profile, "-config", str(config)]
            for peer in servers:
                if peer != name:
                    argv += ["-retry-join", f"{self._addresses[peer]}:{SERF_PORT}"]
            argv += ["-retry-interval", RETRY_INTERVAL]
            ports = Ports()
        else:
            rpc = ",".join(f"{self._addresses[s]}:{RPC_PORT}" for s in servers)
            argv += ["-client", "-servers", rpc]
            ports = Ports(serf=None)
        if self.fault_injection:
            argv.append("-enable-fault-injection")
        argv += list(extra)
        return ChildSpec(name, address, tuple(argv), ports=ports, data_dir=data_dir)

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, ports_free_within: float = 10.0) -> None:
        """Start every agent and wait until all are healthy and every server sees every
        server alive.

        Raises:
            AddressUnavailable, PortsInUse: nothing was started.
            AgentExited, NotReady: an agent died or the cluster did not settle in time.
        """
        processes = self.supervisor.start(*self._specs, ports_free_within=ports_free_within)
        servers = set(self.shape.server_names)
        for process in processes:
            self.handles[process.name] = AgentHandle(process, server=process.name in servers)
        self.supervisor.wait_healthy(timeout=self.health_timeout)
        self.wait_members_alive()

    def wait_members_alive(self, timeout: float | None = None) -> None:
        """Until every running server lists every running server alive."""
        running = [h for h in self.servers if h.running]
        wanted = {h.member_name for h in running}

        def settled() -> bool:
            for handle in running:
                statuses = handle.statuses()
                if any(statuses.get(member) != "alive" for member in wanted):
                    return False
            return True

        self.supervisor.eventually(
            settled, "every server alive to every server", timeout or self.health_timeout
        )

    def wait_until(
        self, check: Callable[[], T], timeout: float = 30.0, what: str = "the condition"
    ) -> T:
        """Poll `check()` until it is truthy, and return that value; HTTP errors and failed
        assertions inside it count as "not yet". Fails at once if an agent meant to run has
        exited.

        Raises:
            NotReady: not within `timeout` s (the message has the last thing seen).
            AgentExited: an agent died.
        """
        return self.supervisor.eventually(check, what, timeout)

    def close(self) -> None:
        """SIGKILL and reap every agent; idempotent."""
        self.supervisor.close()

    def __enter__(self) -> AgentCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- handles ------------------------------------------------------------------------

    def __getitem__(self, name: str) -> AgentHandle:
        return self.handles[name]

    def __iter__(self) -> Iterator[AgentHandle]:
        return iter(list(self.handles.values()))

    @property
    def servers(self) -> list[AgentHandle]:
        return [self.handles[n] for n in self.shape.server_names if n in self.handles]

    @property
    def clients(self) -> list[AgentHandle]:
        return [self.handles[n] for n in self.shape.client_names if n in self.handles]

    def pids(self) -> list[int]:
        """Every process id any agent has had (restarts included)."""
        return [run.pid for agent in self.supervisor for run in agent.runs]

    def logs(self) -> list[tuple[str, Path]]:
        """(agent, log file) for every agent: the failure report attaches their tails."""
        return [(spec.name, self.supervisor.log_dir / f"{spec.name}.log") for spec in self._specs]

    # ---- network faults (the agents' fault injection) -----------------------------------

    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every agent of a group off from every agent of the other groups, both ways.

        Raises:
            FaultInjectionOff: the cluster was not started with `fault_injection=True`.
            ValueError: an unknown or stopped agent is named (nothing is applied).
        """
        self._need_faults("partition")
        named = [list(group) for group in groups]
        peers = {name: handle.peer_addresses for name, handle in self.handles.items()}
        requests = partition_requests(named, peers)
        stopped = sorted({r.agent for r in requests if not self.handles[r.agent].running})
        if stopped:  # checked first: a partition is set whole or not at all
            raise ValueError(f"cannot partition: {', '.join(stopped)} not running")
        for request in requests:
            self.handles[request.agent].post(request.target)

    def heal(self) -> None:
        """Clear every fault on every running agent."""
        self._need_faults("heal")
        for handle in self.handles.values():
            if handle.running:
                handle.post("/v1/agent/fault/clear")

    def _need_faults(self, what: str) -> None:
        if not self.fault_injection:
            raise FaultInjectionOff(
                f"{what}() needs agents started with -enable-fault-injection: "
                "agent_cluster(..., fault_injection=True)"
            )
