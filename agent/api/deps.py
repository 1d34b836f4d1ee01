"""Dependencies shared by the routes: the agent, the ACL token, role and query checks.

Everything is `async def`: FastAPI runs plain `def` dependencies in a thread pool, and the
agent must only be touched from the event loop (STYLE B7).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from agent.durations import parse_go_duration
from agent.errors import BadRequestError, RoleMismatchError
from agent.protocol import AgentAPI

UINT64_MAX = (1 << 64) - 1


async def get_agent(request: Request) -> AgentAPI:
    agent: AgentAPI = request.app.state.agent
    return agent


async def get_token(
    x_nomad_token: Annotated[str | None, Header(description="ACL token")] = None,
) -> str | None:
    """The caller's ACL token (`X-Nomad-Token`), surrounding spaces trimmed; None if absent."""
    if x_nomad_token is None:
        return None
    return x_nomad_token.strip() or None


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
    values = request.query_params.getlist(name)
    return values[0] if values else None


def parse_query_options(request: Request) -> str | None:
    """Nomad's shared query parser (0.7): validate `wait` and `index`; return `region`.

    Raises:
        BadRequestError: `Invalid wait time` / `Invalid index`.
    """
    wait = first(request, "wait")
    if wait:
        try:
            parse_go_duration(wait)
        except ValueError:
            raise BadRequestError("Invalid wait time") from None
    index = first(request, "index")
    if index and (not (index.isascii() and index.isdigit()) or int(index) > UINT64_MAX):
        raise BadRequestError("Invalid index")
    return first(request, "region") or None


GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(value: str) -> bool:
    """strconv.ParseBool; ValueError for anything else."""
    if value in GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    raise ValueError(value)
