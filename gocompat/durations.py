"""Go's durations: `time.ParseDuration` and `time.Duration.String()`.

Parsing reads the `wait` query parameter and config values; formatting writes raft's
`last_contact`, the client's heartbeat stats and the `/self` config block.
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
MAX_DURATION_NS = (1 << 63) - 1
"""Go's largest Duration: what a saturating `time.Since(zero time)` gives."""
_UNITS = ((1_000_000, "ms"), (1_000, "µs"), (1, "ns"))


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
    if total > MAX_DURATION_NS:
        raise ValueError(f"invalid duration {text!r}")
    return sign * total


def format_go_duration(nanoseconds: int) -> str:
    """Go's `time.Duration.String()`: `0s`, `999ns`, `1.5µs`, `12.5ms`, `1.5s`, `1h0m0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1_000_000_000:
        for size, unit in _UNITS:
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def seconds_to_go_duration(seconds: float) -> str:
    """`format_go_duration` of a float number of seconds (rounded to the nanosecond)."""
    return format_go_duration(min(round(seconds * 1e9), MAX_DURATION_NS))


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")
