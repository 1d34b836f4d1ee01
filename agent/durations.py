"""Go's duration syntax (`time.ParseDuration`), used by the `wait` query parameter.

Formatting lives with the raft stats (`raft_stub.stats.format_go_duration`), which need it too.
"""

from __future__ import annotations

import re

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
MAX_NS = (1 << 63) - 1


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go duration such as `10s`, `1.5h`, `-2m3s`, `0`.

    Raises:
        ValueError: not Go duration syntax, or out of int64 range.
    """
    body = text
    sign = 1
    if body[:1] in ("-", "+"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total = 0
    pos = 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        number, unit = match.groups()
        whole, _, frac = number.partition(".")
        scale = _UNIT_NS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        pos = match.end()
    if total > MAX_NS:
        raise ValueError(f"invalid duration {text!r}")
    return sign * total
