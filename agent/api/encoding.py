"""Nomad's JSON bodies: compact by default, 4-space indented plus a newline with `?pretty`.

Nomad encodes with go-msgpack's JSON handle: no spaces, HTML characters as-is, UTF-8.
`?pretty` switches to the indented form unless its first value is `0` (Nomad's `wrap`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json"


def wants_pretty(request: Request) -> bool:
    return pretty_in(request.query_params)


def pretty_in(params: QueryParams) -> bool:
    """`?pretty` present with a first value other than `0`, as command/agent/http.go reads it."""
    values = params.getlist("pretty")
    return bool(values) and values[0] != "0"


def encode(data: Any, *, pretty: bool, exclude_none: bool = False) -> bytes:
    """A model or plain JSON data as Nomad would write it."""
    if isinstance(data, BaseModel):
        if pretty:
            return data.model_dump_json(indent=4, exclude_none=exclude_none).encode() + b"\n"
        return data.model_dump_json(exclude_none=exclude_none).encode()
    if pretty:
        return json.dumps(data, indent=4, ensure_ascii=False).encode() + b"\n"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    request: Request, data: Any, *, status: int = 200, exclude_none: bool = False
) -> Response:
    body = encode(data, pretty=wants_pretty(request), exclude_none=exclude_none)
    return Response(body, status_code=status, media_type=JSON_MEDIA_TYPE)


def empty_response() -> Response:
    """What Nomad sends for a handler that returns nothing: 200, no body, no Content-Type."""
    return Response(status_code=200)
