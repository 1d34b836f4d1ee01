"""SimAgentsCluster: real agents on the simulator, each answering Nomad's HTTP API on loopback.

What the `sim_agents` fixture hands a test. It wires the existing pieces together rather than
adding any: `SimAgents` (real `Agent`s on one simulated network, stepped virtual time),
`SimAgentsHttp` (node k's API on the k-th loopback address from `bind_base`, port 4646) and
`LoopThread` (the agents' event loop on a thread of its own, so a blocking client such as
python-nomad can call them from the test's thread). Every method here is synchronous and
carries its work over to that loop.

Virtual time moves only when the test runs it (`run`, `run_until`) or while a command waits
for its outcome (a join, a force-leave, through this handle or through HTTP); an HTTP answer
shows the state at that virtual moment. A killed agent's address answers 503 (the one shared
server cannot refuse connections for one address alone); `restart` brings the API back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.types import Receive, Scope, Send

from agent.agent import Agent
from agent.launch.loop_thread import LoopThread
from agent.launch.sim_http import HttpAddress, SimAgentsHttp
from agent.launch.simulated import SimAgents
from agent.testing.loopback import DEFAULT_BIND_BASE
from agent.testing.shapes import NOMAD_REGION, ClusterShape

if TYPE_CHECKING:
    import nomad

T = TypeVar("T")

SETTLE_TIMEOUT = 120.0
"""Virtual seconds the start may take: serf joins, raft bootstrap, an election, clients
registering (seconds of virtual time; the bound only turns a bug into an error)."""


class SimAgentsError(RuntimeError):
    """The simulated cluster could not do what was asked; the message says what it saw."""


async def _agent_down(scope: Scope, receive: Receive, send: Send) -> None:
    """What a killed agent's address answers: 503, plain text, as no real agent would."""
    if scope["type"] != "http":
        return
    body = b"agent is down (killed in the simulation)"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SimAgentsCluster:
    """Servers s1..sN and clients c1..cM as real agents on one simulated network.

    Servers have `bootstrap_expect` N and join s1; clients name every server's RPC address.
    With `converged=True` it returns once every server names one leader and sees every
    server alive and every client is registered; with `converged=False` right after the
    joins, before any election. Use it from the test's thread; `call` runs anything else on
    the agents' loop.
    """

    def __init__(
        self,
        *,
        seed: int,
        servers: int = 3,
        clients: int = 0,
        bind_base: str = DEFAULT_BIND_BASE,
        profile: str = "local",
        converged: bool = True,
        **settings: Any,
    ) -> None:
        self.shape = ClusterShape(servers=servers, clients=clients)
        if servers == 0:
            raise ValueError("sim_agents needs at least one server (clients register with one)")
        self.seed = seed
        self.thread = LoopThread(name="sim-agents")
        self.world = SimAgents(seed=seed)
        self.served = SimAgentsHttp(self.world, bind_base=bind_base)
        self._profile = profile
        self._settings = settings
        self._down: set[str] = set()
        try:
            self.thread.call(lambda: self._build(converged))
        except BaseException:
            self.close()
            raise

    # ---- building -----------------------------------------------------------------------

    async def _build(self, converged: bool) -> None:
        world, shape = self.world, self.shape
        expect = len(shape.server_names)
        for name in shape.server_names:
            await world.add(
                name,
                server={"enabled": True, "bootstrap_expect": expect},
                gossip_profile=self._profile,
                **self._settings,
            )
        seed = str(world.serf_addr(shape.server_names[0]))
        for name in shape.server_names[1:]:
            await world.agents[name].join([seed])
        rpc = [world.agents[n].listeners.rpc.advertise for n in shape.server_names]
        for name in shape.client_names:
            await world.add(name, client={"enabled": True, "servers": rpc}, **self._settings)
        for name in self.names:
            self.served.serve(name)
        await self.served.start()
        if converged and not world.run_until(self._settled, SETTLE_TIMEOUT):
            raise SimAgentsError(
                f"no settled cluster after {SETTLE_TIMEOUT} virtual s (seed {self.seed})"
            )

    def _settled(self) -> bool:
        """One leader every server names, every server alive to every server, clients
        registered."""
        agents = self.world.agents
        servers = [agents[n].server for n in self.shape.server_names]
        if any(s is None for s in servers):
            return False
        leaders = {s.raft.leader() for s in servers if s is not None}
        if len(leaders) != 1 or None in leaders:
            return False
        everyone = {self.member_name(n) for n in self.shape.server_names}
        for server in servers:
            assert server is not None
            alive = {m.name for m in server.members() if m.status == "alive"}
            if not everyone <= alive:
                return False
        clients = [agents[n].client for n in self.shape.client_names]
        return all(c is not None and c.rpc.registered for c in clients)

    # ---- identity -----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Servers, then clients, in the order their addresses were handed out."""
        return [*self.shape.server_names, *self.shape.client_names]

    def member_name(self, name: str) -> str:
        """The serf member name of server `name` (`<node>.<region>`, as Nomad names it)."""
        return name if "." in name else f"{name}.{NOMAD_REGION}"

    def address(self, name: str) -> HttpAddress:
        return self.served.addresses[name]

    def http(self, name: str) -> str:
        """Base URL of `name`'s Nomad HTTP API, e.g. `http://127.0.0.160:4646`."""
        return self.served.addresses[name].url

    def nomad(self, name: str, **kwargs: Any) -> nomad.Nomad:
        """A python-nomad client on `name`'s API (`pip install python-nomad`)."""
        import nomad

        address = self.served.addresses[name]
        return nomad.Nomad(host=address.host, port=address.port, timeout=10, **kwargs)

    def agent(self, name: str) -> Agent:
        """The `Agent` object itself; read it only through `call` (it lives on the loop)."""
        return self.world.agents[name]

    # ---- running on the agents' loop ---------------------------------------------------

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.thread.loop
        except RuntimeError:
            return False

    def _read(self, work: Callable[[], T]) -> T:
        """`work()` on the agents' loop: directly when already there (a `run_until`
        predicate that reads `statuses`), else carried over from the test's thread."""
        return work() if self._on_loop() else self.thread.call_soon(work)

    # ---- time ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Virtual seconds since the world began."""
        return self._read(lambda: self.world.now)

    def run(self, seconds: float) -> None:
        """Advance virtual time by `seconds`."""
        self.thread.call_soon(lambda: self.world.run(seconds))

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run virtual time until `predicate()` holds (True) or `timeout` virtual seconds
        pass (False). The predicate runs on the agents' loop: it may read `statuses`,
        `leader`, `now` or `agent(name)`, but must not block (no HTTP calls in it)."""
        return self.thread.call_soon(lambda: self.world.run_until(predicate, timeout))

    def call(self, work: Callable[[], T]) -> T:
        """Run `work()` on the agents' loop and return its result."""
        return self.thread.call_soon(work)

    def call_async(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run the coroutine function `work()` on the agents' loop and return its result."""
        return self.thread.call(work)

    # ---- reads --------------------------------------------------------------------------

    def statuses(self, observer: str) -> dict[str, str]:
        """{member: status} as server `observer` sees serf (a client asks its server)."""
        return self._read(lambda: self._statuses(observer))

    def _statuses(self, observer: str) -> dict[str, str]:
        server = self.world.agents[observer].server
        if server is None:
            raise ValueError(f"{observer} is a client: it has no member list of its own")
        return {m.name: str(m.status) for m in server.members()}

    members = statuses

    def leader(self, observer: str) -> str | None:
        """The raft leader's RPC address as server `observer` knows it."""

        def read() -> str | None:
            server = self.world.agents[observer].server
            return None if server is None else server.raft.leader()

        return self._read(read)

    # ---- faults -------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """A crash: gossip and RPC go silent at once; the HTTP address answers 503."""
        address = self.served.addresses[name]

        def crash() -> None:
            self.world.crash(name)
            self.served.router.route(address.host, address.port, lambda: _agent_down)

        self.thread.call_soon(crash)
        self._down.add(name)

    def restart(self, name: str, *, rejoin: bool = True) -> None:
        """A fresh process with the same settings (a crashed or running agent); a server then
        joins the first other running server unless `rejoin=False`."""
        address = self.served.addresses[name]

        async def start() -> None:
            await self.world.restart(name)
            self.served.router.route(address.host, address.port, lambda: self.served.app_of(name))
            agent = self.world.agents[name]
            others = [n for n in self.shape.server_names if n != name and n not in self._down]
            if rejoin and agent.server is not None and others:
                await agent.join([str(self.world.serf_addr(others[0]))])

        self._down.discard(name)
        self.thread.call(start)

    def leave(self, name: str) -> None:
        """A graceful leave (peers see `left` at once), then the agent stops, as a real one
        does on SIGINT with `leave_on_interrupt`."""

        async def leave() -> None:
            await self.world.agents[name].leave()

        self.thread.call(leave)
        self.kill(name)

    def force_leave(self, observer: str, node: str, *, prune: bool = False) -> None:
        """`observer` force-leaves `node` (a short name such as `s2` or a member name)."""
        member = self.member_name(node)

        async def force() -> None:
            await self.world.agents[observer].force_leave(member, prune=prune)

        self.thread.call(force)

    def partition(self, *groups: Iterable[str], symmetric: bool = True) -> None:
        """Cut serf and RPC traffic between the groups (replacing an earlier partition);
        `symmetric=False` cuts only each group's traffic to the groups after it."""
        named = [list(group) for group in groups]
        self.thread.call_soon(
            lambda: self.world.network.partition(
                [[a for n in g for a in self.world.addresses(n)] for g in named],
                symmetric=symmetric,
            )
        )

    def heal(self) -> None:
        """Remove every partition."""
        self.thread.call_soon(self.world.network.heal)

    # ---- the end ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and stop the loop; idempotent."""
        try:
            self.thread.call(self.served.close)
        except RuntimeError:
            pass
        finally:
            self.thread.close()

    def __enter__(self) -> SimAgentsCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SimAgentsCluster(seed={self.seed}, names={self.names})"
