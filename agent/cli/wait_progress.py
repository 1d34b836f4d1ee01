"""How `gossip-agent cluster` shows a long wait: live on a terminal, plain lines elsewhere.

Starting the cluster takes seconds to tens of seconds (processes start, servers find each
other, elect a leader, clients register). On a terminal a spinner line (rich) says what is
still awaited and for how long, and each milestone stays on screen as a line of its own;
in a log file or a pipe only the milestone lines appear, once each, so the output stays
readable and greppable. Everything the command prints goes through the display, so a
message never tears the spinner line.
"""

from __future__ import annotations

from typing import IO, Protocol

from rich.console import Console
from rich.status import Status


class WaitDisplay(Protocol):
    def say(self, text: str) -> None:
        """A line that stays (a milestone, a report, an error)."""

    def update(self, text: str) -> None:
        """What is being waited for now; shown only while it is current."""

    def close(self) -> None:
        """The wait is over: the live line goes away (lines said stay)."""


class PlainDisplay:
    """Lines only; `update` shows nothing, since a pipe has no line to redraw."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def update(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class TerminalDisplay:
    """A rich spinner line under the lines said so far."""

    def __init__(self, out: IO[str]) -> None:
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self._status: Status | None = None

    def say(self, text: str) -> None:
        self.console.print(text, markup=False)

    def update(self, text: str) -> None:
        if self._status is None:
            self._status = self.console.status(text, spinner="dots")
            self._status.start()
        else:
            self._status.update(text)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def display_for(out: IO[str]) -> WaitDisplay:
    """Live progress on a terminal, plain lines on anything else."""
    return TerminalDisplay(out) if out.isatty() else PlainDisplay(out)
