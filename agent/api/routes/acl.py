"""`/v1/acl/*`: bootstrap, policies and tokens, with Nomad 0.7's routes and answers.

Each route checks that ACLs are on, reads its parameters and body, and calls one `AclStore`
operation, which does the management check and validation in Nomad's order. Differences from
0.7, chosen so that no bad request is ever a 5xx (the README's schemathesis run expects none):

- ACLs disabled: 400 `ACL support disabled` (Nomad 1.0+; 0.7 answered 500);
- an undecodable body: 400 with the decoder's message (Nomad 1.x; 0.7 answered 500).

Three ACL answers (pinned by tests/api/test_api_acl.py):

- an unknown token secret is 403 `ACL token not found` on every endpoint that checks one
  (AclStore.grants), as in Nomad 0.7, whose nomad/acl.go `ResolveToken` looks any secret up
  by value and answers `structs.ErrTokenNotFound`; current Nomad answers 403 `Permission
  denied` instead, and tries non-UUID secrets as workload-identity JWTs first, so its text
  varies with the token's shape. We keep 0.7's text because the README promises Nomad 0.7's
  ACLs; the status is 403 either way, which is all python-nomad looks at
  (URLNotAuthorizedNomadException).
- ACLs disabled: 400, not 0.7's 500. Nomad 1.0+ answers 400 `ACL support disabled` on
  `/v1/acl/*` when ACLs are off; we take that status because a request to a disabled feature
  is the caller's error, and a bad request is never answered with a 500.
- tokens (and policies) have no `Hash` field: it is the replication hash of Nomad's server
  structs (nomad/structs `ACLToken.Hash`), absent from the documented token JSON and from
  Nomad's own Go client type (`api.ACLToken`), and no client of this agent reads it.

Writes carry `X-Nomad-Index` (Nomad's setIndex); reads carry the blocking-query headers
(setMeta in command/agent/http.go), which Nomad's six agent endpoints never set.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from starlette.responses import Response

from agent.agent_api import AclAPI, AgentAPI
from agent.api.deps import TOKEN_HEADERS, AgentDep, TokenDep, parse_query_options
from agent.api.encoding import json_response
from agent.errors import ACL_DISABLED, BadRequestError

_TEXT_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"text/plain": {"schema": {"type": "string"}}}}
    for status, text in {
        400: "ACL support disabled, bad body, or validation error (plain text)",
        403: "Permission denied / ACL token not found",
        404: "ACL policy not found / ACL token not found",
        405: "Invalid method",
    }.items()
}

PolicyBody = Annotated[
    dict[str, Any] | None,
    Body(
        description='`{"Name": ..., "Description": ..., "Rules": "<HCL or JSON>"}`',
        examples=[{"Name": "readonly", "Rules": 'agent { policy = "read" }'}],
    ),
]
TokenBody = Annotated[
    dict[str, Any] | None,
    Body(
        description='`{"Name": ..., "Type": "client"|"management", "Policies": [...]}`',
        examples=[{"Name": "ops", "Type": "client", "Policies": ["readonly"]}],
    ),
]
NamePath = Annotated[str, Path(description="policy name")]
AccessorPath = Annotated[str, Path(description="token accessor ID")]


def _store(agent: AgentAPI) -> AclAPI:
    store = agent.acl
    if store is None:
        # 400 as Nomad 1.0+ answers (0.7 answered 500); see the module docstring.
        raise BadRequestError(ACL_DISABLED)
    return store


def _index_headers(response: Response, index: int, *, read: bool) -> Response:
    response.headers["X-Nomad-Index"] = str(index)
    if read:
        response.headers["X-Nomad-KnownLeader"] = "true"
        response.headers["X-Nomad-LastContact"] = "0"
    return response


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError("invalid JSON body: expected an object")
    return data


def _field(data: dict[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequestError(f"invalid {key}: expected a {kind.__name__}")
    return value


# ---- bootstrap ----------------------------------------------------------------------------


async def bootstrap(request: Request, agent: AgentDep) -> Response:
    """Create the first management token; only once (then 400, with the reset index)."""
    token = await _store(agent).bootstrap()
    return _index_headers(json_response(request, token.to_json()), token.create_index, read=False)


# ---- policies ----------------------------------------------------------------------------


async def list_policies(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    store = _store(agent)
    parse_query_options(request)
    stubs = [p.to_json(stub=True) for p in store.list_policies(token)]
    return _index_headers(json_response(request, stubs), store.index, read=True)


async def get_policy(
    request: Request, agent: AgentDep, token: TokenDep, name: NamePath
) -> Response:
    store = _store(agent)
    parse_query_options(request)
    policy = store.get_policy(token, name)
    return _index_headers(json_response(request, policy.to_json()), store.index, read=True)


async def put_policy(
    request: Request, agent: AgentDep, token: TokenDep, name: NamePath, body: PolicyBody = None
) -> Response:
    """Create or replace the policy; the body's Name must equal the path's. Empty 200."""
    store = _store(agent)
    data = await _json_object(request)
    if _field(data, "Name", str, "") != name:
        raise BadRequestError("ACL policy name does not match request path")
    index = await store.upsert_policy(
        token,
        name=name,
        description=_field(data, "Description", str, ""),
        rules=_field(data, "Rules", str, ""),
    )
    return _index_headers(Response(status_code=200), index, read=False)


async def delete_policy(
    request: Request, agent: AgentDep, token: TokenDep, name: NamePath
) -> Response:
    index = await _store(agent).delete_policy(token, name)
    return _index_headers(Response(status_code=200), index, read=False)


# ---- tokens ------------------------------------------------------------------------------


async def list_tokens(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    store = _store(agent)
    parse_query_options(request)
    stubs = [t.to_json(secret=False) for t in store.list_tokens(token)]
    return _index_headers(json_response(request, stubs), store.index, read=True)


async def token_self(request: Request, agent: AgentDep, token: TokenDep) -> Response:
    """The caller's own token; 404 `ACL token not found` without a known token."""
    store = _store(agent)
    parse_query_options(request)
    mine = store.self_token(token)
    return _index_headers(json_response(request, mine.to_json()), store.index, read=True)


