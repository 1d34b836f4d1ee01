"""`parse_go_bool`: Go's `strconv.ParseBool`, exactly its twelve spellings and nothing else."""

from __future__ import annotations

import pytest

from gocompat.bools import parse_go_bool

GO_SPELLINGS = [
    ("1", True),
    ("t", True),
    ("T", True),
    ("TRUE", True),
    ("true", True),
    ("True", True),
    ("0", False),
    ("f", False),
    ("F", False),
    ("FALSE", False),
    ("false", False),
    ("False", False),
]


@pytest.mark.parametrize(("text", "value"), GO_SPELLINGS)
def test_go_spellings(text: str, value: bool) -> None:
    assert parse_go_bool(text) is value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "2",
        "-1",
        "01",
        "tRUE",
        "TrUe",
        "fALSE",
        " true",
        "true ",
        "true\n",
        "１",  # a full-width digit one
    ],
)
def test_anything_else_is_rejected(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_go_bool(text)
    assert str(caught.value) == text
