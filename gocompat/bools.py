"""Go's `strconv.ParseBool`: the booleans Nomad's flags and query parameters accept."""

from __future__ import annotations

GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """`strconv.ParseBool(text)`.

    Raises:
        ValueError: `text` is none of Go's twelve spellings (`yes`, `on` and `` are not).
    """
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ValueError(text)
