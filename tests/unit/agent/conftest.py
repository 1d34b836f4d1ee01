"""Agent unit tests never see the developer's GOSSIP_AGENT_* variables."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("GOSSIP_AGENT_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
