"""`/v1/agent/fault*`: network faults injected into a real agent, for tests (ours, not Nomad's).

Only an agent started with `-enable-fault-injection` has these routes; any other answers them
404 with an empty body, as it answers any unknown path. They follow the agent endpoints'
habits: PUT and POST alike for commands, 405 `Invalid method` for another method, checks in
Nomad's order (method, ACL, parameters), a repeated parameter's first value, plain-text 400s.
Every parameter is checked before anything is applied, so a 400 changes nothing.

    GET  /v1/agent/fault                                 the active faults (agent:read)
    POST /v1/agent/fault/drop?peer=&direction=&rate=     lose a peer's traffic (agent:write)
    POST /v1/agent/fault/delay?peer=&ms=&direction=&rate= hold it back (agent:write)
    POST /v1/agent/fault/clear[?peer=]                   lift all faults, or a peer's

Each command answers with the active faults after it, as `GET` lists them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from agent.agent_api import (
    AgentAPI,
    Capability,
    Direction,
    Fault,
    FaultAPI,
    FaultError,
    FaultKind,
    Peer,
)
from agent.api.deps import TOKEN_HEADERS, AgentDep, TokenDep, first
from agent.api.encoding import json_response
from agent.api.models import FaultResponse
from agent.errors import BadRequestError

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
"""A plain decimal number: no `inf`, `nan`, hex or `1_000`, which Python's float() takes."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
    for status, text in {
        400: "bad parameter (plain-text message); nothing was applied",
        403: "Permission denied",
        404: "fault injection is not enabled on this agent (empty body)",
        405: "Invalid method",
    }.items()
}

PeerQuery = Annotated[
    str | None, Query(description="`ip` (every port) or `ip:port` (that address only)")
]
DirectionQuery = Annotated[
    str | None, Query(description="`in`, `out` or `both` (default), seen from this agent")
]
RateQuery = Annotated[
    str | None, Query(description="fraction of matching traffic affected, 0 to 1 (default 1)")
]


def _faults(agent: AgentAPI) -> FaultAPI:
    faults = agent.faults
    if faults is None:  # only reachable if the router is mounted by hand: still unknown
        raise HTTPException(404)
    return faults


def _number(request: Request, name: str, default: float | None) -> float:
    text = first(request, name)
    if not text:  # absent or empty: Go's Query().Get reads both as ""
        if default is None:
            raise BadRequestError(f"missing {name}")
        return default
    if not _NUMBER.fullmatch(text):
        raise BadRequestError(f"invalid {name} {text!r}: expected a number")
    value = float(text)
    if not math.isfinite(value):
        raise BadRequestError(f"invalid {name} {text!r}: expected a number")
    return value


def _fault_from(request: Request, kind: FaultKind) -> Fault:
    """Every parameter of a drop or delay, validated (BadRequestError on the first bad one)."""
    try:
        peer = Peer.parse(first(request, "peer") or "")
        direction = Direction.parse(first(request, "direction") or Direction.BOTH.value)
        rate = _number(request, "rate", 1.0)
        delay_ms = _number(request, "ms", None) if kind is FaultKind.DELAY else 0.0
        return Fault(kind, peer, direction, rate=rate, delay_ms=delay_ms)
    except FaultError as exc:
        raise BadRequestError(str(exc)) from None


def _listing(request: Request, faults: FaultAPI) -> Response:
    listing = [FaultResponse.from_fault(f).model_dump(by_alias=True) for f in faults.list()]
    return json_response(request, listing)


async def list_faults(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """The active faults, oldest first."""
    faults = _faults(agent)
    await agent.authorize(token, Capability.AGENT_READ)
    return _listing(request, faults)


async def drop(
    request: Request,
    agent: AgentDep,
    token: TokenDep,
    peer: PeerQuery = None,
    direction: DirectionQuery = None,
    rate: RateQuery = None,
) -> Response:
    """Lose `rate` of the peer's datagrams, stream messages and RPC frames."""
    faults = _faults(agent)
    await agent.authorize(token, Capability.AGENT_WRITE)
    faults.add(_fault_from(request, FaultKind.DROP))
    return _listing(request, faults)


async def delay(
    request: Request,
    agent: AgentDep,
    token: TokenDep,
    peer: PeerQuery = None,
    ms: Annotated[str | None, Query(description="milliseconds to hold traffic back")] = None,
    direction: DirectionQuery = None,
    rate: RateQuery = None,
) -> Response:
    """Hold `rate` of the peer's traffic back by `ms` milliseconds."""
    faults = _faults(agent)
    await agent.authorize(token, Capability.AGENT_WRITE)
    faults.add(_fault_from(request, FaultKind.DELAY))
    return _listing(request, faults)


async def clear(
    request: Request,
    agent: AgentDep,
    token: TokenDep,
    peer: Annotated[str | None, Query(description="only this peer's faults (default: all)")] = None,
) -> Response:
    """Lift every fault, or one peer's (named as when it was set; `peer=` empty: all)."""
    faults = _faults(agent)
    await agent.authorize(token, Capability.AGENT_WRITE)
    text = first(request, "peer")
    try:
        only = Peer.parse(text) if text else None
    except FaultError as exc:
        raise BadRequestError(str(exc)) from None
    faults.clear(only)
    return _listing(request, faults)


def build_router() -> APIRouter:
    """A fresh router with the four endpoints; `create_app` includes it only with the flag."""
    router = APIRouter(prefix="/v1/agent/fault", tags=["fault injection"])
    router.add_api_route(
        "", list_faults, methods=["GET"], response_model=list[FaultResponse], responses=_ERRORS
    )
    commands: list[tuple[str, Callable[..., Awaitable[Response]]]] = [
        ("/drop", drop),
        ("/delay", delay),
        ("/clear", clear),
    ]
    for path, endpoint in commands:
        extra: dict[str, Any] = {"response_model": list[FaultResponse], "responses": _ERRORS}
        router.add_api_route(path, endpoint, methods=["PUT"], **extra)
        post_id = f"fault_{endpoint.__name__}_post"
        router.add_api_route(path, endpoint, methods=["POST"], operation_id=post_id, **extra)
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.openapi_extra = TOKEN_HEADERS
    return router
