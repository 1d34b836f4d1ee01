"""`/v1/nodes` and `/v1/node/{id}`: the registered client nodes, as Nomad 0.7 lists them.

The node table is the raft-replicated one (`agent.rpc.fsm`), so every server answers the
same. Both are blocking queries as Nomad's are: with `?index=N` the answer waits until the
table's index passes N or `?wait` (default and cap 5 minutes) elapses; `X-Nomad-Index`,
`X-Nomad-KnownLeader` and `X-Nomad-LastContact` come with every answer. The wait runs on the
agent's runtime, so under the simulator it is virtual time. Nomad adds up to wait/16 of
random jitter to the wait; this does not, so a test can say exactly when an answer comes.
ACL: `node:read`. Only what the stub can know is filled; what a Nomad client would
fingerprint (resources, attributes, drivers) stays empty.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from agent.agent_api import Capability, NodeInfo, QueryMeta
from agent.api.deps import (
    TOKEN_HEADERS,
    AgentDep,
    TokenDep,
    first,
    parse_query_options,
    require_server,
)
from agent.api.encoding import json_response
from agent.errors import NotFoundError
from gocompat import parse_go_duration

MAX_QUERY_TIME = 300.0
"""Nomad's maxQueryTime and defaultQueryTime (seconds): a blocking query waits at most this."""
NODE_NOT_FOUND = "node not found"


def blocking_options(request: Request) -> tuple[int, float]:
    """(`index`, wait seconds) after Nomad's checks (`Invalid index` / `Invalid wait time`)."""
    parse_query_options(request)
    index_text = first(request, "index")
    min_index = int(index_text) if index_text else 0
    wait_text = first(request, "wait")
    wait = parse_go_duration(wait_text) / 1e9 if wait_text else 0.0
    if wait <= 0 or wait > MAX_QUERY_TIME:
        wait = MAX_QUERY_TIME
    return min_index, wait


def meta_headers(meta: QueryMeta) -> dict[str, str]:
    """Nomad's setMeta: index, whether a leader is known, and the last contact in ms."""
    return {
        "X-Nomad-Index": str(meta.index),
        "X-Nomad-KnownLeader": "true" if meta.known_leader else "false",
        "X-Nomad-LastContact": str(meta.last_contact_ms),
    }


def stub_json(node: NodeInfo) -> dict[str, Any]:
    """Nomad 0.7's structs.NodeListStub."""
    return {
        "ID": node.id,
        "Datacenter": node.datacenter,
        "Name": node.name,
        "NodeClass": node.node_class,
        "Version": "",
        "Drain": False,
        "Status": node.status,
        "StatusDescription": node.status_description,
        "CreateIndex": node.create_index,
        "ModifyIndex": node.modify_index,
    }


def node_json(node: NodeInfo) -> dict[str, Any]:
    """Nomad 0.7's structs.Node, with what a fingerprint would fill left empty."""
    return {
        "ID": node.id,
        "SecretID": "",
        "Datacenter": node.datacenter,
        "Name": node.name,
        "HTTPAddr": "",
        "TLSEnabled": False,
        "Attributes": {},
        "Resources": None,
        "Reserved": None,
        "Links": {},
        "Meta": {},
        "NodeClass": node.node_class,
        "ComputedClass": "",
        "Drain": False,
        "Status": node.status,
        "StatusDescription": node.status_description,
        "StatusUpdatedAt": 0,
        "CreateIndex": node.create_index,
        "ModifyIndex": node.modify_index,
    }


async def list_nodes(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """Every registered node (`?prefix=` filters by ID), sorted by ID."""
    require_server(agent)
    min_index, wait = blocking_options(request)
    await agent.authorize(token, Capability.NODE_READ)
    result = await agent.nodes(min_index, wait)
    prefix = first(request, "prefix") or ""
    body = [stub_json(n) for n in result.nodes if n.id.startswith(prefix)]
    response = json_response(request, body)
    response.headers.update(meta_headers(result.meta))
    return response


async def get_node(request: Request, node_id: str, agent: AgentDep, token: TokenDep) -> Response:
    """One node by its full ID; 404 `node not found` otherwise."""
    require_server(agent)
    min_index, wait = blocking_options(request)
    await agent.authorize(token, Capability.NODE_READ)
    result = await agent.nodes(min_index, wait)
    node = next((n for n in result.nodes if n.id == node_id), None)
    if node is None:
        raise NotFoundError(NODE_NOT_FOUND)
    response = json_response(request, node_json(node))
    response.headers.update(meta_headers(result.meta))
    return response


def build_router() -> APIRouter:
    """A fresh router (built per app: no import-time state)."""
    router = APIRouter(tags=["nodes"])
    errors: dict[int | str, dict[str, Any]] = {
        400: {"description": "Invalid index / Invalid wait time"},
        403: {"description": "Permission denied"},
        404: {"description": NODE_NOT_FOUND},
        501: {"description": "Invalid method (a client-only agent)"},
    }
    router.add_api_route("/v1/nodes", list_nodes, methods=["GET"], responses=errors)
    router.add_api_route("/v1/node/{node_id}", get_node, methods=["GET"], responses=errors)
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.openapi_extra = TOKEN_HEADERS
    return router
