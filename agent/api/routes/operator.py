"""`/v1/operator/raft/configuration` and `/v1/operator/raft/peer`: Nomad 0.7's raft operator API.

Both read or change the raft stub's real configuration on this server. ACLs as Nomad 0.7's
operator endpoint checks them: `operator:read` to list, `operator:write` to remove a peer.
Removing an address that is not in the configuration is Nomad's 500
`address "..." was not found in the Raft configuration`; a server that serf still shows
alive comes back at the leader's next reconcile, as in Nomad.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from agent.agent_api import Capability, RaftConfigurationInfo
from agent.api.deps import (
    TOKEN_HEADERS,
    AgentDep,
    TokenDep,
    first,
    parse_query_options,
    require_server,
)
from agent.api.encoding import empty_response, json_response
from agent.errors import BadRequestError

MISSING_ADDRESS = "Must specify ?address with IP:port of peer to remove"
"""Nomad's 400 body for a peer removal without `address` (operator_endpoint.go)."""


def configuration_json(info: RaftConfigurationInfo) -> dict[str, Any]:
    """Nomad's structs.RaftConfigurationResponse."""
    servers = [
        {
            "ID": s.id,
            "Node": s.node,
            "Address": s.address,
            "Leader": s.leader,
            "Voter": s.voter,
        }
        for s in info.servers
    ]
    return {"Servers": servers, "Index": info.index}


async def configuration(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """The latest raft configuration: each server's ID, serf name, address, leader, voter."""
    parse_query_options(request)
    require_server(agent)
    await agent.authorize(token, Capability.OPERATOR_READ)
    return json_response(request, configuration_json(agent.raft_configuration()))


async def remove_peer(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """Remove the server at `?address=ip:port` from raft; empty 200 once appended."""
    require_server(agent)
    address = first(request, "address")
    if address is None:
        raise BadRequestError(MISSING_ADDRESS)
    await agent.authorize(token, Capability.OPERATOR_WRITE)
    await agent.remove_raft_peer(address)
    return empty_response()


def build_router() -> APIRouter:
    """A fresh router (built per app: no import-time state)."""
    router = APIRouter(prefix="/v1/operator/raft", tags=["operator"])
    errors: dict[int | str, dict[str, Any]] = {
        400: {"description": MISSING_ADDRESS},
        403: {"description": "Permission denied"},
        500: {"description": "not in the configuration, no leader (plain text)"},
        501: {"description": "Invalid method (a client-only agent)"},
    }
    router.add_api_route("/configuration", configuration, methods=["GET"], responses=errors)
    router.add_api_route(
        "/peer", remove_peer, methods=["DELETE"], response_class=Response, responses=errors
    )
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.openapi_extra = TOKEN_HEADERS
    return router
