from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from agent.cli.nomad_commands import run
from agent.cli.nomad_commands.ui import Ui
from tests.unit.cli.fake_nomad import FakeNomad, serve


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    yield from serve()


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def cli(fake: FakeNomad) -> Cli:
    """`cli("server", "members", env={...})`: runs the command against the fake (through
    NOMAD_ADDR unless the test gives its own env or -address)."""

    def call(*argv: str, env: dict[str, str] | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        chosen = {"NOMAD_ADDR": fake.address} if env is None else env
        code = run(list(argv), env=chosen, ui=Ui(out, err))
        return Result(code, out.getvalue(), err.getvalue())

    return call
