"""Errors the agent raises to its callers; each carries the HTTP status Nomad answers with.

    AgentError                    500, message as given ("no servers", ...)
    ├── BadRequestError           400 ("missing address to join", ...)
    ├── PermissionDeniedError     403 "Permission denied" (or "ACL token not found")
    ├── NotFoundError             404 ("ACL policy not found", ...)
    └── RoleMismatchError         501 "Invalid method" (server-only endpoint on a client, ...)

The HTTP layer (`agent.api.errors`) renders any of them as a plain-text body holding only the
message, as Nomad's HTTP wrapper does (command/agent/http.go `wrap`, `CodedError`).
"""

from __future__ import annotations

from typing import ClassVar

INVALID_METHOD = "Invalid method"
"""Nomad's ErrInvalidMethod (command/agent/http.go): the body of both 405 and 501 answers."""
PERMISSION_DENIED = "Permission denied"
ACL_TOKEN_NOT_FOUND = "ACL token not found"
"""Nomad 0.7's 403 for a secret that matches no token (nomad/structs/errors.go ErrTokenNotFound)."""
ACL_DISABLED = "ACL support disabled"


class AgentError(Exception):
    """An error with the HTTP status Nomad uses for it; `str(error)` is the response body."""

    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(AgentError):
    status = 400


class PermissionDeniedError(AgentError):
    status = 403

    def __init__(self, message: str = PERMISSION_DENIED) -> None:
        super().__init__(message)


class NotFoundError(AgentError):
    status = 404


class RoleMismatchError(AgentError):
    """The endpoint needs a server (or client) half this agent does not run."""

    status = 501

    def __init__(self, message: str = INVALID_METHOD) -> None:
        super().__init__(message)
