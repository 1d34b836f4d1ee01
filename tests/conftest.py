"""Shared fixtures. `sim_seed` gives simulation tests a seed and prints it when they fail;
no test sees the developer's GOSSIP_AGENT_* variables; anyio tests run on asyncio."""

from __future__ import annotations

import os
import zlib
from collections.abc import Generator, Iterator

import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline (a loaded 2-core CI machine must not turn slowness into failures);
# failing examples print a blob that replays them.
settings.register_profile(
    "gossip", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("gossip")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sim-seed",
        type=int,
        default=None,
        help="seed for simulation tests (default: derived from each test's id)",
    )


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("GOSSIP_AGENT_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim_seed(request: pytest.FixtureRequest) -> int:
    """A seed stable per test id, or --sim-seed; reported in the failure output."""
    seed = request.config.getoption("--sim-seed")
    if seed is None:
        seed = zlib.crc32(request.node.nodeid.encode())
    request.node.user_properties.append(("sim_seed", seed))
    return int(seed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for key, value in item.user_properties:
            if key == "sim_seed":
                report.sections.append(("sim seed", f"seed={value}; replay: --sim-seed={value}"))
    return report
