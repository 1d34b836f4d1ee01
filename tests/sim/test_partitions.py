"""Partitions: both sides see the other fail; after healing, reconnect restores the pool."""

from __future__ import annotations

from tests.helpers.sim import all_see, eventually, joined_cluster


def test_partition_then_heal_reconverges_through_reconnect() -> None:
    c = joined_cluster(4, seed=41)
    c.partition(["n1", "n2"], ["n3", "n4"])
    eventually(c, lambda: all_see(c, ["n3", "n4"], "failed", ["n1", "n2"]), 90.0, "left side")
    eventually(c, lambda: all_see(c, ["n1", "n2"], "failed", ["n3", "n4"]), 90.0, "right side")
    c.heal()
    names = ["n1", "n2", "n3", "n4"]
    # failed members are retried about once per ReconnectInterval (30 s) across the cluster
    eventually(c, lambda: all_see(c, names, "alive"), 300.0, "reconnect after heal")
    assert c.converged()


def test_asymmetric_partition_heals_too() -> None:
    c = joined_cluster(4, seed=42)
    c.partition(["n1"], ["n2", "n3", "n4"], symmetric=False)
    c.run(60.0)
    c.heal()
    names = ["n1", "n2", "n3", "n4"]
    eventually(c, lambda: all_see(c, names, "alive"), 300.0, "all alive after heal")


def test_loss_without_crash_keeps_everyone_alive_eventually() -> None:
    c = joined_cluster(6, seed=43)
    c.set_loss(0.05)
    c.run(120.0)
    c.set_loss(0.0)
    names = [f"n{i}" for i in range(1, 7)]
    eventually(c, lambda: all_see(c, names, "alive"), 300.0, "alive after loss stops")
