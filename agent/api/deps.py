"""Dependencies shared by the routes: the agent, the ACL token, role and query checks.

Everything is `async def`: FastAPI runs plain `def` dependencies in a thread pool, and the
agent is only ever touched from the event loop, never from another thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import QueryParams

from agent.agent_api import AgentAPI
from agent.errors import BadRequestError, RoleMismatchError
from gocompat import parse_go_duration

UINT64_MAX = (1 << 64) - 1


async def get_agent(request: Request) -> AgentAPI:
    agent: AgentAPI = request.app.state.agent
    return agent


def token_of(request: Request) -> str | None:
    """The caller's ACL token, surrounding spaces trimmed; None if absent (see `token_in`)."""
    return token_in(request.scope["headers"])


def token_in(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The ACL token among raw ASGI headers, as `token_of` reads it from a request.

    `X-Nomad-Token` first; else `Authorization: Bearer <token>` (scheme case-insensitive),
    as Nomad 1.4+ reads it (command/agent/http.go `parseToken`). Other schemes are ignored.
    The first header of each name counts, as with Starlette's `request.headers.get`. Raw
    headers rather than FastAPI `Header` parameters: those cost more than the rest of a cached
    `/v1/agent/members` answer (bench/http.py), and the ASGI fast path (agent.api.fast) has no
    Request to read. `TOKEN_HEADERS` documents them.
    """
    x_nomad_token: bytes | None = None
    authorization: bytes | None = None
    for key, value in headers:
        if key == b"x-nomad-token":
            if x_nomad_token is None:
                x_nomad_token = value
        elif key == b"authorization" and authorization is None:
            authorization = value
    if x_nomad_token is not None:
        token = x_nomad_token.decode("latin-1").strip()
        if token:
            return token
    if authorization is not None:
        scheme, _, rest = authorization.decode("latin-1").strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip()
    return None


async def get_token(request: Request) -> str | None:
    return token_of(request)


TOKEN_HEADERS: dict[str, Any] = {
    "parameters": [
        {
            "name": "X-Nomad-Token",
            "in": "header",
            "required": False,
            "description": "ACL token (secret ID)",
            "schema": {"type": "string"},
        },
        {
            "name": "Authorization",
            "in": "header",
            "required": False,
            "description": "`Bearer <secret ID>`, used when X-Nomad-Token is absent",
            "schema": {"type": "string"},
        },
    ]
}
"""`openapi_extra` for the routes that read a token."""


AgentDep = Annotated[AgentAPI, Depends(get_agent)]
TokenDep = Annotated[str | None, Depends(get_token)]


def require_server(agent: AgentAPI) -> None:
    """Server-only endpoints answer 501 `Invalid method` on a client-only agent."""
    if not agent.is_server:
        raise RoleMismatchError()


def require_client(agent: AgentAPI) -> None:
    if not agent.is_client:
        raise RoleMismatchError()


def first(request: Request, name: str) -> str | None:
    """Go's `Query().Get(name)`: the first value, or None when the key is absent."""
    return first_value(request.query_params, name)


def first_value(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    return values[0] if values else None


def parse_query_options(request: Request) -> str | None:
    """Nomad's shared query parser (0.7) on the request's query (see `query_options`)."""
    return query_options(request.query_params)


def query_options(params: QueryParams) -> str | None:
    """Nomad's shared query parser (0.7): validate `wait` and `index`; return `region`.

    Raises:
        BadRequestError: `Invalid wait time` / `Invalid index`.
    """
    wait = first_value(params, "wait")
    if wait:
        try:
            parse_go_duration(wait)
        except ValueError:
            raise BadRequestError("Invalid wait time") from None
    index = first_value(params, "index")
    if index and (not (index.isascii() and index.isdigit()) or int(index) > UINT64_MAX):
        raise BadRequestError("Invalid index")
    return first_value(params, "region") or None
