"""`server members`, `server join` and `server force-leave`: the gossip pool of servers.

Laid out as Nomad 0.7's command/server_members.go, server_join.go and server_force_leave.go:
members sorted by name; the Leader column is true for the member whose `Addr:port-tag`
equals its region's `/v1/status/leader` (regions without a leader are skipped, as Nomad does
on "No cluster leader"); `-detailed` prints Name, Address, Port and every tag, sorted so the
output is stable (Go's map order is random).

A gossip-agent older than issue 12 has no `/v1/status/leader`: on its 404 the leader is taken
from `/v1/agent/self` (`stats.nomad.leader_addr`, the agent's own region), so the column is
right there too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.cli.nomad_commands.api_client import ApiError, NomadApi
from agent.cli.nomad_commands.columns import columnize
from agent.cli.nomad_commands.command import Command, CommandFailed, Invocation, UsageError
from agent.cli.nomad_commands.flags import Flag, FlagKind

DETAILED = Flag(
    "detailed",
    FlagKind.BOOL,
    "Show detailed information about each member. This dumps\n"
    "    a raw set of tags which shows more information than the\n"
    "    default output format.",
)
PRUNE = Flag("prune", FlagKind.BOOL, "Also remove the member from the list of members at once.")

NO_LEADER = "No cluster leader"


@dataclass(frozen=True)
class Member:
    """The fields of an AgentMember the commands show."""

    name: str
    address: str
    port: int
    status: str
    protocol: int
    tags: Mapping[str, str]

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Member:
        tags = raw.get("Tags") or {}
        return cls(
            name=str(raw.get("Name", "")),
            address=str(raw.get("Addr", "")),
            port=int(raw.get("Port", 0)),
            status=str(raw.get("Status", "")),
            protocol=int(raw.get("ProtocolCur", 0)),
            tags={str(k): str(v) for k, v in tags.items()},
        )

    @property
    def region(self) -> str:
        return self.tags.get("region", "")

    @property
    def rpc_address(self) -> str:
        """What `/v1/status/leader` names a server by (Nomad's `Addr:Tags["port"]`)."""
        return f"{self.address}:{self.tags.get('port', '')}"


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def _member_list(answer: Any) -> list[dict[str, Any]]:
    """`{"Members": [...]}` (Nomad 0.7 and later); a bare list from older agents."""
    members = answer.get("Members") if isinstance(answer, dict) else answer
    if not isinstance(members, list):
        raise ApiError("unexpected answer from /v1/agent/members")
    return [m for m in members if isinstance(m, dict)]


def _region_leader(api: NomadApi, region: str) -> str:
    """The leader's RPC address for `region`, "" when it has none.

    Raises:
        ApiError: any failure but "no leader".
    """
    try:
        leader = api.get_json("/v1/status/leader", region=region)
    except ApiError as exc:
        if NO_LEADER in str(exc):
            return ""
        if exc.status != 404:
            raise
        me = api.get_json("/v1/agent/self")  # an agent without /v1/status/leader
        stats = me.get("stats", {}) if isinstance(me, dict) else {}
        config = me.get("config", {}) if isinstance(me, dict) else {}
        if config.get("Region") != region:
            return ""
        return str(stats.get("nomad", {}).get("leader_addr", ""))
    return leader if isinstance(leader, str) else ""


def region_leaders(api: NomadApi, members: Sequence[Member]) -> dict[str, str]:
    """Nomad's regionLeaders: each region's leader address, regions without one left out."""
    leaders: dict[str, str] = {}
    for region in sorted({m.region for m in members}):
        if leader := _region_leader(api, region):
            leaders[region] = leader
    return leaders


def _is_leader(member: Member, leaders: Mapping[str, str]) -> bool:
    return leaders.get(member.region) == member.rpc_address


def members_table(members: Sequence[Member], leaders: Mapping[str, str]) -> str:
    rows = [["Name", "Address", "Port", "Status", "Leader", "Protocol", "Build"]]
    rows[0] += ["Datacenter", "Region"]
    for m in members:
        rows.append(
            [
                m.name,
                m.address,
                str(m.port),
                m.status,
                _go_bool(_is_leader(m, leaders)),
                str(m.protocol),
                m.tags.get("build", ""),
                m.tags.get("dc", ""),
                m.region,
            ]
        )
    return columnize(rows)


def members_detailed(members: Sequence[Member]) -> str:
    rows = [["Name", "Address", "Port", "Tags"]]
    for m in members:
        tags = ",".join(f"{k}={v}" for k, v in sorted(m.tags.items()))
        rows.append([m.name, m.address, str(m.port), tags])
    return columnize(rows)


def run_members(call: Invocation) -> int:
    if call.args:
        raise UsageError("This command takes no arguments")
    try:
        raw = _member_list(call.api.get_json("/v1/agent/members"))
    except ApiError as exc:
        raise CommandFailed(f"Error querying servers: {exc}") from None
    raw.sort(key=lambda m: str(m.get("Name", "")))
    members = [Member.from_api(m) for m in raw]
    try:
        leaders = region_leaders(call.api, members)
    except ApiError as exc:
        raise CommandFailed(f"Error determining leaders: {exc}") from None
    if call.json:
        for member, original in zip(members, raw, strict=True):
            tags = dict(original.get("Tags") or {})
            tags["Leader"] = _go_bool(_is_leader(member, leaders))
            original["Tags"] = tags
        call.ui.output_json(raw)
    elif call.flags.boolean(DETAILED):
        call.ui.output(members_detailed(members))
    else:
        call.ui.output(members_table(members, leaders))
    return 0


def run_join(call: Invocation) -> int:
    if not call.args:
        raise UsageError("One or more node addresses must be given as arguments")
    try:
        answer = call.api.request("PUT", "/v1/agent/join", [("address", a) for a in call.args])
        result = answer.json()
    except ApiError as exc:
        raise CommandFailed(f"Error joining: {exc}") from None
    if call.json:
        call.ui.output_json(result)
    error = result.get("error", "") if isinstance(result, dict) else ""
    if error:
        raise CommandFailed(f"Error joining: {error}")
    if not call.json:
        call.ui.output(f"Joined {int(result.get('num_joined', 0))} servers successfully")
    return 0


def run_force_leave(call: Invocation) -> int:
    if len(call.args) != 1:
        raise UsageError("This command takes one argument: <node>")
    node = call.args[0]
    params = [("node", node)]
    if call.flags.boolean(PRUNE):
        params.append(("prune", "true"))
    try:
        call.api.request("PUT", "/v1/agent/force-leave", params)
    except ApiError as exc:
        raise CommandFailed(f"Error force-leaving server {node}: {exc}") from None
    return 0  # Nomad prints nothing on success; the answer has no body, so -json neither


COMMANDS = (
    Command(
        ("server", "members"),
        "",
        "Display a list of known servers and their status",
        "Display a list of the known servers and their status. Only Nomad servers are\n"
        "  able to service this command.",
        run_members,
        (DETAILED,),
    ),
    Command(
        ("server", "join"),
        "<addr> [<addr>...]",
        "Join server nodes together",
        "Joins the local server to one or more Nomad servers. Joining is\n"
        "  only required for server nodes, and only needs to succeed\n"
        "  against one or more of the provided addresses. Once joined, the\n"
        "  gossip layer will handle discovery of the other server nodes in\n"
        "  the cluster.",
        run_join,
    ),
    Command(
        ("server", "force-leave"),
        "<node>",
        "Force a server into the 'left' state",
        'Forces an server to enter the "left" state. This can be used to\n'
        "  eject nodes which have failed and will not rejoin the cluster.\n"
        "  Note that if the member is actually still alive, it will\n"
        "  eventually rejoin the cluster again.",
        run_force_leave,
        (PRUNE,),
    ),
)
