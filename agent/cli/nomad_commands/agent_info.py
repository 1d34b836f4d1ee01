"""`agent-info`: the agent's `/v1/agent/self` statistics, as Nomad's command/agent_info.go.

Each stats section (client, nomad, raft, runtime, serf) is a line of its own followed by its
`  key = value` lines, sections and keys sorted. `-json` prints the whole `/v1/agent/self`
answer (config, member and stats), as Nomad's later `-json` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cli.nomad_commands.api_client import ApiError
from agent.cli.nomad_commands.command import Command, CommandFailed, Invocation, UsageError


def _go_value(value: Any) -> str:
    """Go's `%v` for what JSON decodes to."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def format_stats(stats: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for section in sorted(stats):
        lines.append(section)
        data = stats[section]
        if isinstance(data, Mapping):
            lines += [f"  {key} = {_go_value(data[key])}" for key in sorted(data)]
    return "\n".join(lines)


def run_agent_info(call: Invocation) -> int:
    if call.args:
        raise UsageError("This command takes no arguments")
    try:
        me = call.api.get_json("/v1/agent/self")
    except ApiError as exc:
        raise CommandFailed(f"Error querying agent info: {exc}") from None
    if call.json:
        call.ui.output_json(me)
        return 0
    stats = me.get("stats") if isinstance(me, dict) else None
    call.ui.output(format_stats(stats if isinstance(stats, Mapping) else {}))
    return 0


COMMANDS = (
    Command(
        ("agent-info",),
        "",
        "Display status information about the local agent",
        "Display status information about the local agent.",
        run_agent_info,
    ),
)
