"""Demo fixtures: a `DemoServer` on its own event-loop thread, served on loopback.

The clock starts paused, so a test moves virtual time itself (`POST /v1/sim/step`) and every
answer is the state at that virtual moment: the same calls give the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from agent.demo.server import DemoServer
from agent.demo.settings import DemoSettings
from agent.launch.loop_thread import LoopThread


@dataclass
class RunningDemo:
    thread: LoopThread
    server: DemoServer
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def state(self) -> dict[str, object]:
        response = self.client.get("/v1/sim/state")
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.post(path, **kwargs)  # type: ignore[arg-type]

    def step(self, seconds: float) -> None:
        response = self.post("/v1/sim/step", params={"seconds": seconds})
        assert response.status_code == 200, response.text


def start_demo(settings: DemoSettings, bind_base: str) -> RunningDemo:
    thread = LoopThread("demo-test-loop")
    server = DemoServer(settings, bind_base=bind_base)
    try:
        thread.call(server.start)
    except BaseException:
        thread.close()
        raise
    client = httpx.Client(base_url=server.url, timeout=30.0)
    return RunningDemo(thread, server, client)


def stop_demo(demo: RunningDemo) -> None:
    demo.client.close()
    demo.thread.call(demo.server.close)
    demo.thread.close()


@pytest.fixture
def demo_factory() -> Iterator[Callable[..., RunningDemo]]:
    """`demo_factory(nodes=2, ...)`: a paused demo on 127.0.0.1 (port chosen by the OS)."""
    started: list[RunningDemo] = []

    def make(bind_base: str = "127.0.0.91", **values: object) -> RunningDemo:
        base: dict[str, object] = {"http_port": 0, "start_paused": True, "seed": 3}
        base.update(values)
        demo = start_demo(DemoSettings(**base), bind_base)  # type: ignore[arg-type]
        started.append(demo)
        return demo

    yield make
    for demo in started:
        stop_demo(demo)
