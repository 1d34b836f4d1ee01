"""The HTTP layer depends on the `AgentAPI` protocol only (STYLE B1/B7), checked on the source.

`agent.api` may import agent.protocol, agent.errors, agent.durations and agent.version, never
the concrete Agent, its roles or a runtime, and nothing from the protocol cores.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
API_FILES = sorted((ROOT / "agent" / "api").rglob("*.py"))
ALLOWED = ("agent.api", "agent.protocol", "agent.errors", "agent.durations", "agent.version")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_api_uses_the_protocol_only(path: Path) -> None:
    ours = [m for m in _imports(path) if m.split(".")[0] in ("agent", "gossip", "raft_stub")]
    assert [m for m in ours if not m.startswith(ALLOWED)] == []


def test_package_reexports_lazily() -> None:
    import agent

    assert agent.__all__ == ["Agent", "Settings", "create_app"]
    assert agent.Agent.__name__ == "Agent"
    assert agent.Settings.__name__ == "Settings"
    assert callable(agent.create_app)
    with pytest.raises(AttributeError):
        agent.nothing  # noqa: B018
