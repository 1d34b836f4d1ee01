"""`/v1/agent/monitor`: the agent's log lines, streamed as they are written, as Nomad's is.

The answer is chunked text (one log line per line) and lasts until the client goes away:
Starlette notices the disconnect and cancels the stream, whose `finally` detaches the
per-request log handler. `log_level` (default INFO) filters per connection; an unknown level
is a 400 `Unknown log level: X`. ACL: `agent:read`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from agent.agent_api import Capability, LogLevel, LogSubscription
from agent.api.deps import TOKEN_HEADERS, AgentDep, TokenDep, first
from agent.errors import BadRequestError


def parse_level(text: str | None) -> LogLevel:
    """Nomad's level names, case-insensitive, `WARNING`/`ERROR` as aliases; default INFO."""
    if not text:
        return LogLevel.INFO
    name = text.upper()
    name = {"WARNING": "WARN", "ERROR": "ERR"}.get(name, name)
    try:
        return LogLevel(name)
    except ValueError:
        raise BadRequestError(f"Unknown log level: {text}") from None


class UntilDisconnect(StreamingResponse):
    """A stream that ends as soon as the client disconnects, even while no line is due.

    Starlette's own stream, under ASGI 2.4 servers, notices a disconnect only when a write
    fails, which on a quiet agent could be never; this one also listens for the disconnect.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


async def _lines(subscription: LogSubscription) -> AsyncIterator[bytes]:
    try:
        while True:
            line = await subscription.next_line()
            yield line.encode() + b"\n"
    finally:
        subscription.close()


async def monitor(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """Stream log lines at `log_level` and above until the client disconnects."""
    await agent.authorize(token, Capability.AGENT_READ)
    level = parse_level(first(request, "log_level"))
    subscription = agent.monitor(level)
    return UntilDisconnect(_lines(subscription), media_type="text/plain; charset=utf-8")


def build_router() -> APIRouter:
    """A fresh router (built per app: no import-time state)."""
    router = APIRouter(tags=["agent"])
    router.add_api_route(
        "/v1/agent/monitor",
        monitor,
        methods=["GET"],
        response_class=UntilDisconnect,
        responses={400: {"description": "Unknown log level"}, 403: {"description": "denied"}},
    )
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.openapi_extra = TOKEN_HEADERS
    return router
