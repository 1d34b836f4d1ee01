"""The one error the demo's control surface raises for bad input."""

from __future__ import annotations


class DemoInputError(ValueError):
    """A control request that cannot be carried out; nothing was changed (HTTP 400)."""
