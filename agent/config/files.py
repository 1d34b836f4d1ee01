"""Reading `-config` files: JSON in the shape of Nomad's agent configuration.

Nomad writes blocks either as objects or, HCL-JSON style, as a list of objects
(`"server": [{"enabled": true}]`); both load. Several files (or directories of `*.json`,
read in name order) merge, later ones winning, like Nomad's. Top-level keys Nomad knows but
this agent does not model (telemetry, consul, vault, ...) are skipped with a warning; any
other unknown key is an error, so a typo does not pass silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.config.settings import Settings, deep_merge

log = logging.getLogger("gossip_agent.config")

BLOCKS = ("ports", "addresses", "advertise", "server", "client", "acl")
KNOWN_KEYS = frozenset(Settings.model_fields) | {"gossip_profile"}
NOMAD_KEYS_IGNORED = frozenset(
    {
        "atlas",
        "audit",
        "autopilot",
        "consul",
        "disable_anonymous_signature",
        "disable_update_check",
        "enable_debug",
        "enable_syslog",
        "limits",
        "log_file",
        "log_json",
        "log_rotate_bytes",
        "log_rotate_duration",
        "log_rotate_max_files",
        "plugin",
        "plugin_dir",
        "sentinel",
        "syslog_facility",
        "telemetry",
        "tls",
        "ui",
        "vault",
    }
)


class ConfigFileError(ValueError):
    """A config file is missing, unreadable, not JSON, or has an unknown key."""


def _unwrap_block(path: Path, key: str, value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], dict):
            raise ConfigFileError(f"{path}: {key} must be an object")
        return value[0]
    return value


def normalize(path: Path, data: Any) -> dict[str, Any]:
    """Nomad's config JSON -> keyword arguments for Settings (unknown keys rejected)."""
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: the top level must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in NOMAD_KEYS_IGNORED:
            log.warning("config file %s: %r is not supported by this agent; ignored", path, key)
            continue
        if key not in KNOWN_KEYS:
            raise ConfigFileError(f"{path}: unknown key {key!r}")
        out[key] = _unwrap_block(path, key, value) if key in BLOCKS else value
    return out


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
    if path.suffix == ".hcl":
        raise ConfigFileError(f"{path}: HCL config files are not supported; use JSON")
    return [path]


def load_config_files(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Read and merge the given files/directories, later ones winning.

    Raises:
        ConfigFileError: with a one-line message naming the file and the problem.
    """
    merged: dict[str, Any] = {}
    for raw in paths:
        for path in _files(Path(raw)):
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigFileError(f"{path}: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise ConfigFileError(f"{path}: not UTF-8 text") from None
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigFileError(
                    f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                ) from None
            merged = deep_merge(merged, normalize(path, data))
    return merged