async def get_token(
    request: Request, agent: AgentDep, token: TokenDep, accessor: AccessorPath
) -> Response:
    store = _store(agent)
    parse_query_options(request)
    found = store.get_token(token, accessor)
    return _index_headers(json_response(request, found.to_json()), store.index, read=True)


async def _upsert_token(
    request: Request, agent: AgentAPI, token: str | None, accessor: str
) -> Response:
    store = _store(agent)
    data = await _json_object(request)
    body_accessor = _field(data, "AccessorID", str, "")
    if accessor and body_accessor != accessor:
        raise BadRequestError("ACL token accessor does not match request path")
    policies = _field(data, "Policies", list, None)
    if policies is not None and not all(isinstance(p, str) for p in policies):
        raise BadRequestError("invalid Policies: expected a list of strings")
    saved = await store.upsert_token(
        token,
        accessor=accessor,
        name=_field(data, "Name", str, ""),
        type=_field(data, "Type", str, ""),
        policies=policies,
        global_=_field(data, "Global", bool, False),
    )
    return _index_headers(json_response(request, saved.to_json()), saved.modify_index, read=False)


async def create_token(
    request: Request, agent: AgentDep, token: TokenDep, body: TokenBody = None
) -> Response:
    """Create a token; a client token needs policies, a management token must have none."""
    return await _upsert_token(request, agent, token, "")


async def update_token(
    request: Request,
    agent: AgentDep,
    token: TokenDep,
    accessor: AccessorPath,
    body: TokenBody = None,
) -> Response:
    return await _upsert_token(request, agent, token, accessor)


async def delete_token(
    request: Request, agent: AgentDep, token: TokenDep, accessor: AccessorPath
) -> Response:
    index = await _store(agent).delete_token(token, accessor)
    return _index_headers(Response(status_code=200), index, read=False)


def build_router() -> APIRouter:
    """A fresh router for `/v1/acl` (built per app: no import-time state)."""
    router = APIRouter(prefix="/v1/acl", tags=["acl"])
    r = _TEXT_ERRORS

    def route(path: str, endpoint: Any, methods: list[str], **kwargs: Any) -> None:
        for method in methods:
            router.add_api_route(
                path,
                endpoint,
                methods=[method],
                responses=r,
                operation_id=f"acl_{endpoint.__name__}_{method.lower()}",
                response_class=Response,
                openapi_extra=None if endpoint is bootstrap else TOKEN_HEADERS,
                **kwargs,
            )

    route("/bootstrap", bootstrap, ["PUT", "POST"])
    route("/policies", list_policies, ["GET"])
    route("/policy/{name}", get_policy, ["GET"])
    route("/policy/{name}", put_policy, ["PUT", "POST"])
    route("/policy/{name}", delete_policy, ["DELETE"])
    route("/tokens", list_tokens, ["GET"])
    route("/token", create_token, ["PUT", "POST"])
    route("/token/self", token_self, ["GET"])
    route("/token/{accessor}", get_token, ["GET"])
    route("/token/{accessor}", update_token, ["PUT", "POST"])
    route("/token/{accessor}", delete_token, ["DELETE"])
    return router
