"""Nomad's HTTP API as the CLI uses it: a thin synchronous client over urllib.

The commands speak nothing but Nomad's documented HTTP API, so they work against a real
Nomad agent as well as against gossip-agent. Failures read as Nomad's Go client words them
(api/api.go `requireOK`: `Unexpected response code: 404 (body)`; net/http:
`Get "URL": dial tcp HOST:PORT: connect: connection refused`), because the commands put
them after Nomad's own prefixes (`Error querying servers: ...`) and users search for those
lines. Every request carries `?region=` when a region is set and `X-Nomad-Token` when a token
is; loopback addresses never go through an HTTP proxy, as with Go's client.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from agent.cli.nomad_commands.connection import Connection

REQUEST_TIMEOUT = 60.0
"""Seconds for one request; generous, since a join waits for the gossip exchange."""
Params = Sequence[tuple[str, str]]


class ApiError(Exception):
    """A request that failed; `str()` is the Go client's wording."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status for an answer that was not 200; None when nothing answered."""


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(f"error decoding response: {exc}") from None


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _go_net_error(method: str, url: str, reason: object) -> str:
    """`Get "http://...": dial tcp 127.0.0.1:4646: connect: connection refused`."""
    parts = urllib.parse.urlsplit(url)
    where = parts.netloc
    if isinstance(reason, socket.gaierror):
        detail = f"dial tcp: lookup {parts.hostname}: no such host"
    elif isinstance(reason, TimeoutError | socket.timeout):
        detail = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    elif isinstance(reason, OSError) and reason.errno is not None:
        text = (reason.strerror or errno.errorcode.get(reason.errno, str(reason))).lower()
        detail = f"dial tcp {where}: connect: {text}"
    else:
        detail = str(reason)
    return f'{method.capitalize()} "{url}": {detail}'


class NomadApi:
    """Requests to one agent, with the connection's region and token."""

    def __init__(self, connection: Connection, timeout: float = REQUEST_TIMEOUT) -> None:
        self.connection = connection
        self.timeout = timeout
        host = urllib.parse.urlsplit(connection.address).hostname or ""
        handlers: list[urllib.request.BaseHandler] = []
        if _is_loopback(host):
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def url(self, path: str, params: Params = (), *, region: str | None = None) -> str:
        query = list(params)
        chosen = self.connection.region if region is None else region
        if chosen:
            query.append(("region", chosen))
        encoded = urllib.parse.urlencode(query)
        return f"{self.connection.address}{path}" + (f"?{encoded}" if encoded else "")

    @contextlib.contextmanager
    def _open(self, method: str, url: str, timeout: float | None) -> Iterator[Any]:
        request = urllib.request.Request(url, method=method)
        if self.connection.token:
            request.add_header("X-Nomad-Token", self.connection.token)
        try:
            response = self._opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise ApiError(f"Unexpected response code: {exc.code} ({body})", exc.code) from None
        except urllib.error.URLError as exc:
            raise ApiError(_go_net_error(method, url, exc.reason)) from None
        except (OSError, ValueError) as exc:
            raise ApiError(_go_net_error(method, url, exc)) from None
        with response:
            yield response

    def request(
        self, method: str, path: str, params: Params = (), *, region: str | None = None
    ) -> Answer:
        """One request; the whole answer.

        Raises:
            ApiError: nothing answered, or the status was not 200.
        """
        url = self.url(path, params, region=region)
        with self._open(method, url, self.timeout) as response:
            try:
                body = cast(bytes, response.read())
            except (OSError, ValueError) as exc:
                raise ApiError(_go_net_error(method, url, exc)) from None
            return Answer(body, response.headers.get("Content-Type", ""))

    def get_json(self, path: str, params: Params = (), *, region: str | None = None) -> Any:
        return self.request("GET", path, params, region=region).json()

    def stream(self, path: str, params: Params = ()) -> Iterator[tuple[str, bytes]]:
        """A streaming GET: yields (content type, chunk) as chunks arrive, until the agent
        ends the answer. No read timeout: a quiet log is not a failure.

        Raises:
            ApiError: as `request`.
        """
        url = self.url(path, params)
        with self._open("GET", url, None) as response:
            content_type = response.headers.get("Content-Type", "")
            while True:
                try:
                    chunk = cast(bytes, response.read1(65536))
                except (OSError, ValueError) as exc:
                    raise ApiError(_go_net_error("GET", url, exc)) from None
                if not chunk:
                    return
                yield content_type, chunk
