"""`/v1/status/leader`, `/v1/status/peers` and `/v1/regions`: Nomad's cluster status reads.

Nomad 0.7 answers them from the server's raft and serf (`Status.Leader`, `Status.Peers`,
`Region.List`) with no ACL check; each takes GET only. A client-only agent here has no raft
to read and answers 501 `Invalid method` (Nomad would forward the call to a server).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agent.api.deps import AgentDep, parse_query_options, require_server
from agent.api.encoding import json_response

_TEXT_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "bad query parameter (plain text)"},
    501: {"description": "Invalid method (a client-only agent)"},
}


async def leader(request: Request, agent: AgentDep) -> Response:
    """The raft leader's RPC address as a JSON string, `""` while there is none."""
    parse_query_options(request)
    require_server(agent)
    return json_response(request, agent.leader())


async def peers(request: Request, agent: AgentDep) -> Response:
    """The RPC addresses of the servers in the raft configuration."""
    parse_query_options(request)
    require_server(agent)
    return json_response(request, agent.peers())


async def regions(request: Request, agent: AgentDep) -> Response:
    """The regions of the servers serf knows, sorted."""
    parse_query_options(request)
    require_server(agent)
    return json_response(request, agent.regions())


def build_router() -> APIRouter:
    """A fresh router (built per app: no import-time state)."""
    router = APIRouter(tags=["status"])
    router.add_api_route(
        "/v1/status/leader", leader, methods=["GET"], response_model=str, responses=_TEXT_ERRORS
    )
    router.add_api_route(
        "/v1/status/peers", peers, methods=["GET"], response_model=list[str], responses=_TEXT_ERRORS
    )
    router.add_api_route(
        "/v1/regions", regions, methods=["GET"], response_model=list[str], responses=_TEXT_ERRORS
    )
    return router
