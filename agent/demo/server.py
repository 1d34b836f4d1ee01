"""DemoServer: one demo session served on loopback, and the command's foreground run.

The demo's own address (`-bind`:`-http-port`) answers the page, the control API and the
first server's Nomad API. With agent APIs on and at most 32 agents, each agent also answers
its own Nomad API on 127.0.0.11, .12, ... at the same port (`SimAgentsHttp`); gossip-only
nodes have no agent API, as a plain serf agent has none.
"""

from __future__ import annotations

import asyncio
import signal

from agent.demo.api import DemoAddressApp, create_demo_app
from agent.demo.publisher import UPDATES_PER_SECOND
from agent.demo.session import DemoSession
from agent.demo.settings import DemoSettings
from agent.demo.world import NodeKind
from agent.launch.sim_http import DEFAULT_BIND_BASE, MAX_SERVED_AGENTS, SimAgentsHttp


class DemoServer:
    """Build, serve and stop one demo (see the module docstring)."""

    def __init__(self, settings: DemoSettings, *, bind_base: str = DEFAULT_BIND_BASE) -> None:
        self.settings = settings
        self.bind_base = bind_base
        self.session: DemoSession | None = None
        self.url = ""

    async def start(self) -> DemoSession:
        session = await DemoSession.create(self.settings)
        self.session = session
        world = session.world
        http = SimAgentsHttp(world.agents, bind_base=self.bind_base, port=self.settings.http_port)
        session.http = http
        agents = [n for n, s in world.specs.items() if s.kind is not NodeKind.GOSSIP]
        first: str | None = None
        try:
            if self.settings.agent_apis:
                first = agents[0]
                if len(agents) <= MAX_SERVED_AGENTS:
                    for name in agents:
                        session.urls[name] = http.serve(name).url
            app = DemoAddressApp(create_demo_app(session), session, first)
            address = http.serve_app(self.settings.bind, self.settings.http_port, app)
            self.url = address.url
            session.demo_url = address.url
            await http.start()
        except BaseException:
            await http.close()
            await session.close()
            raise
        return session

    async def close(self) -> None:
        if self.session is None:
            return
        self.session.closing.set()
        await asyncio.sleep(2 / UPDATES_PER_SECOND)  # open event streams see it and end
        if self.session.http is not None:
            await self.session.http.close()
        await self.session.close()

    def banner(self) -> str:
        session = self.session
        assert session is not None
        world = session.world
        s = self.settings
        lines = [
            "==> gossip-agent demo: a simulated cluster you can watch and break",
            f"       Open: {self.url}/ui",
            f"    Control: {self.url}/v1/sim/state (described in {self.url}/openapi.json)",
            f"    Cluster: {s.servers} servers, {s.clients} clients, {s.nodes} gossip-only nodes; "
            f"seed {s.seed}, profile {s.profile.value}, speed {world.time.speed:g}x",
            f"   Scenario: {world.scenario.name if world.scenario else '(none)'}",
        ]
        if session.urls:
            lines.append("  Agent APIs: (Nomad's /v1/agent/*, each node's own view)")
            lines.extend(f"       {name}: {url}" for name, url in session.urls.items())
        if s.agent_apis:
            lines.append(f"             {self.url} answers /v1/agent/* as the first server")
        lines.append("==> Ctrl-C to stop.")
        return "\n".join(lines)


async def run_demo(settings: DemoSettings) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = DemoServer(settings)
    await server.start()
    print(server.banner(), flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()
    return 0
