"""`/v1/agent/*`: Nomad's six agent endpoints, with Nomad 0.7's semantics.

Each route converts HTTP parameters, runs the checks in the order Nomad's handlers in
command/agent/agent_endpoint.go run them (method, role, ACL, parameters), calls one agent
method and renders the result. Where Nomad's Agent API page (website/source/api/agent.html.md)
and that code disagree, the code wins (e.g. members is an object, self is GET only, join and
force-leave also take PUT).

Query parameters are read the way Go reads them: presence matters (`?address=` is present
but empty) and a repeated key's *first* value is the one used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from agent.agent_api import AgentAPI, Capability
from agent.api.deps import (
    TOKEN_HEADERS,
    AgentDep,
    TokenDep,
    first,
    parse_query_options,
    require_client,
    require_server,
    token_of,
)
from agent.api.encoding import (
    JSON_MEDIA_TYPE,
    empty_response,
    json_response,
    wants_pretty,
)
from agent.api.errors import plain
from agent.api.models import (
    HealthResponse,
    JoinResponse,
    MembersResponse,
    SelfResponse,
)
from agent.api.views import AgentViews
from agent.errors import BadRequestError
from gocompat import parse_go_bool

_TEXT_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
    for status, text in {
        400: "bad parameter (plain-text message)",
        403: "Permission denied",
        405: "Invalid method",
        500: "error message (plain text)",
        501: "Invalid method (the agent does not run the needed server/client half)",
    }.items()
}
_EMPTY_OK: dict[int | str, dict[str, Any]] = {200: {"description": "success, empty body"}}

AddressQuery = Annotated[
    list[str] | None, Query(description="`ip[:port]` or a host name; repeatable")
]


async def members(request: Request) -> Response:
    """The gossip pool as this server sees it (a client asks one of its servers)."""
    # No FastAPI dependencies here: solving them costs more than a cached answer (bench/http.py).
    # agent.api.fast answers the successful GETs with the same helpers, in the same order.
    agent: AgentAPI = request.app.state.agent
    parse_query_options(request)
    await agent.authorize(token_of(request), Capability.NODE_READ)
    views: AgentViews = request.app.state.views
    body = await views.members_body(pretty=wants_pretty(request))
    return Response(body, media_type=JSON_MEDIA_TYPE)


async def servers(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """The client's known servers, `ip:port`, sorted."""
    require_client(agent)
    await agent.authorize(token, Capability.AGENT_READ)
    return json_response(request, agent.servers())


async def update_servers(
    request: Request, agent: AgentDep, token: TokenDep, address: AddressQuery = None
) -> Response:
    """Replace the client's server list with the addresses that resolve (port 4647 default)."""
    require_client(agent)
    if not address:
        raise BadRequestError("missing server address")
    await agent.authorize(token, Capability.AGENT_WRITE)
    await agent.set_servers(address)
    return empty_response()


async def self_(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """This agent's configuration, gossip member and statistics."""
    await agent.authorize(token, Capability.AGENT_READ)
    views: AgentViews = request.app.state.views
    body = views.self_body(pretty=wants_pretty(request))
    return Response(body, media_type=JSON_MEDIA_TYPE)


async def join(request: Request, agent: AgentDep, address: AddressQuery = None) -> Response:
    """Join the gossip pool through the given addresses (Serf port when none is given).

    Always 200 once attempted: `error` is "" if any address joined, else every failure.
    """
    require_server(agent)
    if not address:
        raise BadRequestError("missing address to join")
    result = await agent.join(address)
    return json_response(request, JoinResponse.from_result(result))


async def force_leave(
    request: Request,
    agent: AgentDep,
    token: TokenDep,
    node: Annotated[str | None, Query(description="member name, `<node>.<region>`")] = None,
    prune: Annotated[str | None, Query(description="Go bool: also erase the member")] = None,
) -> Response:
    """Move a failed member to `left` (an unknown name is accepted and does nothing)."""
    require_server(agent)
    await agent.authorize(token, Capability.AGENT_WRITE)
    name = first(request, "node")
    if not name:
        raise BadRequestError("missing node to force leave")
    prune_text = first(request, "prune")
    try:
        do_prune = parse_go_bool(prune_text) if prune_text else False
    except ValueError:
        raise BadRequestError("invalid prune value") from None
    await agent.force_leave(name, prune=do_prune)
    return empty_response()


async def health(
    request: Request,
    agent: AgentDep,
    type: Annotated[list[str] | None, Query(description="client and/or server")] = None,
) -> Response:
    """Whether the client knows a server and the server knows a leader.

    Unhealthy: 500 whose plain-text body is the same JSON document (as Nomad sends it).
    """
    region = parse_query_options(request)
    report = await agent.health(type, region)
    body = HealthResponse.from_report(report)
    if report.healthy:
        return json_response(request, body, exclude_none=True)
    return plain(body.model_dump_json(exclude_none=True), 500)


def build_router() -> APIRouter:
    """A fresh router with the six endpoints (built per app: no import-time state)."""
    router = APIRouter(prefix="/v1/agent", tags=["agent"])
    errors_or_empty = {**_EMPTY_OK, **_TEXT_ERRORS}
    router.add_api_route(
        "/members", members, methods=["GET"], response_model=MembersResponse, responses=_TEXT_ERRORS
    )
    router.add_api_route(
        "/servers", servers, methods=["GET"], response_model=list[str], responses=_TEXT_ERRORS
    )
    router.add_api_route(
        "/self", self_, methods=["GET"], response_model=SelfResponse, responses=_TEXT_ERRORS
    )
    # Nomad takes PUT and POST alike; one route each, so each gets its own operation id.
    commands: list[tuple[str, Callable[..., Awaitable[Response]], dict[str, Any]]] = [
        ("/servers", update_servers, {"response_class": Response, "responses": errors_or_empty}),
        ("/join", join, {"response_model": JoinResponse, "responses": _TEXT_ERRORS}),
        ("/force-leave", force_leave, {"response_class": Response, "responses": errors_or_empty}),
    ]
    for path, endpoint, extra in commands:
        router.add_api_route(path, endpoint, methods=["PUT"], **extra)
        post_id = f"{endpoint.__name__}_post"
        router.add_api_route(path, endpoint, methods=["POST"], operation_id=post_id, **extra)
    router.add_api_route(
        "/health", health, methods=["GET"], response_model=HealthResponse, responses=_TEXT_ERRORS
    )
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint in (
            members,
            servers,
            update_servers,
            self_,
            force_leave,
        ):
            route.openapi_extra = TOKEN_HEADERS
    return router
