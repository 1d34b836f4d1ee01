"""Finding and running a Nomad-style command: `gossip-agent server members -detailed`.

The command is the longest run of leading words that names one (`operator raft list-peers`);
what follows is parsed with Go's flag rules against the general flags and the command's own.
A word that starts a group but names no command (`gossip-agent operator`) lists the group's
commands. Every failure is one or two lines on stderr and exit status 1; `-help` prints the
command's help on stdout, exit status 0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from agent.cli.nomad_commands import (
    agent_info,
    monitor,
    nodes,
    operator_raft,
    servers,
    status,
)
from agent.cli.nomad_commands.api_client import NomadApi
from agent.cli.nomad_commands.command import (
    PROG,
    Command,
    CommandFailed,
    Invocation,
    UsageError,
)
from agent.cli.nomad_commands.connection import Connection
from agent.cli.nomad_commands.flags import FlagError, HelpRequested, parse_flags
from agent.cli.nomad_commands.ui import Ui

COMMANDS: tuple[Command, ...] = (
    *servers.COMMANDS,
    *agent_info.COMMANDS,
    *nodes.COMMANDS,
    *operator_raft.COMMANDS,
    *monitor.COMMANDS,
    *status.COMMANDS,
)
FIRST_WORDS = frozenset(command.words[0] for command in COMMANDS)
"""What `gossip-agent` hands to this package (`server`, `agent-info`, `node`, ...)."""


def find_command(argv: Sequence[str]) -> tuple[Command | None, int]:
    """The command named by the most leading words of `argv`, and how many words it used."""
    best: tuple[Command | None, int] = (None, 0)
    for command in COMMANDS:
        size = len(command.words)
        if tuple(argv[:size]) == command.words and size > best[1]:
            best = (command, size)
    return best


def group_help(words: Sequence[str]) -> str:
    """The commands under `words` (`operator raft`), one per line with their synopsis."""
    prefix = tuple(words)
    members = [c for c in COMMANDS if c.words[: len(prefix)] == prefix]
    width = max(len(c.name) for c in members)
    lines = [f"Usage: {PROG} {' '.join(prefix)} <subcommand> [options] [args]", ""]
    lines += ["Subcommands:"]
    lines += [f"    {c.name.ljust(width)}    {c.synopsis}" for c in members]
    return "\n".join(lines)


def _group_words(argv: Sequence[str]) -> list[str]:
    """The longest leading words of `argv` that start at least one command."""
    words: list[str] = []
    for word in argv:
        candidate = (*words, word)
        if not any(c.words[: len(candidate)] == candidate for c in COMMANDS):
            break
        words.append(word)
    return words


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, ui: Ui | None = None) -> int:
    """Run the command `argv` names; its exit status."""
    ui = ui if ui is not None else Ui()
    env = os.environ if env is None else env
    command, used = find_command(argv)
    if command is None:
        words = _group_words(argv)
        rest = list(argv[len(words) :])
        if rest and rest[0] in ("-h", "-help", "--help"):
            ui.output(group_help(words))
            return 0
        if rest:
            ui.error(f"unknown command: {PROG} {' '.join([*words, rest[0]])}")
        ui.error(group_help(words))
        return 1
    try:
        flags = parse_flags(argv[used:], command.all_flags())
    except HelpRequested:
        ui.output(command.help())
        return 0
    except FlagError as exc:
        ui.error(str(exc))
        ui.error(command.hint())
        return 1
    call = Invocation(NomadApi(Connection.resolve(flags, env)), flags, ui)
    try:
        return command.run(call)
    except UsageError as exc:
        ui.error(str(exc))
        ui.error(command.hint())
    except CommandFailed as exc:
        ui.error(str(exc))
    except KeyboardInterrupt:
        return 130
    return 1
