"""The demo's HTTP app: the page at `/ui` and the control API under `/v1/sim/`.

The routes get the `DemoSession` by dependency injection (as agent/api/deps.py hands routes
the agent) and act on its current world. Every control validates before it acts: a bad
request is a 400 with `{"error": message}` and changes nothing. `/v1/sim/events` is a
server-sent event stream: one `state` event, then `delta` events at most five a second.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from enum import StrEnum
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.demo.errors import DemoInputError
from agent.demo.publisher import UPDATES_PER_SECOND, Cursor, delta_json, state_json
from agent.demo.scenarios import SCENARIOS
from agent.demo.session import DemoSession

STATIC_FILES: Mapping[str, str] = MappingProxyType(
    {
        "demo.js": "text/javascript; charset=utf-8",
        "demo.css": "text/css; charset=utf-8",
        "matrix.js": "text/javascript; charset=utf-8",
        "network.js": "text/javascript; charset=utf-8",
    }
)
KEEPALIVE_SECONDS = 15.0


class NodeAction(StrEnum):
    KILL = "kill"
    RESTART = "restart"
    LEAVE = "leave"


class PartitionRequest(BaseModel):
    groups: list[list[str]]


class Done(BaseModel):
    """What a control answers: a sentence for the page, and the virtual time it acted at."""

    ok: bool = True
    message: str
    now: float


async def get_session(request: Request) -> DemoSession:
    session: DemoSession = request.app.state.session
    return session


SessionDep = Annotated[DemoSession, Depends(get_session)]


def _done(session: DemoSession, message: str) -> Done:
    return Done(message=message, now=round(session.world.now, 3))


def _static(name: str) -> bytes:
    return resources.files("agent.demo").joinpath("static", name).read_bytes()


def create_demo_app(session: DemoSession) -> FastAPI:
    app = FastAPI(
        title="gossip-agent demo",
        description="Watch and break a simulated Nomad cluster: the teaching demo's control API.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.session = session

    @app.exception_handler(DemoInputError)
    async def bad_input(request: Request, exc: DemoInputError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return JSONResponse({"error": "; ".join(parts) or "invalid request"}, status_code=400)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui")

    @app.get("/ui", include_in_schema=False)
    async def page() -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8")

    @app.get("/ui/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        media = STATIC_FILES.get(name)
        if media is None:
            return Response(status_code=404)
        return Response(_static(name), media_type=media, headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/v1/sim/state", summary="Virtual time, seed, every node's truth and view")
    async def get_state(session: SessionDep) -> Any:
        return state_json(session.world, session.urls)

    @app.get("/v1/sim/scenarios", summary="The scenarios a reset can run")
    async def get_scenarios() -> Any:
        return [
            {"name": s.name, "title": s.title, "explanation": s.explanation, "speed": s.speed}
            for s in SCENARIOS
        ]

    @app.get(
        "/v1/sim/events",
        summary="Server-sent events: one `state`, then `delta`s at most 5 a second",
        response_class=StreamingResponse,
    )
    async def events(session: SessionDep, request: Request) -> StreamingResponse:
        return StreamingResponse(
            _stream(session, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/v1/sim/nodes/{name}/pause", summary="Stall a node's process for `seconds`")
    async def pause_node(
        name: str, session: SessionDep, seconds: Annotated[float, Query()] = 5.0
    ) -> Done:
        session.world.pause(name, seconds)
        return _done(session, f"paused {name} for {seconds:g} s")

    @app.post("/v1/sim/nodes/{name}/{action}", summary="Kill, restart or gracefully leave a node")
    async def node_action(name: str, action: NodeAction, session: SessionDep) -> Done:
        world = session.world
        if action is NodeAction.KILL:
            world.kill(name)
        elif action is NodeAction.RESTART:
            world.restart(name)
        else:
            world.leave(name)
        await asyncio.sleep(0)  # let a started agent command issue its first step now
        return _done(session, f"{action.value} {name}")

    @app.post("/v1/sim/force-leave", summary="Node `by` force-leaves `node` (optionally pruned)")
    async def force_leave(
        session: SessionDep,
        by: Annotated[str, Query()],
        node: Annotated[str, Query()],
        prune: Annotated[bool, Query()] = False,
    ) -> Done:
        session.world.force_leave(by, node, prune)
        await asyncio.sleep(0)
        return _done(session, f"{by} force-leaves {node}")

    @app.post("/v1/sim/partition", summary='Partition by groups: {"groups": [["s1"], ["s2"]]}')
    async def partition(session: SessionDep, body: Annotated[PartitionRequest, Body()]) -> Done:
        session.world.partition(body.groups)
        return _done(session, "partitioned")

    @app.post("/v1/sim/heal", summary="Remove every partition")
    async def heal(session: SessionDep) -> Done:
        session.world.heal()
        return _done(session, "healed")

    @app.post("/v1/sim/loss", summary="Datagram loss probability for every link")
    async def loss(session: SessionDep, rate: Annotated[float, Query()]) -> Done:
        session.world.set_loss(rate)
        return _done(session, f"loss {rate:g}")

    @app.post("/v1/sim/latency", summary="Extra one-way latency in milliseconds")
    async def latency(session: SessionDep, ms: Annotated[float, Query()]) -> Done:
        session.world.set_latency(ms)
        return _done(session, f"latency {ms:g} ms")

    @app.post("/v1/sim/speed", summary="Virtual seconds per wall second")
    async def speed(session: SessionDep, x: Annotated[float, Query()]) -> Done:
        session.world.set_speed(x)
        return _done(session, f"speed {x:g}")

    @app.post("/v1/sim/pause", summary="Stop the clock")
    async def pause_clock(session: SessionDep) -> Done:
        session.world.pause_clock()
        return _done(session, "paused")

    @app.post("/v1/sim/play", summary="Let the clock follow the wall clock again")
    async def play(session: SessionDep) -> Done:
        session.world.play()
        return _done(session, "playing")

    @app.post("/v1/sim/step", summary="Move the clock by `seconds` at once")
    async def step(session: SessionDep, seconds: Annotated[float, Query()] = 1.0) -> Done:
        await session.world.step(seconds)
        return _done(session, f"stepped {seconds:g} s")

    @app.post("/v1/sim/reset", summary="Start over with a seed and a scenario")
    async def reset(
        session: SessionDep,
        seed: Annotated[int, Query(ge=0)],
        scenario: Annotated[str, Query()] = "",
    ) -> Done:
        await session.reset(seed, scenario)
        return _done(session, f"reset to seed {seed}" + (f", {scenario}" if scenario else ""))

    return app


async def _stream(session: DemoSession, request: Request) -> AsyncIterator[str]:
    cursor = Cursor()
    yield _sse("state", state_json(session.world, session.urls, cursor))
    quiet = 0.0
    interval = 1.0 / UPDATES_PER_SECOND
    while not session.closing.is_set():
        await asyncio.sleep(interval)
        if await request.is_disconnected():
            return
        delta = delta_json(session.world, session.urls, cursor)
        if delta is None:
            quiet += interval
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keepalive\n\n"
            continue
        quiet = 0.0
        if delta.get("full"):
            yield _sse("state", delta["state"])
        else:
            yield _sse("delta", delta)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class DemoAddressApp:
    """The demo's own address: `/v1/agent/*` and the rest of Nomad's `/v1/` go to the first
    server's agent API (when agent APIs are on); the page and `/v1/sim/` to the demo app."""

    def __init__(self, demo: ASGIApp, session: DemoSession, first: str | None) -> None:
        self.demo = demo
        self.session = session
        self.first = first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        http = self.session.http
        if (
            self.first is not None
            and http is not None
            and path.startswith("/v1/")
            and not path.startswith("/v1/sim/")
        ):
            await http.app_of(self.first)(scope, receive, send)
            return
        await self.demo(scope, receive, send)
