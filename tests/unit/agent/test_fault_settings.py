"""Turning fault injection on: the `-enable-fault-injection` flag, the config key, the env.

It is never on by default, not even in dev mode, and an agent without it has no fault table
for its drivers to consult; with it, the agent's drivers share the agent's one table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli.main import CliError, load_settings
from agent.launch.simulated import SimAgents

pytestmark = pytest.mark.anyio


def test_flag_is_a_go_style_bool() -> None:
    assert not load_settings(["-dev"]).enable_fault_injection
    assert load_settings(["-dev", "-enable-fault-injection"]).enable_fault_injection
    assert load_settings(["-dev", "--enable-fault-injection=true"]).enable_fault_injection
    assert not load_settings(["-dev", "-enable-fault-injection=false"]).enable_fault_injection
    with pytest.raises(CliError, match="boolean"):
        load_settings(["-dev", "-enable-fault-injection=maybe"])


def test_config_file_key_and_flag_precedence(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"enable_fault_injection": True}))
    assert load_settings(["-dev", "-config", str(path)]).enable_fault_injection
    flagged_off = ["-dev", "-config", str(path), "-enable-fault-injection=false"]
    assert not load_settings(flagged_off).enable_fault_injection


def test_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOSSIP_AGENT_ENABLE_FAULT_INJECTION", "true")
    assert load_settings(["-dev"]).enable_fault_injection


async def test_the_agent_owns_the_table_only_when_asked() -> None:
    world = SimAgents(seed=3)
    plain = await world.add("plain", dev=True)
    assert plain.faults is None
    faulty = await world.add("faulty", dev=True, enable_fault_injection=True)
    assert faulty.faults is not None and not faulty.faults.active
