"""Starting a real agent: bind the gossip sockets, work out the listeners, build the Agent.

Shared by the CLI and by tests that want an agent on real loopback sockets.
"""

from __future__ import annotations

import random
import socket

from agent.agent import Agent
from agent.config.listeners import WILDCARDS, listeners_for
from agent.config.settings import Settings
from agent.runtime.clock import SystemClock
from agent.runtime.gossip_aio import AioRuntime
from agent.runtime.resolver import AioResolver
from agent.runtime.rpc_aio import AioRpcRuntime


class ListenError(OSError):
    """A listener could not be bound; the message names it: `serf: cannot listen on ...`."""


def default_ip() -> str:
    """The IP of the interface with the default route (no packet is sent); else loopback."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def bind_http(settings: Settings) -> socket.socket:
    """The HTTP listening socket (bound, not yet listening; uvicorn listens on it).

    Raises:
        ListenError: the address is taken or not local.
    """
    host, port = settings.bind_host("http"), settings.ports.http
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"http: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


async def start_agent(
    settings: Settings, *, http_port: int, rng: random.Random | None = None
) -> Agent:
    """Bind the Serf port (servers only), build and start the Agent on asyncio sockets.

    Raises:
        ListenError: the Serf address is taken or not local.
    """
    rpc_host = settings.bind_host("rpc")
    try:
        rpc_runtime = await AioRpcRuntime.open(rpc_host, settings.ports.rpc)
    except OSError as exc:
        raise ListenError(
            f"rpc: cannot listen on {rpc_host}:{settings.ports.rpc}: {exc.strerror}"
        ) from None
    runtime = None
    serf_port = settings.ports.serf
    if settings.server.enabled:
        host = settings.bind_host("serf")
        try:
            runtime = await AioRuntime.open(host, serf_port)
        except OSError as exc:
            await rpc_runtime.close()
            raise ListenError(
                f"serf: cannot listen on {host}:{serf_port}: {exc.strerror}"
            ) from None
        serf_port = runtime.addr.port
    fallback = default_ip() if settings.bind_addr in WILDCARDS else settings.bind_addr
    listeners = listeners_for(
        settings,
        http_port=http_port,
        serf_port=serf_port,
        rpc_port=rpc_runtime.port,
        fallback_ip=fallback,
    )
    rpc_runtime.set_advertise(listeners.rpc.advertise)
    try:
        agent = Agent(
            settings,
            listeners=listeners,
            runtime=runtime,
            rpc_runtime=rpc_runtime,
            resolver=AioResolver(),
            clock=SystemClock(),
            rng=rng or random.Random(),
        )
    except BaseException:
        await rpc_runtime.close()
        if runtime is not None:
            await runtime.close()
        raise
    try:
        await agent.start()
    except BaseException:
        await agent.shutdown()
        raise
    return agent
