"""Real Agents (serf + raft + RPC) on the simulator: what a 3-server, 2-client cluster does.

The same scenarios as the end-to-end tests on real processes, in virtual time and
deterministic per seed: one leader every server names, a new leader with a higher term when
it dies, no leader (and health 500) without a quorum, force-leave taking a server out of the
raft configuration, clients that heartbeat, fail over and forward `/v1/agent/members`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.agent import Agent
from agent.launch.simulated import SimAgents
from agent.state.data_dir import DataDir

pytestmark = pytest.mark.anyio

SERVERS = ("s1", "s2", "s3")
TIMEOUT = 60.0


@pytest.fixture
def world(sim_seed: int) -> SimAgents:
    return SimAgents(seed=sim_seed)


def leaders(world: SimAgents, names: Sequence[str]) -> set[str | None]:
    return {world.agents[n].server.raft.leader() for n in names}  # type: ignore[union-attr]


def one_leader(world: SimAgents, names: Sequence[str]) -> str | None:
    """The leader every named server agrees on, with exactly one of them leading."""
    named = leaders(world, names)
    leading = [n for n in names if world.agents[n].server.raft.is_leader]  # type: ignore[union-attr]
    if len(named) == 1 and len(leading) == 1 and None not in named:
        return leading[0]
    return None


async def three_servers(world: SimAgents, data_root: Path | None = None) -> None:
    for name in SERVERS:
        extra = {"data_dir": str(data_root / name)} if data_root is not None else {}
        await world.add(name, server={"enabled": True, "bootstrap_expect": 3}, **extra)
    seed = str(world.serf_addr("s1"))
    for name in SERVERS[1:]:
        assert (await world.agents[name].join([seed])).num_joined == 1
    assert world.run_until(lambda: settled(world, SERVERS), TIMEOUT)


def settled(world: SimAgents, names: Sequence[str]) -> bool:
    """One leader, and every named server holds the full configuration."""
    rafts = [world.agents[n].server.raft for n in names]  # type: ignore[union-attr]
    full = all(len(r.configuration) == len(SERVERS) for r in rafts)
    return full and one_leader(world, names) is not None


async def clients(world: SimAgents, count: int = 2) -> list[Agent]:
    rpc = [world.agents[n].listeners.rpc.advertise for n in SERVERS]
    return [
        await world.add(f"c{i}", client={"enabled": True, "servers": rpc[:1]})
        for i in range(1, count + 1)
    ]


def raft_stats(agent: Agent) -> dict[str, str]:
    return agent.self_info().stats["raft"]


async def test_three_servers_bootstrap_and_agree_on_one_leader(world: SimAgents) -> None:
    await three_servers(world)
    leader = one_leader(world, SERVERS)
    assert leader is not None
    addr = world.agents[leader].listeners.rpc.advertise
    for name in SERVERS:
        agent = world.agents[name]
        stats = agent.self_info().stats
        assert stats["nomad"]["leader_addr"] == addr
        assert stats["nomad"]["leader"] == ("true" if name == leader else "false")
        assert stats["raft"]["num_peers"] == "2"
        assert stats["raft"]["latest_configuration"].count("Suffrage:Voter") == 3
        assert int(stats["raft"]["term"]) >= 2
        report = await agent.health(None, None)
        assert report.checks["server"].ok


async def test_a_server_waits_for_bootstrap_expect_peers(world: SimAgents) -> None:
    for name in SERVERS[:2]:
        await world.add(name, server={"enabled": True, "bootstrap_expect": 3})
    await world.agents["s2"].join([str(world.serf_addr("s1"))])
    world.run(30.0)
    assert leaders(world, SERVERS[:2]) == {None}
    assert raft_stats(world.agents["s1"])["term"] == "0"
    report = await world.agents["s1"].health(None, None)
    assert report.checks["server"].message == "no leader"


async def test_killing_the_leader_elects_a_new_one_with_a_higher_term(world: SimAgents) -> None:
    await three_servers(world)
    old = one_leader(world, SERVERS)
    assert old is not None
    term = int(raft_stats(world.agents[old])["term"])
    world.crash(old)
    rest = [n for n in SERVERS if n != old]
    assert world.run_until(lambda: one_leader(world, rest) is not None, TIMEOUT)
    new = one_leader(world, rest)
    assert new != old
    assert int(raft_stats(world.agents[new])["term"]) > term  # type: ignore[index]


async def test_without_a_quorum_there_is_no_leader_until_a_server_returns(
    world: SimAgents, tmp_path: Path
) -> None:
    await three_servers(world, tmp_path)
    leader = one_leader(world, SERVERS)
    survivor = leader or "s1"
    gone = [n for n in SERVERS if n != survivor]
    for name in gone:
        world.crash(name)
    agent = world.agents[survivor]
    # The old leader steps down within its lease; a follower never gets a majority.
    assert world.run_until(lambda: agent.server.raft.leader() is None, TIMEOUT)  # type: ignore[union-attr]
    world.run(20.0)
    assert agent.server.raft.leader() is None  # type: ignore[union-attr]
    report = await agent.health(None, None)
    assert (report.checks["server"].ok, report.checks["server"].message) == (False, "no leader")
    # One server back, from its data dir: it rejoins serf from its snapshot (no -join) and
    # the two make a quorum again.
    await world.restart(gone[0])
    back = [survivor, gone[0]]
    assert world.run_until(lambda: one_leader(world, back) is not None, TIMEOUT)


async def test_force_left_server_leaves_the_raft_configuration(world: SimAgents) -> None:
    await three_servers(world)
    leader = one_leader(world, SERVERS)
    victim = next(n for n in SERVERS if n != leader)
    victim_rpc = world.agents[victim].listeners.rpc.advertise
    world.crash(victim)
    agent = world.agents[leader]  # type: ignore[index]
    name = f"{victim}.global"

    def status() -> str:
        return {m.name: m.status for m in agent.server.members()}.get(name, "")  # type: ignore[union-attr]

    assert world.run_until(lambda: status() == "failed", TIMEOUT)
    # A failed server still counts: the configuration keeps three voters (nomad#844).
    assert raft_stats(agent)["latest_configuration"].count("Suffrage:Voter") == 3
    await agent.force_leave(name)
    assert world.run_until(lambda: status() == "left", TIMEOUT)
    assert world.run_until(
        lambda: victim_rpc not in raft_stats(agent)["latest_configuration"], TIMEOUT
    )
    assert raft_stats(agent)["num_peers"] == "1"
    assert world.run_until(lambda: one_leader(world, [leader]) is not None, TIMEOUT)  # type: ignore[list-item]


async def test_clients_register_learn_servers_and_forward_members(world: SimAgents) -> None:
    await three_servers(world)
    c1, _ = await clients(world)
    assert world.run_until(lambda: c1.client.rpc.registered, TIMEOUT)  # type: ignore[union-attr]
    stats = c1.self_info().stats["client"]
    rpc = sorted(world.agents[n].listeners.rpc.advertise for n in SERVERS)
    assert stats["known_servers"] == ",".join(rpc)  # learned from the heartbeat reply
    assert stats["heartbeat_ttl"].endswith("s") and stats["heartbeat_ttl"] != "0s"
    view = await c1.members()
    assert sorted(m.name for m in view.members) == [f"{n}.global" for n in SERVERS]
    leader = world.agents[one_leader(world, SERVERS)]  # type: ignore[index]
    nodes = leader.server.rpc.state.nodes  # type: ignore[union-attr]
    assert world.run_until(lambda: len(nodes) == 2, TIMEOUT)
    commit = int(raft_stats(leader)["commit_index"])
    assert commit >= 4  # configuration, no-op, two registrations


async def test_a_client_fails_over_when_its_server_dies(world: SimAgents) -> None:
    await three_servers(world)
    c1, _ = await clients(world)
    assert world.run_until(lambda: c1.client.rpc.registered, TIMEOUT)  # type: ignore[union-attr]
    world.crash("s1")
    rest = ["s2", "s3"]
    assert world.run_until(lambda: one_leader(world, rest) is not None, TIMEOUT)

    def heartbeat_age() -> float:
        text = c1.self_info().stats["client"]["last_heartbeat"]
        return float(text.removesuffix("s")) if text.endswith("s") and "m" not in text else 1e9

    before = world.now
    assert world.run_until(lambda: world.now - before > 60 and heartbeat_age() < 30, 120)
    report = await c1.health(None, None)
    assert report.checks["client"].ok
    view = await c1.members()
    assert {m.name for m in view.members} >= {"s2.global", "s3.global"}


async def test_a_silent_client_is_marked_down_after_its_ttl(world: SimAgents) -> None:
    await three_servers(world)
    (c1,) = await clients(world, 1)
    assert world.run_until(lambda: c1.client.rpc.registered, TIMEOUT)  # type: ignore[union-attr]
    node_id = c1.client.node_id  # type: ignore[union-attr]
    states = [world.agents[n].server.rpc.state for n in SERVERS]  # type: ignore[union-attr]

    def everywhere(status: str) -> bool:
        return all(getattr(s.nodes.get(node_id), "status", None) == status for s in states)

    assert world.run_until(lambda: everywhere("ready"), TIMEOUT)
    crashed_at = world.now
    world.crash("c1")
    # TTL < 20 s plus 10 s of grace, then the leader commits `down` everywhere.
    assert world.run_until(lambda: everywhere("down"), 40.0)
    assert world.now - crashed_at >= 10.0


def alive_names(agent: Agent) -> set[str]:
    return {m.name for m in agent.server.members() if m.status == "alive"}  # type: ignore[union-attr]


async def settle_tasks(agent: Agent) -> None:
    """Let the agent's background joins run to their end. Under the simulator they advance
    virtual time themselves and never wait on the wall clock, so a few loop turns do."""
    server = agent.server
    assert server is not None
    for _ in range(100):
        if not server.background_tasks:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{server.background_tasks} background task(s) still running")


async def test_a_restarted_server_rejoins_from_its_snapshot(
    world: SimAgents, tmp_path: Path
) -> None:
    await three_servers(world, tmp_path)
    # The snapshot keeper writes at most every 0.5 s: wait until s3's lists both peers.
    saved = DataDir(tmp_path / "s3")

    def peers_saved() -> bool:
        snapshot = saved.load_serf_snapshot()
        return snapshot is not None and {n for n, _ in snapshot.alive} >= {"s1.global", "s2.global"}

    assert world.run_until(peers_saved, TIMEOUT)
    world.crash("s3")
    world.run(1.0)
    agent = await world.restart("s3")
    await settle_tasks(agent)
    # No -join: the snapshot's members are joined at once, long before any reconnect.
    assert world.run_until(lambda: alive_names(agent) == {f"{n}.global" for n in SERVERS}, 2.0)
    assert world.run_until(lambda: settled(world, SERVERS), TIMEOUT)


async def test_retry_join_retries_on_the_runtime_clock_then_gives_up(world: SimAgents) -> None:
    """Nomad's retryJoiner in virtual time: the first attempt plus retry_max retries,
    `retry_interval` apart, then the agent asks to exit."""
    agent = await world.add(
        "s1",
        server={
            "enabled": True,
            "bootstrap_expect": 1,
            "retry_join": ["127.1.9.9"],  # nobody there
            "retry_interval": "10s",
            "retry_max": 2,
        },
    )
    started = world.now
    await settle_tasks(agent)
    assert world.now - started >= 20.0  # two pauses of 10 virtual seconds
    reason = await asyncio.wait_for(agent.wait_fatal(), 1.0)
    assert reason == "max join retry exhausted"


@pytest.mark.parametrize("rejoin_after_leave", [False, True])
async def test_after_a_graceful_leave_rejoin_needs_rejoin_after_leave(
    world: SimAgents, tmp_path: Path, rejoin_after_leave: bool
) -> None:
    for name in SERVERS:
        await world.add(
            name,
            server={
                "enabled": True,
                "bootstrap_expect": 3,
                "rejoin_after_leave": rejoin_after_leave,
            },
            data_dir=str(tmp_path / name),
        )
    for name in SERVERS[1:]:
        await world.agents[name].join([str(world.serf_addr("s1"))])
    assert world.run_until(lambda: settled(world, SERVERS), TIMEOUT)
    await world.agents["s3"].leave()
    agent = await world.restart("s3")
    await settle_tasks(agent)
    world.run(2.0)
    expected = {f"{n}.global" for n in SERVERS} if rejoin_after_leave else {"s3.global"}
    assert alive_names(agent) == expected


async def test_client_members_go_to_the_next_server_when_its_server_is_dead(
    world: SimAgents,
) -> None:
    await three_servers(world)
    c1, _ = await clients(world)
    assert world.run_until(lambda: len(c1.client.servers()) == 3, TIMEOUT)  # type: ignore[union-attr]
    used = (await c1.members()).server_name
    world.crash(used)
    view = await c1.members()  # one timeout on the dead server, then a live one answers
    assert view.server_name != used


async def test_two_dev_agents_each_keep_a_raft_of_their_own(
    world: SimAgents, caplog: pytest.LogCaptureFixture
) -> None:
    """Both are in bootstrap mode, so neither leader adds the other (nomad/leader.go
    `addRaftPeer`): a crash of one leaves the other leading, never a stalled candidate."""
    one = await world.add("one", dev=True)
    two = await world.add("two", dev=True)
    assert (await one.join([str(world.serf_addr("two"))])).num_joined == 1
    world.run(30.0)
    for agent in (one, two):
        server = agent.server
        assert server is not None
        assert server.raft.is_leader
        assert [s.id for s in server.raft.configuration] == [server.rpc.addr]
    assert "are both in bootstrap mode" in caplog.text
    term = one.server.raft.term  # type: ignore[union-attr]
    world.crash("two")
    world.run(60.0)
    assert one.server.raft.is_leader  # type: ignore[union-attr]
    assert one.server.raft.term == term  # type: ignore[union-attr]
    assert (await one.health(None, None)).healthy


async def test_a_non_bootstrap_server_still_joins_a_dev_agents_raft(world: SimAgents) -> None:
    dev = await world.add("dev", dev=True)
    other = await world.add("other", server={"enabled": True, "bootstrap_expect": 3})
    assert (await other.join([str(world.serf_addr("dev"))])).num_joined == 1
    assert world.run_until(
        lambda: len(dev.server.raft.configuration) == 2,  # type: ignore[union-attr]
        TIMEOUT,
    )
