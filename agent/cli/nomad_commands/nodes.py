"""`node status [ID]`: the region's client nodes, as Nomad 0.7's command/node_status.go.

Without an ID: `ID  DC  Name  Class  Drain  Status`, IDs cut to 8 characters unless
`-verbose`, an empty class shown as `<none>`, nothing at all when no node is registered.
With an ID (a prefix of at least two characters; an odd length loses its last character, as
Nomad's identifiers are hex pairs): the matching nodes from `/v1/nodes?prefix=`, a table if
several match, else the node from `/v1/node/<id>` as `key = value` lines. What a real Nomad
adds below that block (allocations, resource use) comes from jobs, which a gossip agent
does not run, so it is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.cli.nomad_commands.api_client import ApiError
from agent.cli.nomad_commands.columns import format_kv, format_list
from agent.cli.nomad_commands.command import Command, CommandFailed, Invocation, UsageError
from agent.cli.nomad_commands.flags import Flag, FlagKind

SHORT_ID, FULL_ID = 8, 36
VERBOSE = Flag("verbose", FlagKind.BOOL, "Display full information (whole IDs).")


@dataclass(frozen=True)
class NodeStub:
    """The fields of Nomad's NodeListStub the commands show."""

    id: str
    datacenter: str
    name: str
    node_class: str
    drain: bool
    status: str

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> NodeStub:
        return cls(
            id=str(raw.get("ID", "")),
            datacenter=str(raw.get("Datacenter", "")),
            name=str(raw.get("Name", "")),
            node_class=str(raw.get("NodeClass", "")),
            drain=bool(raw.get("Drain", False)),
            status=str(raw.get("Status", "")),
        )


def _drain(value: bool) -> str:
    return "true" if value else "false"


def nodes_table(nodes: Sequence[NodeStub], id_length: int) -> str:
    rows = [["ID", "DC", "Name", "Class", "Drain", "Status"]]
    rows += [
        [n.id[:id_length], n.datacenter, n.name, n.node_class, _drain(n.drain), n.status]
        for n in nodes
    ]
    return format_list(rows)


def node_block(node: NodeStub, id_length: int) -> str:
    return format_kv(
        [
            ("ID", node.id[:id_length]),
            ("Name", node.name),
            ("Class", node.node_class),
            ("DC", node.datacenter),
            ("Drain", _drain(node.drain)),
            ("Status", node.status),
        ]
    )


def _node_list(answer: Any) -> list[Mapping[str, Any]]:
    if not isinstance(answer, list):
        raise ApiError("unexpected answer from /v1/nodes")
    return [n for n in answer if isinstance(n, dict)]


def run_node_status(call: Invocation) -> int:
    if len(call.args) > 1:
        raise UsageError("This command takes either no arguments or one: <node>")
    length = FULL_ID if call.flags.boolean(VERBOSE) else SHORT_ID
    if not call.args:
        try:
            raw = _node_list(call.api.get_json("/v1/nodes"))
        except ApiError as exc:
            raise CommandFailed(f"Error querying node status: {exc}") from None
        if call.json:
            call.ui.output_json(raw)
        elif raw:
            call.ui.output(nodes_table([NodeStub.from_api(n) for n in raw], length))
        return 0
    prefix = call.args[0]
    if len(prefix) == 1:
        raise CommandFailed("Identifier must contain at least two characters.")
    if len(prefix) % 2 == 1:
        prefix = prefix[:-1]
    try:
        matches = _node_list(call.api.get_json("/v1/nodes", [("prefix", prefix)]))
    except ApiError as exc:
        raise CommandFailed(f"Error querying node info: {exc}") from None
    matches = [n for n in matches if str(n.get("ID", "")).startswith(prefix)]
    if not matches:
        raise CommandFailed(f'No node(s) with prefix "{prefix}" found')
    if len(matches) > 1:
        table = nodes_table([NodeStub.from_api(n) for n in matches], length)
        call.ui.output(f"Prefix matched multiple nodes\n\n{table}")
        return 0
    try:
        node = call.api.get_json(f"/v1/node/{matches[0]['ID']}")
    except ApiError as exc:
        raise CommandFailed(f"Error querying node info: {exc}") from None
    if call.json:
        call.ui.output_json(node)
    else:
        call.ui.output(node_block(NodeStub.from_api(node), length))
    return 0


COMMANDS = (
    Command(
        ("node", "status"),
        "[<node>]",
        "Display status information about nodes",
        "Display status information about a given node. The list of nodes\n"
        "  returned includes only nodes which jobs may be scheduled to, and\n"
        "  includes status and other high-level information.",
        run_node_status,
        (VERBOSE,),
    ),
)
