"""`create_app(agent)`: the FastAPI application for one agent. Nothing is built at import.

Routing is exact, as Go's ServeMux: no trailing-slash redirects, an unknown path is a 404
with an empty body. `/docs` and `/openapi.json` describe the API.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.api.errors import install_error_handlers
from agent.api.routes import acl as acl_routes
from agent.api.routes import agent as agent_routes
from agent.protocol import AgentAPI
from agent.version import NOMAD_VERSION


class ResponseHeadersMiddleware:
    """Adds the operator's `http_api_response_headers` to every response, errors included."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(agent: AgentAPI) -> FastAPI:
    """The HTTP API of `agent`; the caller owns the agent's lifecycle (not the app's lifespan)."""
    app = FastAPI(
        title="gossip-agent",
        summary="Nomad's agent HTTP API (0.7 semantics) over a Python serf/memberlist core",
        version=NOMAD_VERSION,
        redirect_slashes=False,
    )
    app.state.agent = agent
    app.state.members_cache = {}  # pretty -> (membership version, body): routes/agent.py
    app.include_router(agent_routes.build_router())
    app.include_router(acl_routes.build_router())
    install_error_handlers(app)
    app.add_middleware(ResponseHeadersMiddleware, headers=dict(agent.response_headers))
    return app
