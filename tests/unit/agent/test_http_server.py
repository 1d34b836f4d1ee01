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
    open_at_tick: list[int] = []  # connections open at each tick
    tick = server.on_tick

    async def counted_tick(counter: int) -> bool:
        open_at_tick.append(len(server.server_state.connections))
        return await tick(counter)

    server.on_tick = counted_tick  # type: ignore[method-assign]
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
            mark = len(open_at_tick)
            assert b"date: " in (await get(port)).lower()
            # A tick with no connection open, after this one opened: the tick sleeps until
            # the next connection, with no timer left to refresh the header on its own.
            while 0 not in open_at_tick[mark:]:
                await asyncio.sleep(0.01)
            server.server_state.default_headers = [(b"date", b"stale")]
            answer = await get(port)
        assert b"stale" not in answer and b"date: " in answer.lower()
    finally:
        server.stop()
        await serving
        sock.close()
