"""SimCluster's API over a toy core (PingCore from conftest), independent of SerfCore."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.sim import NetworkConditions, SimCluster, SimEvent, SimulationError
from gossip.types import Address

Factory = Callable[..., SimCluster]


def three(ping_cluster: Factory, seed: int = 7, **kw: object) -> SimCluster:
    c = ping_cluster(seed, **kw)
    for name in ("n1", "n2", "n3"):
        c.add_node(name)
    assert c.join("n2", ["n1"]) == 1
    assert c.join("n3", ["n1", "n2"]) == 2
    return c


def test_nodes_get_distinct_simulated_addresses(ping_cluster: Factory) -> None:
    c = ping_cluster()
    handles = [c.add_node(f"n{i}", tags={"i": str(i)}) for i in range(300)]
    assert handles[0].addr == Address("127.1.0.1", 7946)
    assert handles[249].addr == Address("127.1.0.250", 7946)
    assert handles[250].addr == Address("127.1.1.1", 7946)
    assert len({h.addr for h in handles}) == 300
    assert c.node("n5").tags == {"i": "5"} and c.node("n5") is handles[5]
    with pytest.raises(ValueError, match="already exists"):
        c.add_node("n1")
    with pytest.raises(KeyError, match="nope"):
        c.node("nope")


def test_join_accepts_names_addresses_and_text(ping_cluster: Factory) -> None:
    c = ping_cluster()
    for name in ("a", "b", "c", "d", "e"):
        c.add_node(name)
    assert c.join("b", ["a"]) == 1
    assert c.join("c", [Address("127.1.0.1", 7946)]) == 1
    assert c.join("d", ["127.1.0.2:7946"]) == 1
    assert c.join("e", ["127.1.0.3"]) == 1  # default port
    with pytest.raises(ValueError, match="neither a node name"):
        c.join("e", ["not-a-node"])
    assert c.now > 0


def test_join_to_nobody_listening_is_refused(ping_cluster: Factory) -> None:
    c = ping_cluster()
    c.add_node("n1")
    assert c.join("n1", ["127.9.9.9:7946"]) == 0
    last = c.node("n1").last_join
    assert last is not None
    assert last.errors == ("dial tcp 127.9.9.9:7946: connect: connection refused",)
    assert c.now < 0.1  # refused promptly, not after the timeout


def test_join_and_statuses(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    c.run(5.0)
    for name in ("n1", "n2", "n3"):
        assert c.statuses(name) == {"n1": "alive", "n2": "alive", "n3": "alive"}
    assert c.converged()
    assert c.stats("n1") == {"members": "3"}
    assert [m.name for m in c.members("n2")] == ["n1", "n2", "n3"]
    assert all(isinstance(e, SimEvent) for e in c.events)
    assert ("n1", "member-join", "n2") in [(e.observer, e.kind, e.member) for e in c.events]


def test_kill_is_silent_and_detected(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    c.kill("n3")
    assert c.live_nodes() == ["n1", "n2"] and not c.node("n3").running
    assert c.run_until(lambda: c.statuses("n1")["n3"] == "failed", 30.0)
    with pytest.raises(ValueError, match="not running"):
        c.kill("n3")
    with pytest.raises(ValueError, match="not running"):
        c.join("n3", ["n1"])


def test_restart_is_a_fresh_unjoined_process(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    old_core = c.node("n3").core
    c.kill("n3")
    node = c.restart("n3")
    assert node.running and node.restarts == 1 and node.core is not old_core
    assert node.addr == Address("127.1.0.3", 7946)
    assert c.statuses("n3") == {"n3": "alive"}  # not joined: the caller joins
    assert c.join("n3", ["n1"]) == 1
    c.restart("n2")  # restarting a running node kills it first
    kinds = [(e.node, e.kind) for e in c.trace]
    assert ("n2", "kill") in kinds and ("n2", "restart") in kinds


def test_leave_shuts_the_node_down_unless_asked_not_to(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    assert c.leave("n2") is None
    assert c.live_nodes() == ["n1", "n3"]
    c.run(1.0)
    assert c.statuses("n1")["n2"] == "left"
    assert c.leave("n3", shutdown=False) is None
    assert c.node("n3").running


def test_force_leave_returns_the_cores_error(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    assert c.force_leave("n1", "n3") is None
    assert c.statuses("n1")["n3"] == "left"
    assert c.force_leave("n1", "ghost", prune=True) == "no member ghost"


def test_command_that_never_completes_raises_with_the_seed(ping_cluster: Factory) -> None:
    c = ping_cluster(seed=99)
    c.add_node("n1")
    with pytest.raises(SimulationError, match="seed=99"):
        c.join("n1", [])  # PingCore never completes an empty join


def test_partition_block_and_heal(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    c.partition(["n1"], ["n2", "n3"])
    assert c.run_until(lambda: c.statuses("n1")["n2"] == "failed", 30.0)
    c.heal()
    c.block("n1", "n2")
    assert c.network.blocked(c.node("n1").addr, c.node("n2").addr)
    assert not c.network.blocked(c.node("n2").addr, c.node("n1").addr)
    c.heal()
    details = [e.detail for e in c.trace if e.kind in ("partition", "block", "heal")]
    assert details == ["n1 | n2,n3", "", "n1 -> n2", ""]
    c.partition(["n1"], ["n2"], symmetric=False)
    assert c.trace[-1].detail == "n1 -> n2"


def test_network_changes_are_traced(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    c.set_loss(0.25)
    assert c.network.conditions.loss == 0.25
    c.set_link("n1", "n2", NetworkConditions(latency_min=0.1))
    c.set_link("n1", "n2", None, both_ways=False)
    kinds = [e.kind for e in c.trace][-3:]
    assert kinds == ["network", "link", "link"]
    assert "loss=0.25" in c.trace[-3].detail


def test_pause_stalls_a_node(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    c.run(3.0)
    c.pause("n3", 12.0)
    assert c.node("n3").paused
    c.run(11.0)
    assert c.statuses("n1")["n3"] == "failed"  # it stopped answering pings
    assert c.statuses("n3") == {"n1": "alive", "n2": "alive", "n3": "alive"}  # it saw nothing
    c.run(2.0)
    assert not c.node("n3").paused
    with pytest.raises(ValueError, match="negative"):
        c.pause("n3", -1.0)


def test_run_and_run_until(ping_cluster: Factory) -> None:
    c = ping_cluster()
    c.add_node("n1")
    c.run(2.5)
    assert c.now == 2.5
    with pytest.raises(ValueError, match="backwards"):
        c.run(-1.0)
    assert c.run_until(lambda: c.now >= 3.0, 10.0) is True
    assert 3.0 <= c.now < 4.0  # stopped at the first step where it held
    start = c.now
    assert c.run_until(lambda: False, 5.0) is False
    assert c.now == start + 5.0
    assert c.run_until(lambda: c.now >= 20.0, 100.0, poll=1.0) is True
    assert c.now == pytest.approx(20.0 + (start + 5.0) % 1.0, abs=1.0)


def test_call_at_runs_faults_on_schedule_but_not_time_travel(ping_cluster: Factory) -> None:
    c = three(ping_cluster)
    at = c.now + 2.0
    c.call_at(at, lambda: c.kill("n3"))
    c.run(1.0)
    assert c.node("n3").running
    c.run(2.0)
    assert not c.node("n3").running
    assert [e.at for e in c.trace if e.kind == "kill"] == [at]
    c.call_at(c.now + 1.0, lambda: c.run(1.0))
    with pytest.raises(RuntimeError, match="cannot call"):
        c.run(5.0)


def test_describe_failure_starts_with_the_seed_and_ends_with_the_trace(
    ping_cluster: Factory,
) -> None:
    c = three(ping_cluster, seed=4242)
    text = c.describe_failure(tail=3)
    assert text.startswith("seed=4242 ")
    lines = text.splitlines()
    assert len(lines) == 4 and "join-done" in lines[-1]
    assert "SimCluster(seed=4242" in repr(c)


def test_trace_is_bounded_but_the_digest_covers_everything(ping_cluster: Factory) -> None:
    small = three(ping_cluster, seed=1, trace_limit=5)
    full = three(ping_cluster, seed=1)
    assert len(small.trace) == 5 and len(full.trace) > 5
    assert small.trace == full.trace[-5:]
    assert small.trace_digest() == full.trace_digest()


def test_events_can_be_switched_off_for_big_runs(ping_cluster: Factory) -> None:
    c = three(ping_cluster, record_events=False)
    assert c.events == [] and any(e.kind == "member-join" for e in c.trace)


def test_overrides_reach_the_config(ping_cluster: Factory) -> None:
    c = ping_cluster(profile="local", reconnect_timeout=120.0, probe_interval=0.5)
    assert c.config.reconnect_timeout == 120.0
    assert c.config.memberlist.probe_interval == 0.5
    assert c.config.memberlist.tcp_timeout == 1.0  # from the "local" preset
    with pytest.raises(ValueError, match="unknown"):
        ping_cluster(not_a_knob=1)
