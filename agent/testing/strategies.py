"""Hypothesis strategies for gossip tests: names, tags, cluster shapes, faults, fault plans.

Fault plans are drawn the way a nemesis runs them, step by step against what the cluster
would be by then: only running nodes are killed, paused or leave; only crashed ones restart;
force-leave targets a crashed node, with or without prune; at least one node keeps running.
So every drawn plan applies to a cluster built from the same names without an error, and
shrinks towards fewer, shorter and simpler steps.

    @given(plan=fault_plans(("n1", "n2", "n3")))
    def test_no_node_sees_itself_failed(sim_cluster, plan):
        c = sim_cluster(nodes=["n1", "n2", "n3"])
        plan.run(c)
        ...
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from itertools import pairwise

from hypothesis import strategies as st

from agent.testing.faults import (
    Block,
    Fault,
    FaultKind,
    FaultPlan,
    ForceLeave,
    Heal,
    Kill,
    Latency,
    Leave,
    Loss,
    Partition,
    Pause,
    Restart,
    Step,
)
from agent.testing.shapes import ClusterShape

__all__ = [
    "cluster_shapes",
    "fault_plans",
    "node_name_lists",
    "node_names",
    "nomad_tags",
    "tags",
]

_NAME_START = string.ascii_lowercase
_NAME_REST = string.ascii_lowercase + string.digits + "-"
_TAG_CHARS = string.ascii_letters + string.digits + "-_."
STEP_GAPS = (0.0, 0.5, 2.0, 10.0, 30.0, 90.0)
"""Virtual seconds between two faults: at once, within a probe, a suspicion, a reap."""


def node_names(max_size: int = 24) -> st.SearchStrategy[str]:
    """Host-like node names: a lowercase letter, then letters, digits and dashes."""
    rest = st.text(_NAME_REST, max_size=max(0, max_size - 1))
    return st.builds(lambda first, tail: first + tail, st.sampled_from(_NAME_START), rest)


def node_name_lists(min_size: int = 1, max_size: int = 7) -> st.SearchStrategy[list[str]]:
    """Distinct node names for one cluster."""
    return st.lists(node_names(12), min_size=min_size, max_size=max_size, unique=True)


def tags(max_size: int = 4) -> st.SearchStrategy[dict[str, str]]:
    """Arbitrary small serf tags (they travel in memberlist's 512-byte meta, so keep few)."""
    key = st.text(_TAG_CHARS, min_size=1, max_size=12)
    value = st.text(_TAG_CHARS, max_size=16)
    return st.dictionaries(key, value, max_size=max_size)


def nomad_tags() -> st.SearchStrategy[dict[str, str]]:
    """The tags a Nomad server gossips: role, region, dc, versions, RPC port, expect or
    bootstrap (see agent/roles/server.py)."""
    word = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=10)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        out = {
            "role": "nomad",
            "region": draw(st.one_of(st.just("global"), word)),
            "dc": draw(st.one_of(st.just("dc1"), word)),
            "vsn": "1",
            "mvn": "1",
            "build": draw(st.sampled_from(["0.5.6", "0.6.3", "0.7.1"])),
            "port": str(draw(st.integers(1024, 65535))),
        }
        expect = draw(st.integers(1, 7))
        if expect == 1:
            out["bootstrap"] = "1"
        else:
            out["expect"] = str(expect)
        return out

    return build()


def cluster_shapes(
    max_servers: int = 5, max_clients: int = 3, *, min_servers: int = 1
) -> st.SearchStrategy[ClusterShape]:
    """Servers and clients for `sim_agents`/`agent_cluster` (`sim_cluster` uses the servers)."""
    return st.builds(
        ClusterShape,
        servers=st.integers(min_servers, max_servers),
        clients=st.integers(0, max_clients),
    )


