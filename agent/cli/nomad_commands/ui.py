"""Where a command's output and errors go, and when they are coloured.

Nomad's CLI prints results plainly on stdout and errors on stderr, red only when stdout is a
terminal (mitchellh/cli's ColoredUi). Tables are never coloured or re-wrapped, so piping
them into `grep`/`awk` sees the exact columns; errors and warnings go through rich, which
colours them on a terminal (honouring NO_COLOR); elsewhere they are printed unchanged.
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
        self._message(text, "red")

    def warn(self, text: str) -> None:
        self._message(text, "yellow")

    def _message(self, text: str, style: str) -> None:
        if self._err_console.is_terminal:
            self._err_console.print(text, style=style, markup=False)
        else:  # byte for byte: rich would expand the tabs of Go's multierror text
            print(text, file=self.err, flush=True)
