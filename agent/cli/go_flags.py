"""Go's `flag` package rules on argparse, for every `gossip-agent` command that parses flags.

Nomad's commands take single-dash long flags (`-dev`, `-http-port 80`), never abbreviations,
and booleans in strconv.ParseBool's spellings (`-dev`, `-dev=true`, `-dev=false`). A usage
error is one line and exit status 1, so each command names the exception it turns into.
"""

from __future__ import annotations

import argparse
from types import MappingProxyType
from typing import Any, NoReturn

from gocompat import parse_go_bool


class GoFlagParser(argparse.ArgumentParser):
    """argparse with Go's rules; a subclass sets `usage_error` to its command's exception."""

    usage_error: type[Exception] = ValueError

    def error(self, message: str) -> NoReturn:
        raise self.usage_error(message)

    def _get_option_tuples(self, option_string: str) -> list[Any]:
        # Go's flag package takes no abbreviations; argparse before 3.12 still matched
        # single-dash prefixes (`-de` as `-dev`) despite allow_abbrev=False.
        return []


def go_bool(text: str) -> bool:
    """A boolean flag's value, as Go's flag package reads it (strconv.ParseBool)."""
    return parse_go_bool(text)


go_bool.__name__ = "boolean"  # argparse names the type in its error message

BOOLEAN: MappingProxyType[str, Any] = MappingProxyType(
    {"nargs": "?", "const": True, "type": go_bool, "metavar": "BOOL"}
)
"""add_argument keywords for a Go boolean flag: bare means true, `=false` means false."""
