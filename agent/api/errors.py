"""How errors become HTTP answers: plain text, the message only, Nomad's status codes.

- `AgentError` and subclasses (agent.errors): their status, body = message (Nomad's `wrap`);
- a method a route does not take: 405 `Invalid method` (no `Allow` header, like Nomad);
- an unknown path: 404 `404 page not found` in text/plain, as Go's ServeMux answers a path
  no handler matches (Nomad 0.7 without its UI; 0.11+ sends the 404 with no body);
- a query parameter FastAPI could not convert: 400 naming it (never a 500);
- anything else is a bug: logged with its traceback, answered 500 with a one-line body.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from agent.errors import INVALID_METHOD, AgentError

log = logging.getLogger("gossip_agent.http")

NOT_FOUND_BODY = "404 page not found\n"
"""Go's http.NotFound body (net/http `Error`: the text plus a newline)."""


def plain(message: str, status: int) -> Response:
    return PlainTextResponse(message, status_code=status)


async def _agent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentError)
    return plain(exc.message, exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return plain(INVALID_METHOD, 405)
    if exc.status_code == 404:
        response = plain(NOT_FOUND_BODY, 404)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    return plain(str(exc.detail), exc.status_code)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if errors:
        loc = ".".join(str(p) for p in errors[0].get("loc", ())[1:]) or "request"
        return plain(f"Invalid {loc}: {errors[0].get('msg', 'bad value')}", 400)
    return plain("Invalid request", 400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return plain(f"internal error: {type(exc).__name__}", 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgentError, _agent_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
