"""Address splitting and joining with Go's rules and error texts: tables."""

from __future__ import annotations

import pytest

from gocompat.addresses import (
    AddressError,
    ip_literal,
    join_host_port,
    split_host_port,
    strip_node_name,
)


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
        ("h:٣", 'strconv.ParseUint: parsing "٣": invalid syntax'),  # not an ASCII digit
        ("[::1]x:1", "address [::1]x:1: unexpected ']' in address"),
        ("[::1:5", "address [::1:5: missing ']' in address"),
        ("h[:1", "address h[:1: unexpected '[' in address"),
    ],
)
def test_split_host_port_errors(text: str, message: str) -> None:
    with pytest.raises(AddressError) as info:
        split_host_port(text, 4648)
    assert str(info.value) == message


def test_ip_literal() -> None:
    assert ip_literal("127.000.0.1") is None
    assert ip_literal("::0001") == "::1"
    assert ip_literal("10.0.0.1") == "10.0.0.1"
    assert ip_literal("example.com") is None


def test_join_host_port() -> None:
    assert join_host_port("::1", 1) == "[::1]:1"
    assert join_host_port("1.2.3.4", 1) == "1.2.3.4:1"
    assert join_host_port("host", 4648) == "host:4648"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("n1/10.0.0.1:4648", "10.0.0.1:4648"),
        ("10.0.0.1:4648", "10.0.0.1:4648"),
        ("a/b/[::1]:7", "[::1]:7"),
    ],
)
def test_strip_node_name(text: str, address: str) -> None:
    assert strip_node_name(text) == address
