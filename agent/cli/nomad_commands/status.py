"""`status leader`: the region's raft leader, from `/v1/status/leader`.

Nomad has the endpoint (a JSON string `"ip:port"`) but no command for it; this one prints
the address on one line so scripts can use it. A region without a leader (Nomad's 500
"No cluster leader", or gossip-agent's `""`) is an error, exit status 1.
"""

from __future__ import annotations

from agent.cli.nomad_commands.api_client import ApiError
from agent.cli.nomad_commands.command import Command, CommandFailed, Invocation, UsageError

NO_LEADER = "No cluster leader"


def run_status_leader(call: Invocation) -> int:
    if call.args:
        raise UsageError("This command takes no arguments")
    try:
        leader = call.api.get_json("/v1/status/leader")
    except ApiError as exc:
        raise CommandFailed(f"Error querying leader: {exc}") from None
    if not isinstance(leader, str):
        raise CommandFailed("Error querying leader: unexpected answer from /v1/status/leader")
    if call.json:
        call.ui.output_json(leader)
        return 0 if leader else 1
    if not leader:
        raise CommandFailed(f"Error querying leader: {NO_LEADER}")
    call.ui.output(leader)
    return 0


COMMANDS = (
    Command(
        ("status", "leader"),
        "",
        "Display the address of the region's raft leader",
        "Display the RPC address (ip:port) of the raft leader of the region\n"
        "  (the agent's own, or -region's).",
        run_status_leader,
    ),
)
