"""A server that restarts at a new address, as podman's `start` gives a container a new IP.

memberlist 0.2.2's rule (state.go `aliveNode`): an alive message for a known name from another
address or port is a conflict, and is ignored, unless the entry is left, or dead for longer
than DeadNodeReclaimTime (config.go; 0 by default, which means never). So with the default,
the others keep refusing the new address until their dead entry is gone: `resetNodes`
(state.go), at the end of a probe round, drops entries dead for more than GossipToTheDeadTime
(30 s in the LAN profile). The next alive news from the new address is then a newcomer's
and is accepted; it comes with the restarted node's next push-pull (or a peer that accepted
it first). serf's force-leave does not change this: it makes the member `left` in serf's
table, while memberlist's entry stays dead (only a node's own leave makes it left there).

docker-compose's walk-through (README) kills server2, force-leaves it and starts it again;
these tests replay that in virtual time, and show the address change is the whole cause.
"""

from __future__ import annotations

import pytest

from agent.sim import SimCluster
from gossip import SerfCore
from gossip.types import NodeState

NAMES = ["n1", "n2", "n3"]
NEW_ADDR = "127.2.0.2"  # outside add_node's 127.1.0.0/16


def serf(c: SimCluster, name: str) -> SerfCore:
    core = c.node(name).core
    assert isinstance(core, SerfCore)
    return core


def converged(seed: int, **overrides: object) -> SimCluster:
    c = SimCluster(seed=seed, profile="lan", **overrides)
    for name in NAMES:
        c.add_node(name)
    for name in NAMES[1:]:
        assert c.join(name, ["n1"]) == 1, c.describe_failure()
    assert c.run_until(c.converged, 30.0), c.describe_failure()
    return c


def crash_and_force_leave(c: SimCluster) -> float:
    """README's `kill server2` then force-leave; returns when n1's memberlist marked n2 dead."""
    c.kill("n2")
    assert c.run_until(lambda: c.statuses("n1").get("n2") == "failed", 60.0, poll=0.1), (
        c.describe_failure()
    )
    entry = serf(c, "n1").swim.membership.node_map["n2"]
    assert entry.state == NodeState.DEAD
    dead_at = entry.state_change_at
    assert c.force_leave("n1", "n2") is None
    assert c.run_until(lambda: c.statuses("n1").get("n2") == "left", 10.0, poll=0.1)
    # serf says left; memberlist's entry is still the dead one, at the old address
    assert serf(c, "n1").swim.membership.node_map["n2"].state == NodeState.DEAD
    return dead_at


def alive_at(c: SimCluster, observer: str, addr: str) -> bool:
    return any(
        m.name == "n2" and m.status == "alive" and m.addr == addr for m in c.members(observer)
    )


@pytest.mark.parametrize("seed_offset", range(4))
def test_a_new_address_is_refused_until_the_dead_entry_is_dropped(
    sim_seed: int, seed_offset: int
) -> None:
    c = converged(sim_seed + seed_offset)
    config = c.config.memberlist
    assert config.dead_node_reclaim_time == 0.0
    old_addr = c.node("n2").addr.host
    dead_at = crash_and_force_leave(c)

    c.restart("n2", addr=NEW_ADDR)
    assert c.node("n2").addr.host == NEW_ADDR
    assert c.join("n2", ["n1"]) == 1  # the stream exchange works ...
    c.run(2.0)
    # ... but n1 refuses the name from the new address: a conflict, n2 stays left
    assert serf(c, "n1").name_conflicts > 0
    assert c.statuses("n1")["n2"] == "left"
    assert {m.name: m.addr for m in c.members("n1")}["n2"] == old_addr

    # While the dead entry is younger than GossipToTheDeadTime, nothing changes.
    drop_after = dead_at + config.gossip_to_the_dead_time
    assert c.run_until(lambda: alive_at(c, "n1", NEW_ADDR), drop_after - c.now) is False
    assert c.statuses("n1")["n2"] == "left"

    # resetNodes drops it at the end of a probe round; n2's next push-pull (or a peer that
    # took it first) brings the news, and the name is accepted at its new address.
    probe_round = len(NAMES) * config.probe_interval
    bound = drop_after + probe_round + config.push_pull_interval + config.tcp_timeout
    assert c.run_until(lambda: alive_at(c, "n1", NEW_ADDR), bound - c.now, poll=0.1), (
        c.describe_failure()
    )
    assert c.now > drop_after
    assert c.run_until(lambda: alive_at(c, "n3", NEW_ADDR), 60.0, poll=0.1), c.describe_failure()
    assert c.node("n2").running  # no conflict about itself, so serf did not shut it down
    assert c.statuses("n2") == dict.fromkeys(NAMES, "alive")


