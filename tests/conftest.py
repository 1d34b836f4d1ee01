"""Shared fixtures. The seeds, `sim_cluster`, `sim_agents` and `agent_cluster` come from our own
pytest plugin (`agent.testing.plugin`): registered by the `pytest11` entry point once this
checkout is pip-installed, and loaded from here otherwise, so the suite runs either way. No
test sees the developer's GOSSIP_AGENT_* variables; anyio tests run on asyncio."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline (a loaded 2-core CI machine must not turn slowness into failures);
# failing examples print a blob that replays them.
settings.register_profile(
    "gossip", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("gossip")

_INSTALLED = any(ep.name == "gossip_agent" for ep in entry_points(group="pytest11"))
pytest_plugins = [] if _INSTALLED else ["agent.testing.plugin"]


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("GOSSIP_AGENT_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
