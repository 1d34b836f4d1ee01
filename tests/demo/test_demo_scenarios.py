"""Each scenario on a `DemoWorld` in virtual time: it runs its steps and shows what it says."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from agent.demo.scenarios import SCENARIOS, Op
from agent.demo.settings import DemoSettings
from agent.demo.views import Status
from agent.demo.world import DemoWorld, Truth

pytestmark = pytest.mark.anyio

Build = Callable[..., Coroutine[Any, Any, DemoWorld]]


@pytest.fixture
async def build() -> AsyncIterator[Build]:
    worlds: list[DemoWorld] = []

    async def make(scenario: str, **values: Any) -> DemoWorld:
        settings = DemoSettings(seed=7, scenario=scenario, start_paused=True, **values)
        world = DemoWorld(settings)
        await world.build()
        world.start()
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


def _column(world: DemoWorld, member: str) -> set[Status]:
    m = world.members.index(member)
    return {
        row[m].status
        for o, row in enumerate(world.matrix.rows)
        if world.members[o] != member and world.truth(world.members[o]) is Truth.RUNNING
    }


def _texts(world: DemoWorld) -> list[str]:
    return [e.text for e in world.timeline.last(2000)]


async def test_crash_and_force_leave_ends_with_the_victim_left(build: Build) -> None:
    world = await build("crash-and-force-leave", nodes=2)
    await world.step(18)
    assert _column(world, "n2") == {Status.FAILED}
    await world.step(12)
    assert _column(world, "n2") == {Status.LEFT}
    assert "s1 force-leaves n2" in _texts(world)


async def test_graceful_leave_is_left_without_suspicion(build: Build) -> None:
    world = await build("graceful-leave", nodes=2)
    await world.step(15)
    assert _column(world, "n2") == {Status.LEFT}
    assert not any("suspects n2" in t for t in _texts(world))


async def test_partition_heal_comes_back_whole(build: Build) -> None:
    world = await build("partition-heal", nodes=3)
    await world.step(24)
    assert any(Status.FAILED in _column(world, m) for m in world.members)
    await world.step(60)
    assert all(_column(world, m) == {Status.ALIVE} for m in world.members)


async def test_a_stalled_node_is_suspected_and_refutes(build: Build) -> None:
    world = await build("flapping-node", nodes=3)
    await world.step(15)
    texts = _texts(world)
    assert any("suspects n3" in t for t in texts)
    assert any(t.startswith("n3 refutes at incarnation") for t in texts)


async def test_lifeguard_keeps_a_slow_node_from_accusing_healthy_peers(build: Build) -> None:
    accusations = {}
    for scenario in ("slow-node-lifeguard", "slow-node-no-lifeguard"):
        world = await build(scenario, nodes=4)
        await world.step(35)
        accusations[scenario] = sum(t.startswith("n4 suspects") for t in _texts(world))
        if scenario == "slow-node-no-lifeguard":
            config = world.gossip["n1"].config.memberlist
            assert (config.awareness_max_multiplier, config.suspicion_max_timeout_mult) == (1, 1)
            assert world.health("n4") == 0
        else:
            assert any(t.startswith("You") or "slowed n4" in t for t in _texts(world))
    assert accusations["slow-node-no-lifeguard"] >= 3 * max(1, accusations["slow-node-lifeguard"])


async def test_leader_failover_elects_another_leader(build: Build) -> None:
    world = await build("leader-failover")
    first = world.leader()[0]
    assert first is not None
    await world.step(10)
    leader, term = world.leader()
    assert leader is not None and leader != first
    assert world.truth(first) is Truth.KILLED
    await world.step(40)
    assert world.truth(first) is Truth.RUNNING
    assert _column(world, first) == {Status.ALIVE}  # rejoined from its serf snapshot
    assert any("becomes raft leader" in t for t in _texts(world))
    assert term >= 3


async def test_quorum_loss_has_no_leader_until_a_server_returns(build: Build) -> None:
    world = await build("quorum-loss")
    await world.step(20)
    assert world.leader()[0] is None
    await world.step(30)
    assert world.leader()[0] is not None


async def test_join_storm_starts_alone_and_ends_converged(build: Build) -> None:
    world = await build("join-storm", nodes=12)
    assert _column(world, "n5") == {Status.NONE}
    await world.step(20)
    assert all(_column(world, m) == {Status.ALIVE} for m in world.members)


def test_every_scenario_is_explained_and_has_steps() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
    for name in (
        "crash-and-force-leave",
        "graceful-leave",
        "partition-heal",
        "slow-node-lifeguard",
        "leader-failover",
        "quorum-loss",
        "flapping-node",
        "join-storm",
    ):
        assert name in names
    for scenario in SCENARIOS:
        assert scenario.explanation.count(".") >= 2
        assert 0 < scenario.speed <= 4
        assert scenario.steps
        assert all(isinstance(step.op, Op) for step in scenario.steps)


async def test_pausing_the_leader_stalls_raft_too(build: Build) -> None:
    world = await build("")
    leader, term = world.leader()
    assert leader is not None
    world.pause(leader, 6.0)
    assert world.truth(leader) is Truth.PAUSED
    await world.step(5)
    new, new_term = world.leader()
    assert new not in (None, leader) and new_term > term
    await world.step(5)
    assert world.truth(leader) is Truth.RUNNING
    raft = world.raft(leader)
    assert raft is not None and raft[0] == "Follower"
