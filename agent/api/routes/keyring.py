"""`/v1/agent/keyring/*`: the gossip keyring across the pool (Nomad's
command/agent/keyring_endpoint.go `KeyringOperationRequest`, over serf's KeyManager).

    GET  /v1/agent/keyring/list                      every key and how many members hold it
    POST /v1/agent/keyring/install  {"Key": "..."}   add a key on every member
    POST /v1/agent/keyring/use      {"Key": "..."}   make it every member's primary
    POST /v1/agent/keyring/remove   {"Key": "..."}   drop it everywhere (never the primary)

Each answers Nomad's KeyringResponse: `{"Messages": {member: error}, "Keys": {key: count},
"NumNodes": n}`. Checks in Nomad's order: a server (501 `Invalid method` on a client), then
`agent:write` with ACLs (list included, as Nomad), then the body. PUT and POST work alike, as
Nomad's api client sends PUT. A key that is not base64 (Go's error text), not 16, 24 or 32
bytes, or is our primary for `remove`, is a plain-text 400 before any query leaves; a member
that refuses or does not answer makes serf's "N/M nodes reported failure" a 500, as in Nomad.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from agent.agent_api import Capability, KeyringOperation
from agent.api.deps import TOKEN_HEADERS, AgentDep, TokenDep, require_server
from agent.api.encoding import json_response
from agent.errors import BadRequestError

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
    for status, text in {
        400: "a bad body or key (plain-text message); no query was sent",
        403: "Permission denied",
        500: "some member refused or did not answer (serf's N/M nodes message)",
        501: "Invalid method (not a server)",
    }.items()
}
_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"Key": {"type": "string", "description": "base64 AES key"}},
                }
            }
        }
    }
}


async def _key_of(request: Request) -> str:
    """structs.KeyringRequest's `Key` from the JSON body."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("invalid JSON body") from None
    if not isinstance(body, dict):
        raise BadRequestError('the body must be a JSON object: {"Key": "..."}')
    key = body.get("Key", "")
    if not isinstance(key, str):
        raise BadRequestError("Key must be a base64 string")
    return key


def _operation(op: KeyringOperation) -> Any:
    async def endpoint(request: Request, agent: AgentDep, token: TokenDep) -> Response:
        require_server(agent)
        await agent.authorize(token, Capability.AGENT_WRITE)
        key = None if op is KeyringOperation.LIST else await _key_of(request)
        result = await agent.keyring(op, key)
        return json_response(request, result.to_json())

    endpoint.__name__ = f"keyring_{op.value}"
    endpoint.__doc__ = f"serf's `{op.value}` key operation across the pool (Nomad's keyring)."
    return endpoint


def build_router() -> APIRouter:
    """A fresh router with the four operations (built per app: no import-time state)."""
    router = APIRouter(prefix="/v1/agent/keyring", tags=["keyring"])
    for op in KeyringOperation:
        endpoint = _operation(op)
        methods = ["GET", "PUT", "POST"] if op is KeyringOperation.LIST else ["PUT", "POST"]
        for method in methods:
            with_body = method != "GET" and op is not KeyringOperation.LIST
            router.add_api_route(
                f"/{op.value}",
                endpoint,
                methods=[method],
                operation_id=f"keyring_{op.value}_{method.lower()}",
                responses=_ERRORS,
                response_class=Response,
                openapi_extra={**TOKEN_HEADERS, **(_BODY if with_body else {})},
            )
    return router
