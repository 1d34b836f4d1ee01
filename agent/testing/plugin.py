"""The pytest plugin (entry point `pytest11: gossip_agent`; `-p no:gossip_agent` turns it off).

Fixtures: `sim_seed`, `sim_cluster`, `sim_agents`, `agent_cluster`. Options: `--sim-seed`,
`--agent-bind-base`. Marker: `@pytest.mark.sim_seed(N)` pins one test's seed.

A failing test's report gains a section with its seed and the one command line that replays
it, the trace tail of every `SimCluster` it built, and the end of every real agent's log:
what one needs to reproduce the failure, without rerunning it to find out.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agent.launch.sim_http import nth_address
from agent.sim import SimCluster
from agent.testing.loopback import DEFAULT_BIND_BASE, skip_reason
from agent.testing.seeds import SEED_OPTION, replay_command, seed_for
from agent.testing.sim_agents import SimAgentsCluster
from agent.testing.sim_cluster import build_sim_cluster

if TYPE_CHECKING:
    from agent.testing.agent_cluster import AgentCluster

PLUGIN_NAME = "gossip_agent"
LOG_TAIL_LINES = 60

SEED_KEY = pytest.StashKey[int]()
CLUSTERS_KEY = pytest.StashKey[list[SimCluster]]()
LOGS_KEY = pytest.StashKey[list[tuple[str, Path]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(PLUGIN_NAME, "gossip-agent test kit")
    group.addoption(
        SEED_OPTION,
        type=int,
        default=None,
        help="seed for simulation tests (default: derived from each test's id)",
    )
    group.addoption(
        "--agent-bind-base",
        default=DEFAULT_BIND_BASE,
        help=f"first 127.0.0.x for sim_agents and agent_cluster (default {DEFAULT_BIND_BASE})",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sim_seed(seed): run this test with a fixed simulation seed")


# ---- seeds ----------------------------------------------------------------------------------


@pytest.fixture
def sim_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed: `--sim-seed`, else a `sim_seed` marker, else one derived from the
    test's id (the same on every run). A failing test's report says how to replay it."""
    seed = request.config.getoption(SEED_OPTION)
    if seed is None:
        marker = request.node.get_closest_marker("sim_seed")
        seed = int(marker.args[0]) if marker is not None else seed_for(request.node.nodeid)
    request.node.stash[SEED_KEY] = int(seed)
    request.node.user_properties.append(("sim_seed", int(seed)))
    return int(seed)


# ---- simulated clusters ------------------------------------------------------------------------


@pytest.fixture
def sim_cluster(request: pytest.FixtureRequest, sim_seed: int) -> Callable[..., SimCluster]:
    """Factory: `sim_cluster(servers=3, clients=0, nodes=None, profile="lan", seed=None,
    converged=True, **knobs)` -> a `SimCluster` of Nomad servers s1.. (or the plain `nodes`),
    joined already unless `converged=False`, seeded by this test's seed unless `seed=`."""
    built = request.node.stash.setdefault(CLUSTERS_KEY, [])

    def make(
        servers: int = 3,
        clients: int = 0,
        nodes: Sequence[str] | None = None,
        profile: str = "lan",
        seed: int | None = None,
        converged: bool = True,
        **knobs: Any,
    ) -> SimCluster:
        cluster = build_sim_cluster(
            seed=sim_seed if seed is None else seed,
            servers=servers,
            clients=clients,
            nodes=nodes,
            profile=profile,
            converged=converged,
            **knobs,
        )
        built.append(cluster)
        return cluster

    return make


@pytest.fixture
def agent_bind_base(request: pytest.FixtureRequest) -> str:
    """The first loopback address the real-socket fixtures use (`--agent-bind-base`)."""
    return str(request.config.getoption("--agent-bind-base"))


@pytest.fixture
def sim_agents(sim_seed: int, agent_bind_base: str) -> Iterator[Callable[..., SimAgentsCluster]]:
    """Factory: `sim_agents(servers=3, clients=0, seed=None, converged=True,
    profile="local", **settings)` -> a `SimAgentsCluster`: real agents in virtual time, each
    with its Nomad HTTP API on a loopback address from `--agent-bind-base`. Skips where
    those addresses cannot be bound."""
    made: list[SimAgentsCluster] = []
    used = 0

    def make(
        servers: int = 3,
        clients: int = 0,
        seed: int | None = None,
        converged: bool = True,
        profile: str = "local",
        **settings: Any,
    ) -> SimAgentsCluster:
        nonlocal used
        base = nth_address(agent_bind_base, used)
        _skip_without_loopback(base, servers + clients)
        cluster = SimAgentsCluster(
            seed=sim_seed if seed is None else seed,
            servers=servers,
            clients=clients,
            bind_base=base,
            profile=profile,
            converged=converged,
            **settings,
        )
        used += servers + clients
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()


# ---- real processes ------------------------------------------------------------------------------


@pytest.fixture
def agent_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, agent_bind_base: str
) -> Iterator[Callable[..., AgentCluster]]:
    """Factory: `agent_cluster(servers=3, clients=0, **options)` -> an `AgentCluster` of real
    `gossip-agent` processes on 127.0.0.N from `--agent-bind-base`, healthy before it
    returns, stopped after the test however it ends; their logs join a failure's report."""
    from agent.testing.agent_cluster import AgentCluster

    logs = request.node.stash.setdefault(LOGS_KEY, [])
    made: list[AgentCluster] = []
    used = 0

    def make(servers: int = 3, clients: int = 0, **options: Any) -> AgentCluster:
        nonlocal used
        base = nth_address(agent_bind_base, used)
        _skip_without_loopback(base, servers + clients)
        used += servers + clients
        cluster = AgentCluster(
            tmp_path_factory.mktemp("agents"),
            servers=servers,
            clients=clients,
            bind_base=base,
            **options,
        )
        made.append(cluster)
        try:
            cluster.start()
        finally:
            logs.extend(cluster.logs())
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()


def _skip_without_loopback(base: str, count: int) -> None:
    reason = skip_reason(base, count)
    if reason is not None:
        pytest.skip(reason)


# ---- the failure report --------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for title, text in failure_sections(item):
            report.sections.append((title, text))
    return report


def failure_sections(item: pytest.Item) -> list[tuple[str, str]]:
    """What a failing test's report gains: seed and replay line, traces, agents' logs."""
    sections = []
    seed = item.stash.get(SEED_KEY, None)
    if seed is not None:
        text = f"seed={seed}\nreplay: {replay_command(item.nodeid, seed)}"
        sections.append(("gossip-agent: sim seed", text))
    no_clusters: list[SimCluster] = []
    clusters = item.stash.get(CLUSTERS_KEY, no_clusters)
    for index, cluster in enumerate(clusters):
        sections.append((f"gossip-agent: sim_cluster #{index + 1}", cluster.describe_failure()))
    no_logs: list[tuple[str, Path]] = []
    logs = item.stash.get(LOGS_KEY, no_logs)
    for name, path in logs:
        sections.append((f"gossip-agent: {name} log ({path})", _tail(path, LOG_TAIL_LINES)))
    return sections


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:])
