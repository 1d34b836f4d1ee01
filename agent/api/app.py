"""`create_app(agent)`: the FastAPI application for one agent. Nothing is built at import.

Routing is exact, as Go's ServeMux: no trailing-slash redirects, an unknown path is Go's
`404 page not found` in text/plain. `/docs` and `/openapi.json` describe the API. Every
answer is counted by route and status for `/v1/metrics` (agent.api.request_counting). What
only some agents use is imported when used: the fault routes with `-enable-fault-injection`,
`prometheus_client` by the first Prometheus scrape (tests/unit/agent/test_lazy_imports.py).

The app is an `AgentApp`: FastAPI with a pure-ASGI fast path (agent.api.fast) in front, which
answers the successful GETs of `/v1/agent/members` and `/v1/agent/self` without FastAPI's
per-request machinery and hands every other request to FastAPI.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.agent_api import AgentAPI
from agent.api.errors import install_error_handlers
from agent.api.fast import FastPath
from agent.api.request_counting import count_requests
from agent.api.routes import acl as acl_routes
from agent.api.routes import agent as agent_routes
from agent.api.routes import keyring as keyring_routes
from agent.api.routes import metrics as metrics_routes
from agent.api.routes import monitor as monitor_routes
from agent.api.routes import nodes as node_routes
from agent.api.routes import operator as operator_routes
from agent.api.routes import status as status_routes
from agent.api.views import AgentViews
from agent.version import NOMAD_VERSION


def raw_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """`http_api_response_headers` as ASGI headers."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class ResponseHeadersMiddleware:
    """Adds the operator's `http_api_response_headers` to every response, errors included."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = raw_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AgentApp(FastAPI):
    """FastAPI, asking `fast_path` first for each HTTP request (None: FastAPI only)."""

    fast_path: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def serve(counted_send: Send) -> bool:
            fast = self.fast_path
            if fast is not None and await fast.answer(scope, counted_send):
                return True
            await FastAPI.__call__(self, scope, receive, counted_send)
            return False

        await count_requests(self.state.agent, scope, send, serve)


def create_app(agent: AgentAPI, *, fast_path: bool = True) -> FastAPI:
    """The HTTP API of `agent`; the caller owns the agent's lifecycle (not the app's lifespan).

    `fast_path=False` leaves every request to FastAPI: the tests compare the two.
    """
    app = AgentApp(
        title="gossip-agent",
        summary="Nomad's agent HTTP API (0.7 semantics) over a Python serf/memberlist core",
        version=NOMAD_VERSION,
        redirect_slashes=False,
    )
    app.state.agent = agent
    views = AgentViews(agent)
    app.state.views = views  # members/self bodies, shared with the fast path
    app.include_router(agent_routes.build_router())
    app.include_router(acl_routes.build_router())
    app.include_router(status_routes.build_router())
    app.include_router(operator_routes.build_router())
    app.include_router(node_routes.build_router())
    app.include_router(metrics_routes.build_router())
    app.include_router(monitor_routes.build_router())
    app.include_router(keyring_routes.build_router())
    if agent.faults is not None:  # without -enable-fault-injection the paths are unknown: 404
        from agent.api.routes import fault as fault_routes

        app.include_router(fault_routes.build_router())
    install_error_handlers(app)
    headers = dict(agent.response_headers)
    app.add_middleware(ResponseHeadersMiddleware, headers=headers)
    if fast_path:
        app.fast_path = FastPath(views, raw_headers(headers))
    return app
