"""`count_requests`: every HTTP answer counted by route template and status, for `/v1/metrics`.

It wraps the whole app, the ASGI fast path included, and reads the route Starlette matched
(`scope["route"]`) after the answer, so `/v1/node/<id>` counts as `/v1/node/{node_id}` and a
path no route matches as `unmatched`: the number of series stays bounded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Scope, Send

from agent.agent_api import AgentAPI

UNMATCHED = "unmatched"


def route_of(scope: Scope, *, answered_fast: bool) -> str:
    """The route template that answered, the fixed path of a fast-path answer, or UNMATCHED."""
    if answered_fast:
        return str(scope["path"])
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


async def count_requests(
    agent: AgentAPI, scope: Scope, send: Send, serve: Callable[[Send], Awaitable[bool]]
) -> None:
    """Run `serve` (which returns whether the fast path answered) and count its status."""
    status = 500

    async def counting_send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        await send(message)

    fast = False
    try:
        fast = await serve(counting_send)
    finally:
        agent.record_http(route_of(scope, answered_fast=fast), status)
