"""Address splitting (Go's rules and texts) and Go duration parsing: tables."""

from __future__ import annotations

import pytest

from gocompat.addresses import AddressError, ip_literal, join_host_port, split_host_port
from gocompat.durations import parse_go_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", ("1.2.3.4", 4648)),
        ("1.2.3.4:99", ("1.2.3.4", 99)),
        ("host", ("host", 4648)),
        ("host:1", ("host", 1)),
        ("::1", ("::1", 4648)),
        ("[::1]", ("::1", 4648)),
        ("[::1]:7", ("::1", 7)),
        ("nope:1:2", ("nope:1:2", 4648)),
        ("", ("", 4648)),
        (":5", ("", 5)),
    ],
)
def test_split_host_port(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text, 4648) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("h:x", 'strconv.ParseUint: parsing "x": invalid syntax'),
        ("h:", 'strconv.ParseUint: parsing "": invalid syntax'),
        ("h:70000", 'strconv.ParseUint: parsing "70000": value out of range'),
        ("[::1]x:1", "address [::1]x:1: unexpected ']' in address"),
        ("h[:1", "address h[:1: unexpected '[' in address"),
    ],
)
def test_split_host_port_errors(text: str, message: str) -> None:
    with pytest.raises(AddressError) as info:
        split_host_port(text, 4648)
    assert str(info.value) == message


def test_ip_literal_and_join() -> None:
    assert ip_literal("127.000.0.1") is None
    assert ip_literal("::0001") == "::1"
    assert ip_literal("example.com") is None
    assert join_host_port("::1", 1) == "[::1]:1"
    assert join_host_port("1.2.3.4", 1) == "1.2.3.4:1"


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
    with pytest.raises(ValueError):
        parse_go_duration(text)
