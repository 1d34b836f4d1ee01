"""`gossip-agent cluster`'s waits: a live line on a terminal, only milestone lines elsewhere."""

from __future__ import annotations

import io

from agent.cli.wait_progress import PlainDisplay, TerminalDisplay, display_for


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_plain_lines_and_no_progress() -> None:
    out = io.StringIO()
    display = display_for(out)
    assert isinstance(display, PlainDisplay)
    display.update("waiting for a raft leader (3 s)")
    display.say("==> raft leader elected: 127.0.0.11:4647 (3.2 s)")
    display.update("waiting for client1 to register (4 s)")
    display.close()
    assert out.getvalue() == "==> raft leader elected: 127.0.0.11:4647 (3.2 s)\n"


def test_a_terminal_gets_a_live_line_and_the_milestones() -> None:
    out = FakeTerminal()
    display = display_for(out)
    assert isinstance(display, TerminalDisplay)
    display.update("waiting for a raft leader (1 s)")
    display.say("==> raft leader elected: [127.0.0.11:4647]")  # no markup interpretation
    display.update("waiting for client1 to register (2 s)")
    display.close()
    display.close()  # twice is harmless (stop() closes again)
    text = out.getvalue()
    assert "==> raft leader elected: [127.0.0.11:4647]" in text
    assert "waiting for" in text
