"""Where a command's output and errors go, and when they are coloured.

Nomad's CLI prints results plainly on stdout and errors on stderr, red only when stdout is a
terminal (mitchellh/cli's ColoredUi). Tables are never coloured or re-wrapped, so piping
them into `grep`/`awk` sees the exact columns; errors and warnings go through rich, which
colours them on a terminal and honours NO_COLOR, and prints them unchanged otherwise.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from rich.console import Console


class Ui:
    """A command's two streams; tests hand in `io.StringIO`s (never a terminal)."""

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self._err_console = Console(file=self.err, soft_wrap=True, highlight=False)

    def output(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def output_json(self, value: Any) -> None:
        """Nomad's `-json`: Go's json.MarshalIndent(value, "", "    ")."""
        self.output(json.dumps(value, indent=4, ensure_ascii=False))

    def error(self, text: str) -> None:
        self._err_console.print(text, style="red", markup=False)

    def warn(self, text: str) -> None:
        self._err_console.print(text, style="yellow", markup=False)
