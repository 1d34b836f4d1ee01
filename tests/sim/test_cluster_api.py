"""Every SimCluster method on a small cluster of real SerfCores."""

from __future__ import annotations

import pytest

from agent.sim import NetworkConditions, SimCluster, SimNode

NAMES = ["n1", "n2", "n3"]


def all_see(c: SimCluster, member: str, status: str, observers: list[str]) -> bool:
    return all(c.statuses(o).get(member) == status for o in observers)


def joined(seed: int, n: int = 3, **kw: object) -> SimCluster:
    c = SimCluster(seed=seed, profile="lan", **kw)
    for i in range(1, n + 1):
        handle = c.add_node(f"n{i}", tags={"role": "nomad", "id": str(i)})
        assert isinstance(handle, SimNode) and handle.name == f"n{i}"
    for i in range(2, n + 1):
        assert c.join(f"n{i}", ["n1"]) == 1, c.describe_failure()
    assert c.run_until(c.converged, 30.0), c.describe_failure()
    return c


def test_three_nodes_join_and_see_each_other_alive(sim_seed: int) -> None:
    c = joined(sim_seed)
    for name in NAMES:
        assert c.statuses(name) == dict.fromkeys(NAMES, "alive"), c.describe_failure()
        assert c.stats(name)["members"] == "3"
        assert {m.name: m.tags["id"] for m in c.members(name)} == {"n1": "1", "n2": "2", "n3": "3"}
    assert c.live_nodes() == NAMES and [n.name for n in c.nodes] == NAMES
    joins = {(e.observer, e.member) for e in c.events if e.kind == "member-join"}
    assert {(o, m) for o in NAMES for m in NAMES if o != m} <= joins
    assert all(isinstance(v, str) for v in c.stats("n1").values())


def test_kill_is_failed_then_force_leave_makes_it_left(sim_seed: int) -> None:
    c = joined(sim_seed)
    killed_at = c.now
    c.kill("n3")
    assert c.live_nodes() == ["n1", "n2"]
    ok = c.run_until(lambda: all_see(c, "n3", "failed", ["n1", "n2"]), 60.0, poll=0.1)
    assert ok, c.describe_failure()
    failed = [e for e in c.events if e.kind == "member-failed" and e.member == "n3"]
    assert failed and failed[0].at > killed_at
    assert c.force_leave("n1", "n3") is None, c.describe_failure()
    assert c.run_until(lambda: all_see(c, "n3", "left", ["n1", "n2"]), 10.0), c.describe_failure()


def test_graceful_leave_is_left_and_the_node_stops(sim_seed: int) -> None:
    c = joined(sim_seed)
    assert c.leave("n2") is None, c.describe_failure()
    assert not c.node("n2").running and c.live_nodes() == ["n1", "n3"]
    assert c.run_until(lambda: all_see(c, "n2", "left", ["n1", "n3"]), 10.0), c.describe_failure()
    assert not [e for e in c.events if e.kind == "member-failed"], c.describe_failure()


def test_partition_then_heal(sim_seed: int) -> None:
    c = joined(sim_seed, n=4)
    c.partition(["n1", "n2"], ["n3", "n4"])

    def split() -> bool:
        left = all_see(c, "n3", "failed", ["n1", "n2"])
        return left and all_see(c, "n1", "failed", ["n3", "n4"])

    assert c.run_until(split, 90.0, poll=0.1), c.describe_failure()
    assert not c.converged()
    c.heal()
    assert c.run_until(c.converged, 300.0, poll=0.5), c.describe_failure()
    assert set(c.statuses("n4").values()) == {"alive"}


def test_restart_pause_block_loss_links_and_call_at(sim_seed: int) -> None:
    c = joined(sim_seed)
    c.restart("n3")  # a fresh process: knows nobody until it joins again
    assert c.statuses("n3") == {"n3": "alive"}
    assert c.join("n3", [c.node("n1").addr]) == 1
    assert c.run_until(lambda: all_see(c, "n3", "alive", NAMES), 60.0, poll=0.1)
    c.pause("n2", 3.0)  # shorter than any suspicion timeout: nobody fails it
    c.block("n1", "n3")
    c.set_loss(0.01)
    c.set_link("n1", "n2", NetworkConditions.lan())
    c.set_network(NetworkConditions.lan())
    c.call_at(c.now + 2.0, c.heal)
    c.run(20.0)
    assert not c.node("n2").paused
    assert c.run_until(c.converged, 60.0, poll=0.1), c.describe_failure()
    assert not [e for e in c.events if e.kind == "member-failed" and e.member == "n2"]
    kinds = [e.kind for e in c.trace]
    for kind in ("restart", "pause", "block", "network", "link", "heal"):
        assert kind in kinds


def test_shutdown_is_orderly_but_looks_like_a_failure(sim_seed: int) -> None:
    c = joined(sim_seed)
    c.shutdown("n3")
    assert c.live_nodes() == ["n1", "n2"]
    ok = c.run_until(lambda: all_see(c, "n3", "failed", ["n1", "n2"]), 60.0, poll=0.1)
    assert ok, c.describe_failure()


def test_same_seed_same_run_and_a_different_seed_differs() -> None:
    def run(seed: int) -> SimCluster:
        c = joined(seed, n=4)
        c.kill("n4")
        c.run(30.0)
        return c

    a, b, other = run(3), run(3), run(4)
    assert a.events == b.events and a.trace_digest() == b.trace_digest()
    assert a.trace_digest() != other.trace_digest()


def test_failure_text_names_the_seed() -> None:
    c = joined(77)
    text = c.describe_failure()
    assert text.startswith("seed=77 ") and "member-join" in text
    c.kill("n3")
    with pytest.raises(ValueError, match="not running"):
        c.kill("n3")
