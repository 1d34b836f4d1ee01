"""Nomad's CLI commands for talking to an agent: `server members`, `agent-info`, ...

They speak only Nomad's HTTP API (urllib), so they drive a real Nomad agent as well as a
gossip-agent; `dispatch.run(argv)` runs one, `FIRST_WORDS` says which words belong here.
"""

from agent.cli.nomad_commands.dispatch import COMMANDS, FIRST_WORDS, run

__all__ = ["COMMANDS", "FIRST_WORDS", "run"]
