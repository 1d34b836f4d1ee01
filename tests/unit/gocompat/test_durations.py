"""Go durations: `time.ParseDuration` and `time.Duration.String()`, tables and round trips."""

from __future__ import annotations

import pytest

from gocompat.durations import (
    MAX_DURATION_NS,
    format_go_duration,
    parse_go_duration,
    seconds_to_go_duration,
)

FORMATTED = [
    (0, "0s"),
    (1, "1ns"),
    (999, "999ns"),
    (1_500, "1.5µs"),
    (12_500_000, "12.5ms"),
    (1_000_000_000, "1s"),
    (1_500_000_000, "1.5s"),
    (17_795_689_370, "17.79568937s"),
    (61_000_000_000, "1m1s"),
    (120_000_000_000, "2m0s"),
    (3_600_000_000_000, "1h0m0s"),
    (5_400_000_000_000, "1h30m0s"),
    ((1 << 63) - 1, "2562047h47m16.854775807s"),
    (-1_500_000_000, "-1.5s"),
]


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("10s", 10_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("-2ms", -2_000_000),
        ("+.5us", 500),
        ("3µs", 3_000),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006),
    ],
)
def test_parse_go_duration(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "s", "1x", "1.s.", "-", "1 s", "9999999999h"])
def test_parse_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(("ns", "text"), FORMATTED, ids=lambda v: str(v))
def test_format_go_duration(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


@pytest.mark.parametrize(("ns", "text"), FORMATTED, ids=lambda v: str(v))
def test_what_is_formatted_parses_back(ns: int, text: str) -> None:
    assert parse_go_duration(text) == ns


def test_seconds_to_go_duration_rounds_and_saturates() -> None:
    assert seconds_to_go_duration(0.0125) == "12.5ms"
    assert seconds_to_go_duration(1e-10) == "0s"  # below a nanosecond
    assert seconds_to_go_duration(1e30) == "2562047h47m16.854775807s"
    assert format_go_duration(MAX_DURATION_NS) == seconds_to_go_duration(1e30)
