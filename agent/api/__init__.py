"""The HTTP layer: `create_app(agent)` serves Nomad's `/v1/agent/*` for any `AgentAPI`."""

from agent.api.app import create_app

__all__ = ["create_app"]
