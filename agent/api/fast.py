"""A pure-ASGI fast path for the two hot reads: `GET /v1/agent/members` and `GET /v1/agent/self`.

Why: FastAPI's per-request machinery (middlewares, routing, dependency solving, Request and
Response objects) costs ~50 us, more than a cached members answer itself; without this path
both endpoints stay well under bench/README.md's goal of 0.7x a bare uvicorn app (http.py).

The rule that keeps it honest: the fast path only ever answers *200*, and only with what the
FastAPI route would have sent, built by the same helpers (`query_options`, `token_in`,
`pretty_in`, `AgentViews`) in the route's order (query, ACL, body). Everything else falls
through to FastAPI untouched: other paths, methods other than GET (HEAD and OPTIONS are
405s there), a `root_path`, and any exception on the way (a bad `wait`/`index`, a denied or
unknown token, a bug), which FastAPI then raises again and answers (and logs) as it would
without the fast path. Those reads are local, quick and side-effect free, so doing them
twice is harmless; a client-only agent's members (an RPC to a server) always goes to FastAPI.
tests/api/test_api_fast_path.py compares both paths message for message over a table of
requests. `/openapi.json` and `/docs` still describe the FastAPI routes, which stay in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.datastructures import QueryParams
from starlette.types import Scope, Send

from agent.agent_api import Capability
from agent.api.deps import query_options, token_in
from agent.api.encoding import JSON_MEDIA_TYPE, pretty_in
from agent.api.views import AgentViews

MEMBERS_PATH = "/v1/agent/members"
SELF_PATH = "/v1/agent/self"
_CONTENT_TYPE = (b"content-type", JSON_MEDIA_TYPE.encode("latin-1"))


class FastPath:
    """Answers the successful GETs of members and self; see the module docstring."""

    def __init__(self, views: AgentViews, extra_headers: Sequence[tuple[bytes, bytes]]) -> None:
        """`extra_headers`: the `http_api_response_headers`, as ResponseHeadersMiddleware adds
        them (after the response's own)."""
        self.views = views
        self.agent = views.agent
        self.extra_headers = list(extra_headers)
        self._handlers: dict[str, Callable[[Scope], Awaitable[bytes | None]]] = {
            MEMBERS_PATH: self._members,
            SELF_PATH: self._self,
        }

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Send the response and return True, or return False having sent nothing."""
        handler = self._handlers.get(scope["path"])
        if handler is None or scope["method"] != "GET" or scope.get("root_path"):
            return False
        try:
            body = await handler(scope)
        except Exception:  # FastAPI raises it again and answers it; see the module docstring
            return False
        if body is None:
            return False
        # What Starlette's Response(body, media_type=JSON) sends, then the operator's headers.
        headers = [(b"content-length", str(len(body)).encode("latin-1")), _CONTENT_TYPE]
        headers += self.extra_headers
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _members(self, scope: Scope) -> bytes | None:
        """routes/agent.py `members`: query parse, then `node:read`, then the body.

        Only where the body is cached (a server): a client asks a server over RPC, which may
        take seconds to fail, and must not be asked twice.
        """
        if self.agent.members_version() is None:
            return None
        query = scope["query_string"]
        params = QueryParams(query) if query else None
        if params is not None:
            query_options(params)
        await self.agent.authorize(token_in(scope["headers"]), Capability.NODE_READ)
        return await self.views.members_body(pretty=params is not None and pretty_in(params))

    async def _self(self, scope: Scope) -> bytes:
        """routes/agent.py `self_`: `agent:read`, then the body (no shared query parsing)."""
        await self.agent.authorize(token_in(scope["headers"]), Capability.AGENT_READ)
        query = scope["query_string"]
        return self.views.self_body(pretty=bool(query) and pretty_in(QueryParams(query)))
