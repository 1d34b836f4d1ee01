"""`operator raft list-peers` and `operator raft remove-peer`, as Nomad 0.7's
command/operator_raft_list.go and operator_raft_remove.go.

list-peers prints `Node  ID  Address  State  Voter` from `/v1/operator/raft/configuration`
(State `leader` or `follower`); remove-peer sends `DELETE /v1/operator/raft/peer?address=`
and says `Removed peer with address "..."`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.cli.nomad_commands.api_client import ApiError
from agent.cli.nomad_commands.columns import columnize
from agent.cli.nomad_commands.command import Command, CommandFailed, Invocation, UsageError
from agent.cli.nomad_commands.flags import Flag, FlagKind

STALE = Flag(
    "stale",
    FlagKind.BOOL,
    "Let any server answer (default: the leader), even without a leader.",
)
PEER_ADDRESS = Flag(
    "peer-address",
    FlagKind.STRING,
    "Remove a Nomad server with given address from the Raft configuration.\n"
    '    The format is "IP:port"',
    "addr",
)


def _go_bool(value: object) -> str:
    return "true" if value is True else "false"


def peers_table(configuration: Mapping[str, Any]) -> str:
    rows = [["Node", "ID", "Address", "State", "Voter"]]
    for server in configuration.get("Servers") or []:
        state = "leader" if server.get("Leader") is True else "follower"
        rows.append(
            [
                str(server.get("Node", "")),
                str(server.get("ID", "")),
                str(server.get("Address", "")),
                state,
                _go_bool(server.get("Voter")),
            ]
        )
    return columnize(rows)


def run_list_peers(call: Invocation) -> int:
    if call.args:
        raise UsageError("This command takes no arguments")
    params = [("stale", "true")] if call.flags.boolean(STALE) else []
    try:
        configuration = call.api.get_json("/v1/operator/raft/configuration", params)
        if not isinstance(configuration, dict):
            raise ApiError("unexpected answer from /v1/operator/raft/configuration")
    except ApiError as exc:
        raise CommandFailed(f"Failed to retrieve raft configuration: {exc}") from None
    if call.json:
        call.ui.output_json(configuration)
    else:
        call.ui.output(peers_table(configuration))
    return 0


def run_remove_peer(call: Invocation) -> int:
    if call.args:
        raise UsageError("This command takes no arguments; give -peer-address")
    address = call.flags.string(PEER_ADDRESS)
    if not address:
        raise CommandFailed("an address is required for the peer to remove")
    try:
        call.api.request("DELETE", "/v1/operator/raft/peer", [("address", address)])
    except ApiError as exc:
        raise CommandFailed(f"Failed to remove raft peer: {exc}") from None
    call.ui.output(f'Removed peer with address "{address}"')
    return 0


COMMANDS = (
    Command(
        ("operator", "raft", "list-peers"),
        "",
        "Display the current Raft peer configuration",
        "Displays the current Raft peer configuration.",
        run_list_peers,
        (STALE,),
    ),
    Command(
        ("operator", "raft", "remove-peer"),
        "",
        "Remove a Nomad server from the Raft configuration",
        "Remove the Nomad server with given -peer-address from the Raft configuration.\n\n"
        "  There are rare cases where a peer may be left behind in the Raft quorum even\n"
        "  though the server is no longer present and known to the cluster. This command\n"
        "  can be used to remove the failed server so that it no longer affects the\n"
        '  Raft quorum. If the server still shows in the output of "gossip-agent\n'
        '  server members", it is preferable to clean up by simply running\n'
        '  "gossip-agent server force-leave" instead of this command.',
        run_remove_peer,
        (PEER_ADDRESS,),
    ),
)