@st.composite
def _plan(
    draw: st.DrawFn,
    names: tuple[str, ...],
    kinds: frozenset[FaultKind],
    max_steps: int,
    gaps: tuple[float, ...],
    settle: float,
) -> FaultPlan:
    live = list(names)
    down: list[str] = []
    steps: list[Step] = []
    for _ in range(draw(st.integers(0, max_steps))):
        options = _possible(kinds, names, live, down)
        if not options:
            break
        kind = draw(st.sampled_from(options))
        fault = draw(_fault(kind, names, live, down))
        if isinstance(fault, Kill):
            live.remove(fault.node)
            down.append(fault.node)
        elif isinstance(fault, Restart):
            down.remove(fault.node)
            live.append(fault.node)
        elif isinstance(fault, Leave):
            live.remove(fault.node)
        elif isinstance(fault, ForceLeave):
            down.remove(fault.node)
        steps.append(Step(draw(st.sampled_from(gaps)), fault))
    return FaultPlan(tuple(steps), settle)


def _possible(
    kinds: Collection[FaultKind], names: Sequence[str], live: list[str], down: list[str]
) -> list[FaultKind]:
    can = {
        FaultKind.KILL: len(live) > 1,
        FaultKind.LEAVE: len(live) > 1,
        FaultKind.RESTART: bool(down) and bool(live),
        FaultKind.FORCE_LEAVE: bool(down) and bool(live),
        FaultKind.PAUSE: bool(live),
        FaultKind.PARTITION: len(names) > 1,
        FaultKind.BLOCK: len(names) > 1,
        FaultKind.HEAL: True,
        FaultKind.LOSS: True,
        FaultKind.LATENCY: True,
    }
    return [kind for kind in FaultKind if kind in kinds and can[kind]]


def _fault(
    kind: FaultKind, names: tuple[str, ...], live: list[str], down: list[str]
) -> st.SearchStrategy[Fault]:
    live_now, down_now = sorted(live), sorted(down)
    one_live = st.sampled_from(live_now) if live_now else st.nothing()
    match kind:
        case FaultKind.KILL:
            return st.builds(Kill, one_live)
        case FaultKind.LEAVE:
            return st.builds(Leave, one_live)
        case FaultKind.RESTART:
            return st.builds(Restart, st.sampled_from(down_now), st.tuples(one_live))
        case FaultKind.FORCE_LEAVE:
            return st.builds(ForceLeave, one_live, st.sampled_from(down_now), st.booleans())
        case FaultKind.PAUSE:
            return st.builds(Pause, one_live, st.sampled_from([0.5, 2.0, 6.0, 15.0]))
        case FaultKind.PARTITION:
            return _partitions(names)
        case FaultKind.BLOCK:
            return st.permutations(names).map(lambda order: Block(order[0], order[1]))
        case FaultKind.HEAL:
            return st.just(Heal())
        case FaultKind.LOSS:
            return st.builds(Loss, st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.3]))
        case FaultKind.LATENCY:
            return st.builds(
                Latency,
                st.sampled_from([0.0002, 0.005, 0.05, 0.2]),
                st.sampled_from([0.0, 0.0001, 0.01]),
            )
    raise AssertionError(kind)  # pragma: no cover - the match is exhaustive


def _partitions(names: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    @st.composite
    def build(draw: st.DrawFn) -> Fault:
        order = draw(st.permutations(names))
        cuts = sorted(draw(st.sets(st.integers(1, len(names) - 1), min_size=1, max_size=2)))
        bounds = [0, *cuts, len(names)]
        groups = tuple(tuple(order[a:b]) for a, b in pairwise(bounds))
        return Partition(groups, draw(st.booleans()))

    return build()


def fault_plans(
    names: Sequence[str],
    *,
    kinds: Collection[FaultKind] = frozenset(FaultKind),
    max_steps: int = 8,
    gaps: Sequence[float] = STEP_GAPS,
    settle: float = 0.0,
) -> st.SearchStrategy[FaultPlan]:
    """Timed sequences of faults for a cluster of `names` (all running at the start).

    `kinds` limits the faults drawn (e.g. `{FaultKind.PARTITION, FaultKind.HEAL}`); `gaps`
    are the virtual seconds drawn between faults; `settle` is run after the last one.
    """
    if not names:
        raise ValueError("fault_plans needs at least one node name")
    return _plan(tuple(names), frozenset(kinds), max_steps, tuple(gaps), settle)
