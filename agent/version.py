"""Which Nomad this agent answers as: Nomad 0.7's HTTP semantics with 0.5.5-style values.

Nomad's 0.7 Agent API page (website/source/api/agent.html.md) shows sample data from a 0.5.5
build; the values here follow those samples (e.g. the `build` tag's form).
"""

from __future__ import annotations

NOMAD_VERSION = "0.7.0"
"""The Nomad release whose HTTP semantics the API follows (ACLs, /agent/health, ?pretty)."""
NOMAD_PRERELEASE = ""
NOMAD_REVISION = ""
"""Nomad reports its git commit here; we are not a Nomad build, so it stays empty."""


def build_tag() -> str:
    """The serf `build` tag, 0.5.5 style: version and prerelease glued (`0.5.5dev`)."""
    return NOMAD_VERSION + NOMAD_PRERELEASE
