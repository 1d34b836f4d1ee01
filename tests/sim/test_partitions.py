"""Partitions and packet loss, in virtual time. Each fault is first shown to have its effect
(someone is declared failed, or news crosses only one way, or datagrams really are dropped),
then healing is shown to restore everyone's view."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.sim import NetworkConditions, SimCluster
from tests.helpers.sim import all_see, eventually, joined_cluster

LEFT = ["n1", "n2"]
RIGHT = ["n3", "n4"]


def member_events_since(c: SimCluster, start: float) -> list[tuple[str, str, str]]:
    """(observer, kind, member) of every member event after `start`."""
    return [(e.observer, e.kind, e.member) for e in c.events if e.at > start]


def test_partition_then_heal_reconverges_through_reconnect() -> None:
    c = joined_cluster(4, seed=41)
    c.partition(LEFT, RIGHT)
    eventually(c, lambda: all_see(c, RIGHT, "failed", LEFT), 90.0, "left side")
    eventually(c, lambda: all_see(c, LEFT, "failed", RIGHT), 90.0, "right side")
    c.heal()
    names = LEFT + RIGHT
    # failed members are retried about once per ReconnectInterval (30 s) across the cluster
    eventually(c, lambda: all_see(c, names, "alive"), 300.0, "reconnect after heal")
    assert c.converged()


def _partition_one_way(c: SimCluster) -> None:
    c.partition(LEFT, RIGHT, symmetric=False)


def _block_each_link(c: SimCluster) -> None:
    for src in LEFT:
        for dst in RIGHT:
            c.block(src, dst)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(_partition_one_way, id="partition-symmetric-false"),
        pytest.param(_block_each_link, id="block"),
    ],
)
def test_one_way_cut_fails_both_sides_but_news_still_crosses_the_open_way(
    cut: Callable[[SimCluster], None],
) -> None:
    """n1, n2 -> n3, n4 cut; n3, n4 -> n1, n2 open.

    A probe needs a round trip, so each side declares the other failed. But gossip rides on
    the pings that do get through: n4's graceful leave reaches n1 and n2 as `left` (under a
    symmetric cut they never hear of it and see n4 `failed`), while n3 and n4 hear nothing
    from n1 and n2. After healing the survivors see each other alive again.
    """
    c = joined_cluster(4, seed=42)
    start = c.now
    cut(c)
    c.run(1.0)
    assert c.leave("n4") is None
    eventually(c, lambda: all_see(c, LEFT, "failed", ["n3"]), 90.0, "n3 sees n1, n2 failed")
    eventually(c, lambda: all_see(c, ["n3"], "failed", LEFT), 90.0, "n1, n2 see n3 failed")
    assert all_see(c, ["n4"], "left", [*LEFT, "n3"]), c.describe_failure()
    assert ("n1", "member-failed", "n4") not in member_events_since(c, start)
    c.heal()
    alive = [*LEFT, "n3"]
    eventually(c, lambda: all_see(c, alive, "alive"), 300.0, "reconnect after heal")
    assert all_see(c, ["n4"], "left"), c.describe_failure()


def _lose_every_datagram_of(c: SimCluster, name: str, loss: float | None) -> None:
    conditions = None if loss is None else NetworkConditions(loss=loss)
    for other in c.live_nodes():
        if other != name:
            c.set_link(name, other, conditions)


def test_total_datagram_loss_on_a_nodes_links_fails_it_without_tcp_pings() -> None:
    """Every datagram to and from n1 lost, and no stream fallback ping (memberlist's
    DisableTcpPings): direct and indirect probes of n1 all fail, so it is declared failed,
    and n1 in turn declares everyone else failed. With the links restored, all are alive
    and stay so."""
    c = joined_cluster(4, seed=44, disable_tcp_pings=True)
    others = ["n2", "n3", "n4"]
    _lose_every_datagram_of(c, "n1", 1.0)
    eventually(c, lambda: all_see(c, ["n1"], "failed", others), 30.0, "n1 declared failed")
    eventually(c, lambda: all_see(c, others, "failed", ["n1"]), 60.0, "n1 declares the rest")
    _lose_every_datagram_of(c, "n1", None)
    names = ["n1", *others]
    eventually(c, lambda: all_see(c, names, "alive"), 300.0, "alive after the loss")
    settled = c.now  # and it holds: under the loss a rejoin via push-pull is failed again
    c.run(60.0)
    assert member_events_since(c, settled) == [], c.describe_failure()
    assert all_see(c, names, "alive")


def test_the_tcp_fallback_ping_rides_out_total_datagram_loss() -> None:
    """The same loss with memberlist's default stream fallback ping: n1 answers probes over
    TCP, so for two minutes of every one of its datagrams being dropped nobody is failed."""
    c = joined_cluster(4, seed=44)
    start, dropped = c.now, c.network.datagrams_dropped
    _lose_every_datagram_of(c, "n1", 1.0)
    c.run(120.0)
    assert c.network.datagrams_dropped - dropped > 100  # the loss was real
    assert member_events_since(c, start) == []
    assert all_see(c, ["n1", "n2", "n3", "n4"], "alive")


@pytest.mark.parametrize("loss", [0.0, 0.05, 0.2])
def test_loss_drops_its_share_of_datagrams_and_fails_nobody(loss: float) -> None:
    """Loss on every link drops about that share of the datagrams sent; indirect probes and
    the TCP fallback keep every member alive the whole time (no member event at all)."""
    c = joined_cluster(6, seed=43)
    start = c.now
    sent, dropped = c.network.datagrams_sent, c.network.datagrams_dropped
    c.set_loss(loss)
    c.run(120.0)
    sent = c.network.datagrams_sent - sent
    dropped = c.network.datagrams_dropped - dropped
    assert sent > 1000
    assert dropped / sent == pytest.approx(loss, abs=0.02)
    assert member_events_since(c, start) == []
    assert all_see(c, [f"n{i}" for i in range(1, 7)], "alive")
