"""`EmbeddedServer`: uvicorn's Date header is fresh although an idle server does not tick.

With no connection open the tick sleeps; a connection opening must refresh the header before
its first request is answered, and a connection kept open keeps the tick going.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn

from agent.launch.http_server import EmbeddedServer

pytestmark = pytest.mark.anyio


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer


async def test_a_new_connection_gets_a_fresh_date_from_an_idle_server() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = EmbeddedServer(uvicorn.Config(app, lifespan="off", log_config=None))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
            assert b"date: " in (await get(port)).lower()
            while server.server_state.connections:  # closed: the tick goes back to sleep
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            server.server_state.default_headers = [(b"date", b"stale")]
            answer = await get(port)
        assert b"stale" not in answer and b"date: " in answer.lower()
    finally:
        server.stop()
        await serving
        sock.close()