def test_the_same_address_is_accepted_at_once(sim_seed: int) -> None:
    """The control: the same restart at the old address is alive within seconds."""
    c = converged(sim_seed)
    crash_and_force_leave(c)
    c.restart("n2")
    assert c.join("n2", ["n1"]) == 1
    old_addr = c.node("n2").addr.host
    assert c.run_until(lambda: alive_at(c, "n1", old_addr), 5.0, poll=0.1), c.describe_failure()
    assert serf(c, "n1").name_conflicts == 0


def test_dead_node_reclaim_time_lets_a_long_dead_name_move(sim_seed: int) -> None:
    """With DeadNodeReclaimTime > 0 an entry dead for longer than it may take the new
    address at once (memberlist's `canReclaim`), without waiting for resetNodes."""
    c = converged(sim_seed, dead_node_reclaim_time=5.0)
    dead_at = crash_and_force_leave(c)
    c.run(dead_at + 6.0 - c.now)  # dead for longer than the reclaim time
    c.restart("n2", addr=NEW_ADDR)
    assert c.join("n2", ["n1"]) == 1
    assert c.run_until(lambda: alive_at(c, "n1", NEW_ADDR), 5.0, poll=0.1), c.describe_failure()
    assert c.now < dead_at + c.config.memberlist.gossip_to_the_dead_time
    assert serf(c, "n1").name_conflicts == 0


def test_dead_node_reclaim_time_does_not_cover_a_fresh_death(sim_seed: int) -> None:
    """A restart sooner than DeadNodeReclaimTime after the death is still a conflict."""
    c = converged(sim_seed, dead_node_reclaim_time=20.0)
    dead_at = crash_and_force_leave(c)
    c.restart("n2", addr=NEW_ADDR)
    assert c.join("n2", ["n1"]) == 1
    c.run(2.0)
    assert serf(c, "n1").name_conflicts > 0
    assert c.statuses("n1")["n2"] == "left"
    # accepted once the entry is older than the reclaim time (n2's next alive news after it)
    reclaim = dead_at + 20.0
    bound = reclaim + c.config.memberlist.push_pull_interval + c.config.memberlist.tcp_timeout
    assert c.run_until(lambda: alive_at(c, "n1", NEW_ADDR), bound - c.now, poll=0.1), (
        c.describe_failure()
    )
    assert c.now > reclaim


def test_restart_refuses_an_address_another_node_has(sim_seed: int) -> None:
    c = converged(sim_seed)
    with pytest.raises(ValueError, match="belongs to node 'n1'"):
        c.restart("n2", addr=c.node("n1").addr)
    with pytest.raises(ValueError):
        c.restart("n2", addr="not-an-ip")
    assert c.node("n2").running  # refused before anything happened
    trace = [e for e in c.trace if e.kind == "restart"]
    assert trace == []
    c.restart("n2", addr=f"{NEW_ADDR}:7000")
    assert str(c.node("n2").addr) == f"{NEW_ADDR}:7000"
    assert "->" in next(e for e in c.trace if e.kind == "restart").detail
