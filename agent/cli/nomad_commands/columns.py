"""Aligned columns as ryanuber/columnize lays them out, which is how Nomad prints tables.

Nomad builds each table as lines of `|`-separated fields and hands them to
`columnize.SimpleFormat` (lists) or to `formatList`/`formatKV` (columnize with `<none>` for
empty fields, and ` = ` as the glue for key/value blocks). columnize trims every field, pads
every column but the last to its widest field, joins them with the glue ("  " by default),
and drops the final newline. Reproducing those rules (rather than drawing a table with box
characters) is what makes the output match Nomad's column for column, so scripts that
`awk '{print $1}'` Nomad's output work here too.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

DEFAULT_GLUE = "  "
KV_GLUE = " = "
EMPTY = "<none>"


def _width(text: str) -> int:
    """Visible width: columnize counts a Han character twice (our tables are ASCII)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def columnize(rows: Sequence[Sequence[str]], *, glue: str = DEFAULT_GLUE, empty: str = "") -> str:
    """Lay `rows` out as columnize does; rows may have different numbers of fields."""
    cells = [[field.strip() or empty for field in row] for row in rows]
    widths: list[int] = []
    for row in cells:
        for index, field in enumerate(row):
            if index == len(widths):
                widths.append(_width(field))
            else:
                widths[index] = max(widths[index], _width(field))
    lines = []
    for row in cells:
        parts = [
            field if index == len(row) - 1 else field + " " * (widths[index] - _width(field))
            for index, field in enumerate(row)
        ]
        lines.append(glue.join(parts))
    return "\n".join(lines)


def format_list(rows: Sequence[Sequence[str]]) -> str:
    """Nomad's `formatList`: a table whose empty fields read `<none>`."""
    return columnize(rows, empty=EMPTY)


def format_kv(pairs: Sequence[tuple[str, str]]) -> str:
    """Nomad's `formatKV`: `Key   = value` lines, empty values as `<none>`."""
    return columnize(pairs, glue=KV_GLUE, empty=EMPTY)
