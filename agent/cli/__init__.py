"""The `gossip-agent` command line: `agent` (Nomad's agent command) and `cluster`."""

from agent.cli.main import main

__all__ = ["main"]
