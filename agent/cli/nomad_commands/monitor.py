"""`monitor [-log-level=LEVEL]`: stream an agent's log lines until Ctrl-C.

`GET /v1/agent/monitor?log_level=` answers with the log as it is written. gossip-agent sends
plain text; a real Nomad (0.10 and later) sends JSON frames `{"Data": "<base64>"}` unless
asked for `plain=true`: both are read, chosen by the answer's content type, so the command
works against either. `-json` asks for JSON log lines (`log_json=true`). When the agent ends
the stream, the command says so as Nomad does and exits 1; Ctrl-C exits 0.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator

from agent.cli.nomad_commands.api_client import ApiError
from agent.cli.nomad_commands.command import Command, CommandFailed, Invocation, UsageError
from agent.cli.nomad_commands.flags import Flag, FlagKind

LOG_LEVEL = Flag(
    "log-level",
    FlagKind.STRING,
    "The log level to use for log streaming. Defaults to INFO.\n"
    "    Possible values: TRACE, DEBUG, INFO, WARN, ERR.",
    "level",
)
ENDED = (
    "Remote side ended the monitor! This usually means that the\nremote side has exited or crashed."
)


class TextLines:
    """Plain-text chunks to whole lines (a line split across chunks is joined)."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, chunk: str) -> Iterator[str]:
        self._pending += chunk
        *lines, self._pending = self._pending.split("\n")
        yield from lines

    def rest(self) -> Iterator[str]:
        if self._pending:
            yield self._pending
        self._pending = ""


class JsonFrames:
    """Nomad's StreamFrame objects, back to back, to the text they carry."""

    def __init__(self) -> None:
        self._pending = ""
        self._decoder = json.JSONDecoder()
        self._lines = TextLines()

    def feed(self, chunk: str) -> Iterator[str]:
        self._pending += chunk
        while True:
            start = len(self._pending) - len(self._pending.lstrip())
            if start == len(self._pending):
                self._pending = ""
                return
            try:
                frame, end = self._decoder.raw_decode(self._pending, start)
            except ValueError:
                self._pending = self._pending[start:]  # an object not complete yet
                return
            self._pending = self._pending[end:]
            data = frame.get("Data") if isinstance(frame, dict) else None
            if isinstance(data, str) and data:
                try:
                    text = base64.b64decode(data).decode(errors="replace")
                except (binascii.Error, ValueError):
                    continue
                yield from self._lines.feed(text)

    def rest(self) -> Iterator[str]:
        yield from self._lines.rest()


def run_monitor(call: Invocation) -> int:
    if call.args:
        raise UsageError("This command takes no arguments")
    params: list[tuple[str, str]] = []
    if level := call.flags.string(LOG_LEVEL):
        params.append(("log_level", level))
    if call.json:
        params.append(("log_json", "true"))
    reader: TextLines | JsonFrames | None = None
    try:
        for content_type, chunk in call.api.stream("/v1/agent/monitor", params):
            if reader is None:
                reader = JsonFrames() if "json" in content_type else TextLines()
            for line in reader.feed(chunk.decode(errors="replace")):
                call.ui.output(line)
    except ApiError as exc:
        if reader is None:
            raise CommandFailed(f"Error starting monitor: {exc}") from None
        raise CommandFailed(f"Error reading the monitor stream: {exc}") from None
    except KeyboardInterrupt:
        return 0
    if reader is not None:
        for line in reader.rest():
            call.ui.output(line)
    raise CommandFailed(ENDED)


COMMANDS = (
    Command(
        ("monitor",),
        "",
        "Stream logs from a Nomad agent",
        "Stream log messages of a Nomad agent. The monitor command lets you\n"
        "  listen for log levels that may be filtered out of the agent's own\n"
        "  log output. Stop it with Ctrl-C.",
        run_monitor,
        (LOG_LEVEL,),
    ),
)
