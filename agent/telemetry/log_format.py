"""How an agent's log lines look: Nomad's text lines, or one JSON object per line (`-log-json`).

The same formatter writes stderr and every `/v1/agent/monitor` stream, so a monitor shows the
lines exactly as the agent's own log has them.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum

from agent.agent_api import LogLevel

GO_LEVELS = {"WARNING": "WARN", "ERROR": "ERR", "CRITICAL": "ERR"}
"""Python's level names as Nomad spells them."""

HCLOG_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
"""hclog's level names, as its JSON lines spell them."""

STRUCTURED_FIELDS = ("event", "member", "addr")
"""`extra=` fields a JSON line carries when a record has them (membership changes)."""


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def python_level(level: LogLevel) -> int:
    """The `logging` level that shows `level` and above (TRACE shows what DEBUG does)."""
    return {
        LogLevel.TRACE: logging.DEBUG,
        LogLevel.DEBUG: logging.DEBUG,
        LogLevel.INFO: logging.INFO,
        LogLevel.WARN: logging.WARNING,
        LogLevel.ERR: logging.ERROR,
    }[level]


def nomad_level(record: logging.LogRecord) -> str:
    return GO_LEVELS.get(record.levelname, record.levelname)


class NomadTextFormatter(logging.Formatter):
    """`    2017/03/14 12:00:00 [INFO] agent: message`, roughly as Nomad's logger writes."""

    def __init__(self) -> None:
        super().__init__(
            "    %(asctime)s [%(nomad_level)s] %(name)s: %(message)s", "%Y/%m/%d %H:%M:%S"
        )

    def format(self, record: logging.LogRecord) -> str:
        record.nomad_level = nomad_level(record)
        return super().format(record)


class NomadJsonFormatter(logging.Formatter):
    """One JSON object per line with hclog's keys (`@level`, `@message`, `@module`,
    `@timestamp`), as Nomad's `log_json` writes them, plus a record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line: dict[str, object] = {
            "@level": HCLOG_LEVELS.get(record.levelno, "trace"),
            "@message": record.getMessage(),
            "@module": record.name,
            "@timestamp": stamp,
        }
        for key in STRUCTURED_FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                line[key] = str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, sort_keys=False)


def formatter_for(fmt: LogFormat) -> logging.Formatter:
    return NomadJsonFormatter() if fmt is LogFormat.JSON else NomadTextFormatter()
