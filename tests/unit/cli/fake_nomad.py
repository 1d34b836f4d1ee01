"""A small real HTTP server that answers as a Nomad agent would, from canned answers.

The CLI commands are tested against it where gossip-agent's main branch has no endpoint yet
(status, operator, nodes, monitor) and wherever a test needs an answer a live agent will not
give on demand (no leader, a 500, several regions). It records every request, so a test can
check the method, path, query, and token header the command sent.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Canned:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    chunks: tuple[bytes, ...] = ()
    """Sent one by one (chunked) after the body, for streaming endpoints."""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    token: str | None


def answer_json(value: Any, status: int = 200) -> Canned:
    return Canned(status, json.dumps(value).encode())


def answer_text(text: str, status: int) -> Canned:
    return Canned(status, text.encode(), "text/plain; charset=utf-8")


@dataclass
class FakeNomad:
    routes: dict[tuple[str, str], Canned] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    address: str = ""

    def on(self, method: str, path: str, canned: Canned) -> None:
        self.routes[(method, path)] = canned

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def _handler(fake: FakeNomad) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
            fake.seen.append(
                Seen(self.command, parts.path, query, self.headers.get("X-Nomad-Token"))
            )
            canned = fake.routes.get((self.command, parts.path))
            if canned is None:
                canned = answer_text("404 page not found", 404)
            self.send_response(canned.status)
            self.send_header("Content-Type", canned.content_type)
            if canned.chunks:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in (canned.body, *canned.chunks):
                    if piece:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(canned.body)))
            self.end_headers()
            self.wfile.write(canned.body)

        do_GET = do_PUT = do_POST = do_DELETE = _serve

    return Handler


def serve() -> Iterator[FakeNomad]:
    """Run a FakeNomad on 127.0.0.1 (a free port) for the duration of a fixture."""
    fake = FakeNomad()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.address = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
