"""The building blocks: columnize's layout, Go's flag rules, and where the connection comes
from (flag over NOMAD_* over the default)."""

from __future__ import annotations

import pytest

from agent.cli.nomad_commands.columns import columnize, format_kv, format_list
from agent.cli.nomad_commands.connection import (
    ADDRESS,
    GENERAL_FLAGS,
    JSON,
    REGION,
    TOKEN,
    Connection,
)
from agent.cli.nomad_commands.flags import (
    Flag,
    FlagError,
    FlagKind,
    HelpRequested,
    parse_flags,
)

DETAILED = Flag("detailed", FlagKind.BOOL, "")
FLAGS = (*GENERAL_FLAGS, DETAILED)


def test_columnize_pads_all_but_the_last_column_and_glues_with_two_spaces() -> None:
    text = columnize([["Name", "Port", "Region"], ["a-long-name", "4648", "global"]])
    assert text == "Name         Port  Region\na-long-name  4648  global"
    assert not any(line.endswith(" ") for line in text.splitlines())


def test_columnize_trims_fields_and_keeps_ragged_rows() -> None:
    assert columnize([[" a ", "b"], ["ccc"]]) == "a    b\nccc"


def test_format_list_shows_empty_fields_as_none() -> None:
    assert format_list([["ID", "Class"], ["abc", ""]]) == "ID   Class\nabc  <none>"


def test_format_kv_uses_equals_glue() -> None:
    assert format_kv([("ID", "x"), ("Class", "")]) == "ID    = x\nClass = <none>"


@pytest.mark.parametrize(
    ("argv", "detailed", "address", "rest"),
    [
        (["-detailed"], True, "", ()),
        (["--detailed=false", "x"], False, "", ("x",)),
        (["-address=http://h:1", "a", "-detailed"], False, "http://h:1", ("a", "-detailed")),
        (["-address", "http://h:1", "--", "-x"], False, "http://h:1", ("-x",)),
        (["-detailed=1", "-"], True, "", ("-",)),
    ],
)
def test_flags_follow_go(
    argv: list[str], detailed: bool, address: str, rest: tuple[str, ...]
) -> None:
    parsed = parse_flags(argv, FLAGS)
    assert parsed.boolean(DETAILED) is detailed
    assert parsed.string(ADDRESS) == address
    assert parsed.positionals == rest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-nope"], "flag provided but not defined: -nope"),
        (["-address"], "flag needs an argument: -address"),
        (["-detailed=maybe"], 'invalid boolean value "maybe" for -detailed: parse error'),
        (["---x"], "bad flag syntax: ---x"),
        (["-=x"], "bad flag syntax: -=x"),
    ],
)
def test_flag_errors_are_gos(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as error:
        parse_flags(argv, FLAGS)
    assert str(error.value) == message


@pytest.mark.parametrize("word", ["-h", "-help", "--help"])
def test_help_flags(word: str) -> None:
    with pytest.raises(HelpRequested):
        parse_flags([word], FLAGS)


def test_connection_defaults() -> None:
    assert Connection.resolve(parse_flags([], FLAGS), {}) == Connection(
        "http://127.0.0.1:4646", "", ""
    )


def test_connection_env_then_flags_win() -> None:
    env = {"NOMAD_ADDR": "http://e:1", "NOMAD_REGION": "eu", "NOMAD_TOKEN": "env-token"}
    assert Connection.resolve(parse_flags([], FLAGS), env) == Connection(
        "http://e:1", "eu", "env-token"
    )
    flags = parse_flags(["-address=http://f:2/", "-region=us", "-token=flag-token"], FLAGS)
    assert Connection.resolve(flags, env) == Connection("http://f:2", "us", "flag-token")
    # An empty flag counts as not given, as in Nomad's meta.go.
    empty = parse_flags(["-address=", "-region="], FLAGS)
    assert Connection.resolve(empty, env).address == "http://e:1"
    assert Connection.resolve(empty, env).region == "eu"


def test_address_without_scheme_gets_http() -> None:
    flags = parse_flags(["-address=127.0.0.1:4646"], FLAGS)
    assert Connection.resolve(flags, {}).address == "http://127.0.0.1:4646"


def test_general_flags() -> None:
    assert [f.name for f in GENERAL_FLAGS] == ["address", "region", "token", "json"]
    assert JSON.kind is FlagKind.BOOL and REGION.kind is TOKEN.kind is FlagKind.STRING
