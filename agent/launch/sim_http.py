"""Each simulated agent's Nomad HTTP API on a real loopback socket of its own.

A tool that speaks Nomad's HTTP API (python-nomad, curl, a dashboard) cannot tell a simulated
agent from a real one: node k of a `SimAgents` world answers on `127.0.0.(base + k)` at the
same port, from its own simulated state. The teaching demo serves its cluster this way, and
the test writers' `sim_agents` fixture does too.

One uvicorn server listens on every address; an `AddressRouter` in front of it picks the app
by the address the connection came in on (ASGI's `scope["server"]`), so a hundred agents
cost one server and one task. Routes are looked up per request, so an agent restarted under
the same name (a new `Agent` object) is served at once, and an address may instead carry an
app of its own (the demo's page and control API).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.agent import Agent
from agent.api import create_app
from agent.launch.http_server import EmbeddedServer
from agent.launch.simulated import SimAgents

DEFAULT_BIND_BASE = "127.0.0.11"
"""Where node 1 listens; node k gets the k-th address from here (as `gossip-agent cluster`)."""
MAX_SERVED_AGENTS = 32


class BindError(OSError):
    """A loopback address or port could not be bound; the message says which and why."""


@dataclass(frozen=True, slots=True)
class HttpAddress:
    """Where one agent's API answers."""

    name: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def nth_address(base: str, k: int) -> str:
    """The k-th IPv4 address counting from `base` (k = 0 is `base`).

    Raises:
        ValueError: `base` is not an IPv4 loopback address, or the count leaves 127.0.0.0/8.
    """
    first = ipaddress.IPv4Address(base)
    if not first.is_loopback:
        raise ValueError(f"{base} is not a loopback address")
    address = first + k
    if not address.is_loopback or address.packed[-1] in (0, 255):
        raise ValueError(f"{k} addresses from {base} leave the usable loopback range")
    return str(address)


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port`, or a BindError that names both."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BindError(exc.errno, f"cannot listen on {host}:{port} ({exc.strerror})") from None
    except OverflowError:
        sock.close()
        raise BindError(0, f"cannot listen on {host}:{port} (port out of range)") from None
    sock.setblocking(False)
    return sock


class AddressRouter:
    """An ASGI app that hands each connection to the app registered for its local address."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, int], Callable[[], ASGIApp]] = {}

    def route(self, host: str, port: int, app: Callable[[], ASGIApp]) -> None:
        """Serve `app()` (looked up per request) on `host:port`."""
        self._routes[(host, port)] = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        server = scope.get("server")
        target = self._routes.get((server[0], server[1])) if server else None
        if target is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await target()(scope, receive, send)


class SimAgentsHttp:
    """Serves the agents of one `SimAgents` world on consecutive loopback addresses.

    Call `serve(name)` for each agent to expose (in the order addresses are handed out),
    `start()` once on the world's event loop, and `close()` at the end.
    """

    def __init__(
        self,
        world: SimAgents,
        *,
        bind_base: str = DEFAULT_BIND_BASE,
        port: int = 4646,
        access_log: bool = False,
    ) -> None:
        self.world = world
        self.bind_base = bind_base
        self.port = port
        self.router = AddressRouter()
        self.addresses: dict[str, HttpAddress] = {}
        self._sockets: list[socket.socket] = []
        self._apps: dict[str, tuple[Agent, ASGIApp]] = {}
        self._access_log = access_log
        self._pending: list[socket.socket] = []
        self._servers: list[tuple[EmbeddedServer, asyncio.Task[None]]] = []
        self._started = False

    def serve(self, name: str) -> HttpAddress:
        """Give agent `name` the next address and answer its API there.

        Raises:
            KeyError: no agent of that name in the world.
            ValueError: more than MAX_SERVED_AGENTS, or the addresses run out.
            BindError: the address cannot be bound (in use, or not configured on this host).
        """
        if name not in self.world.agents:
            raise KeyError(f"no agent named {name!r}")
        if name in self.addresses:
            return self.addresses[name]
        if len(self.addresses) >= MAX_SERVED_AGENTS:
            raise ValueError(f"at most {MAX_SERVED_AGENTS} agents get an HTTP address")
        host = nth_address(self.bind_base, len(self.addresses))
        return self.serve_at(name, host, self.port)

    def serve_at(self, name: str, host: str, port: int) -> HttpAddress:
        """Answer agent `name`'s API on `host:port` (also a second address for the same agent)."""
        sock = bind_listener(host, port)
        self._add_socket(sock)
        address = HttpAddress(name, host, sock.getsockname()[1])
        self.router.route(address.host, address.port, lambda: self.app_of(name))
        self.addresses.setdefault(name, address)
        return address

    def serve_app(self, host: str, port: int, app: ASGIApp) -> HttpAddress:
        """Answer `app` on `host:port` (the demo's page and control API)."""
        sock = bind_listener(host, port)
        self._add_socket(sock)
        address = HttpAddress("", host, sock.getsockname()[1])
        self.router.route(address.host, address.port, lambda: app)
        return address

    def app_of(self, name: str) -> ASGIApp:
        """The HTTP app of agent `name` as it is now (a restart makes a new app)."""
        agent = self.world.agents[name]
        cached = self._apps.get(name)
        if cached is None or cached[0] is not agent:
            cached = (agent, create_app(agent))
            self._apps[name] = cached
        return cached[1]

    def _add_socket(self, sock: socket.socket) -> None:
        self._sockets.append(sock)
        self._pending.append(sock)
        if self._started:
            self._launch()

    def _launch(self) -> None:
        """One uvicorn server for the sockets bound since the last launch."""
        if not self._pending:
            return
        server = EmbeddedServer(
            uvicorn.Config(
                self.router,
                lifespan="off",
                server_header=False,
                log_config=None,
                access_log=self._access_log,
            )
        )
        sockets, self._pending = self._pending, []
        self._servers.append((server, asyncio.create_task(server.serve(sockets=sockets))))

    async def start(self) -> None:
        """Start answering on every address given so far, and on later ones as they come."""
        self._started = True
        self._launch()
        for server, task in self._servers:
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()  # a server that could not start says why

    async def close(self) -> None:
        """Stop answering and release every address."""
        for server, _ in self._servers:
            server.stop()
        for _, task in self._servers:
            await task
        self._servers.clear()
        self._started = False
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        self._pending.clear()
