"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-nomad, requests and the agent read NOMAD_*, GOSSIP_AGENT_* and proxy
    variables from the environment: the tests' agents and clients see none of them."""
    for key in list(os.environ):
        if key.startswith(("NOMAD_", "GOSSIP_AGENT_")) or key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NO_PROXY", "*")
