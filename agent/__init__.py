"""gossip-agent's composition layer: the Agent, its Settings, its HTTP app and its drivers.

`Agent`, `Settings` and `create_app` are re-exported lazily, so `import agent.sim` (the
simulator) does not pull in FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.agent import Agent
    from agent.api.app import create_app
    from agent.config.settings import Settings

__all__ = ["Agent", "Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "Agent":
        from agent.agent import Agent

        return Agent
    if name == "Settings":
        from agent.config.settings import Settings

        return Settings
    if name == "create_app":
        from agent.api.app import create_app

        return create_app
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
