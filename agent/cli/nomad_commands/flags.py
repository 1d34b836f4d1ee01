"""Command-line flags parsed the way Go's `flag` package parses Nomad's.

Nomad users type `-address=http://x:4646`, `-detailed`, `-prune=false`, `--token T`; Go's
package takes one or two dashes, `-name=value` or `-name value` for strings, `-name` or
`-name=BOOL` for booleans (strconv.ParseBool), stops at the first argument that is not a
flag (or at `--`), and rejects an unknown flag by name. Matching it keeps muscle memory and
scripts written for `nomad` working, and its error texts are Go's own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gocompat import parse_go_bool


class FlagKind(enum.Enum):
    """What a flag takes: nothing or a Go bool (`-detailed`), or a string value."""

    BOOL = "bool"
    STRING = "string"


@dataclass(frozen=True)
class Flag:
    """One flag a command accepts."""

    name: str
    """Without dashes, as typed after them: `address`, `peer-address`."""
    kind: FlagKind
    usage: str
    placeholder: str = ""
    """Shown in help as `-name=<placeholder>`; empty for booleans."""

    def help_lines(self) -> str:
        head = f"-{self.name}" + (f"=<{self.placeholder}>" if self.placeholder else "")
        return f"  {head}\n    {self.usage}"


class FlagError(Exception):
    """A flag Go's parser would refuse; the message is Go's wording."""


class HelpRequested(Exception):
    """`-h`, `-help` or `--help` was given: show the command's help, exit 0."""


@dataclass(frozen=True)
class ParsedFlags:
    """The values given on the command line (absent flags are not in `given`) and the
    positional arguments after the flags."""

    given: Mapping[Flag, str | bool]
    positionals: tuple[str, ...]

    def is_set(self, flag: Flag) -> bool:
        return flag in self.given

    def boolean(self, flag: Flag) -> bool:
        value = self.given.get(flag, False)
        return value if isinstance(value, bool) else False

    def string(self, flag: Flag) -> str:
        value = self.given.get(flag, "")
        return value if isinstance(value, str) else ""


def parse_flags(argv: Sequence[str], flags: Sequence[Flag]) -> ParsedFlags:
    """Parse `argv` against `flags` with Go's rules.

    Raises:
        FlagError: an unknown flag, a missing value, a bad boolean, bad syntax.
        HelpRequested: `-h`/`-help` (unless a command defines such a flag itself).
    """
    by_name = {flag.name: flag for flag in flags}
    given: dict[Flag, str | bool] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if len(arg) < 2 or not arg.startswith("-"):
            break
        body = arg[2:] if arg.startswith("--") else arg[1:]
        if not body or body.startswith("-") or body.startswith("="):
            raise FlagError(f"bad flag syntax: {arg}")
        name, has_value, value = body.partition("=")
        flag = by_name.get(name)
        if flag is None:
            if name in ("h", "help"):
                raise HelpRequested
            raise FlagError(f"flag provided but not defined: -{name}")
        i += 1
        if flag.kind is FlagKind.BOOL:
            if not has_value:
                given[flag] = True
                continue
            try:
                given[flag] = parse_go_bool(value)
            except ValueError:
                raise FlagError(
                    f'invalid boolean value "{value}" for -{name}: parse error'
                ) from None
        elif has_value:
            given[flag] = value
        elif i < len(args):
            given[flag] = args[i]
            i += 1
        else:
            raise FlagError(f"flag needs an argument: -{name}")
    return ParsedFlags(given, tuple(args[i:]))
