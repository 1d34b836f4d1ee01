"""What a Nomad-style command is: its words, flags, help and the function that runs it.

Each command module describes its commands with `Command` values and the dispatcher
(`dispatch.py`) does the common part: parse the general and the command's flags with Go's
rules, resolve the connection (flag, env, default), turn usage mistakes into one line plus a
hint and exit status 1, and hand the command an `Invocation`. A command reports failure by
raising `CommandFailed` with Nomad's wording; it never prints a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.cli.nomad_commands.api_client import NomadApi
from agent.cli.nomad_commands.connection import GENERAL_FLAGS, JSON
from agent.cli.nomad_commands.flags import Flag, ParsedFlags
from agent.cli.nomad_commands.ui import Ui

PROG = "gossip-agent"


class CommandFailed(Exception):
    """Printed as it is on stderr (Nomad's wording), exit status 1."""


class UsageError(Exception):
    """Wrong arguments: the message, then a pointer to `-help`; exit status 1."""


@dataclass(frozen=True)
class Invocation:
    """One run of a command: its API client, its parsed flags and where output goes."""

    api: NomadApi
    flags: ParsedFlags
    ui: Ui

    @property
    def args(self) -> tuple[str, ...]:
        return self.flags.positionals

    @property
    def json(self) -> bool:
        return self.flags.boolean(JSON)


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    """`("server", "members")`: what follows `gossip-agent`."""
    arguments: str
    """The positional part of the usage line, e.g. `<addr> [<addr>...]`."""
    synopsis: str
    description: str
    run: Callable[[Invocation], int]
    flags: tuple[Flag, ...] = ()
    """The command's own flags; the general ones (`GENERAL_FLAGS`) come on top."""

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def all_flags(self) -> tuple[Flag, ...]:
        return (*GENERAL_FLAGS, *self.flags)

    def help(self) -> str:
        usage = f"Usage: {PROG} {self.name} [options] {self.arguments}".rstrip()
        parts = [usage, "", f"  {self.description}", "", "General Options:", ""]
        parts += [flag.help_lines() + "\n" for flag in GENERAL_FLAGS]
        if self.flags:
            parts += [f"{self.name.title()} Options:", ""]
            parts += [flag.help_lines() + "\n" for flag in self.flags]
        return "\n".join(parts).rstrip()

    def hint(self) -> str:
        """Nomad's commandErrorText."""
        return f"For additional help try '{PROG} {self.name} -help'"
