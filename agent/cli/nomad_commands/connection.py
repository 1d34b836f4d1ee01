"""Where a command sends its requests, and as whom: Nomad's `-address`, `-region`, `-token`.

Nomad's CLI (command/meta.go over api.DefaultConfig) takes each setting from its flag if
given and not empty, else from the environment (NOMAD_ADDR, NOMAD_REGION, NOMAD_TOKEN), else
the default: http://127.0.0.1:4646, the agent's own region, no token. The same precedence
here means a shell set up for `nomad` drives `gossip-agent` unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from agent.cli.nomad_commands.flags import Flag, FlagKind, ParsedFlags

DEFAULT_ADDRESS = "http://127.0.0.1:4646"


class EnvVar(enum.StrEnum):
    ADDRESS = "NOMAD_ADDR"
    REGION = "NOMAD_REGION"
    TOKEN = "NOMAD_TOKEN"


ADDRESS = Flag(
    "address",
    FlagKind.STRING,
    "The address of the Nomad server.\n    Overrides the NOMAD_ADDR environment variable if set.\n"
    f"    Default = {DEFAULT_ADDRESS}",
    "addr",
)
REGION = Flag(
    "region",
    FlagKind.STRING,
    "The region of the Nomad servers to forward commands to.\n"
    "    Overrides the NOMAD_REGION environment variable if set.\n"
    "    Defaults to the Agent's local region.",
    "region",
)
TOKEN = Flag(
    "token",
    FlagKind.STRING,
    "The SecretID of an ACL token to use to authenticate API requests with.\n"
    "    Overrides the NOMAD_TOKEN environment variable if set.",
    "token",
)
JSON = Flag("json", FlagKind.BOOL, "Print the API's answer as JSON instead of a table.")

GENERAL_FLAGS = (ADDRESS, REGION, TOKEN, JSON)
"""Every command takes these (Nomad's FlagSetClient), after its own name."""


@dataclass(frozen=True)
class Connection:
    """The agent's base URL, the region to ask for (empty: the agent's own) and the ACL
    token (empty: none)."""

    address: str = DEFAULT_ADDRESS
    region: str = ""
    token: str = ""

    @classmethod
    def resolve(cls, flags: ParsedFlags, env: Mapping[str, str]) -> Connection:
        """Flag over environment over default, each setting on its own; an empty value
        counts as unset, as in Nomad."""

        def pick(flag: Flag, var: EnvVar, default: str) -> str:
            return flags.string(flag) or env.get(var.value, "") or default

        address = pick(ADDRESS, EnvVar.ADDRESS, DEFAULT_ADDRESS)
        if "://" not in address:
            address = f"http://{address}"  # `-address=127.0.0.1:4646` is a common slip
        return cls(
            address=address.rstrip("/"),
            region=pick(REGION, EnvVar.REGION, ""),
            token=pick(TOKEN, EnvVar.TOKEN, ""),
        )
