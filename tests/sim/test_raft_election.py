"""Raft among simulated servers: elections, failover, partitions, and the safety properties
(Election Safety, State Machine Safety, Leader Completeness) under faults chosen by hypothesis.

Every `RaftSimCluster` checks the safety properties on each event and keeps what it finds in
`violations`; the tests assert it stays empty and print the seed and trace tail when not.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from agent.sim.network import NetworkConditions
from agent.sim.raft_cluster import RaftSimCluster
from raft_stub import EntryType

AFTER = st.sampled_from([0.0, 0.1, 0.4, 1.0])
"""Virtual seconds to run after a fault or a proposal."""
LOSSY = NetworkConditions(
    latency_min=0.0005, latency_mean=0.002, loss=0.05, duplicate=0.05, reorder=0.1
)
SLOW = NetworkConditions(
    latency_min=0.01, latency_mean=0.15, loss=0.02, duplicate=0.05, reorder=0.2, reorder_delay=0.2
)
"""Latency near the timeouts: split votes, stale leaders and reordered replies are common."""
NETWORKS = {"loopback": None, "lossy": LOSSY, "slow": SLOW}


def _stable(c: RaftSimCluster, among: list[int] | None = None, timeout: float = 10.0) -> int:
    """Run until the live servers of `among` agree on one leader; return it."""
    assert c.run_until(lambda: c.agreed_leader(among) is not None, timeout), c.describe_failure()
    leader = c.agreed_leader(among)
    assert leader is not None
    return leader


def _safe(c: RaftSimCluster) -> None:
    assert c.violations == [], c.describe_failure()


def _commands(c: RaftSimCluster, i: int) -> list[bytes]:
    return [e.data for e in c.core(i).log.entries if e.type is EntryType.COMMAND]


@pytest.mark.parametrize("n", [1, 3, 5])
def test_a_stable_leader_emerges_within_a_few_seconds(n: int, sim_seed: int) -> None:
    c = RaftSimCluster(sim_seed, n)
    leader = _stable(c, timeout=5.0)
    term = c.core(leader).term
    c.run(10.0)
    assert (c.agreed_leader(), c.core(leader).term) == (leader, term), c.describe_failure()
    assert {c.core(i).commit_index for i in range(n)} == {c.core(leader).last_log_index}
    _safe(c)


def test_a_dev_server_leads_term_2_with_a_noop_at_index_2_after_1_to_2_seconds(
    sim_seed: int,
) -> None:
    c = RaftSimCluster(sim_seed, 1)
    _stable(c)
    ((at, term, leader),) = c.history
    assert 1.0 <= at < 2.0 and (term, leader) == (2, c.addresses[0])
    core = c.core(0)
    assert core.log.entry(2).type is EntryType.NOOP and core.commit_index == 2
    assert c.network.datagrams_sent == 0


@pytest.mark.parametrize("n", [3, 5])
def test_killing_the_leader_elects_a_new_one_in_a_higher_term(n: int, sim_seed: int) -> None:
    c = RaftSimCluster(sim_seed, n)
    old = _stable(c)
    old_term = c.core(old).term
    c.kill(old)
    new = _stable(c)
    new_term = c.core(new).term
    assert new != old and new_term > old_term
    c.restart(old)
    final = _stable(c)
    # The returning server learned the new term; it cannot lead in (or drag us back to) its own.
    assert c.core(final).term >= new_term and c.core(old).term >= new_term, c.describe_failure()
    _safe(c)


def test_minority_leader_steps_down_within_the_lease_and_the_majority_elects(
    sim_seed: int,
) -> None:
    c = RaftSimCluster(sim_seed, 5)
    old = _stable(c)
    c.run(1.0)
    old_term = c.core(old).term
    minority = [old, (old + 1) % 5]
    majority = [i for i in range(5) if i not in minority]
    c.partition([minority, majority])
    cut_at = c.now
    assert c.run_until(lambda: not c.core(old).is_leader, 1.2), c.describe_failure()
    assert c.now - cut_at <= 2 * 0.5  # lease checked every lease: at most two of them
    new = _stable(c, majority)
    assert c.core(new).term > old_term
    c.run(10.0)
    assert [i for i in minority if c.core(i).is_leader] == []
    assert all(c.core(i).leader() is None for i in minority), c.describe_failure()
    late = [(t, who) for at, t, who in c.history if at > cut_at and t > old_term]
    assert {who for _, who in late} == {c.addresses[new]}
    _safe(c)

    c.heal()
    final = _stable(c, timeout=15.0)
    index = c.propose(b"after heal")
    assert index is not None
    assert c.run_until(lambda: all(c.core(i).commit_index >= index for i in range(5)), 5.0)
    assert all(c.core(i).log.entries == c.core(final).log.entries for i in range(5))
    _safe(c)


def _propose_and_commit(c: RaftSimCluster, leader: int, prefix: bytes) -> None:
    """Ten commands through `leader`, run until the leader has committed them all."""
    last = None
    for k in range(10):
        last = c.propose(prefix + b"%d" % k)
        assert last is not None
    assert c.run_until(lambda: c.core(leader).commit_index >= last, 5.0), c.describe_failure()


def test_committed_entries_survive_leader_failures_and_restarts(sim_seed: int) -> None:
    c = RaftSimCluster(sim_seed, 5)
    first = _stable(c)
    _propose_and_commit(c, first, b"a")
    committed_before = dict(c.committed)
    c.kill(first)
    second = _stable(c)
    _propose_and_commit(c, second, b"b")
    c.kill(second)
    third = _stable(c)
    c.restart(first)
    c.restart(second)
    last = c.propose(b"final")
    assert last is not None
    assert c.run_until(lambda: all(c.core(i).commit_index >= last for i in range(5)), 10.0), (
        c.describe_failure()
    )
    expected = [b"a%d" % k for k in range(10)] + [b"b%d" % k for k in range(10)] + [b"final"]
    for i in range(5):
        assert _commands(c, i) == expected, c.describe_failure()
    assert all(c.committed[i] == e for i, e in committed_before.items())
    assert third not in (first, second)
    _safe(c)


def test_lossy_network_still_elects_and_commits(sim_seed: int) -> None:
    c = RaftSimCluster(sim_seed, 5, conditions=LOSSY)
    _stable(c)
    indices = [c.propose(b"x%d" % k) for k in range(20)]
    assert None not in indices
    assert c.run_until(lambda: min(c.core(i).commit_index for i in range(5)) >= 22, 10.0), (
        c.describe_failure()
    )
    _safe(c)


def test_timing_overrides_reach_every_server(sim_seed: int) -> None:
    fast = {"heartbeat_timeout": 0.2, "election_timeout": 0.2, "leader_lease_timeout": 0.1}
    c = RaftSimCluster(sim_seed, 3, timing=fast)
    _stable(c, timeout=1.0)
    assert all(c.core(i).config.heartbeat_timeout == 0.2 for i in range(3))
    assert c.history[0][0] < 0.4 + 0.01  # a follower stands within 2 x heartbeat_timeout


def test_same_seed_same_history() -> None:
    def run() -> tuple[list[tuple[float, int, str]], str]:
        c = RaftSimCluster(1234, 5, conditions=LOSSY)
        _stable(c)
        c.kill(c.leaders()[0])
        _stable(c)
        c.propose(b"x")
        c.run(2.0)
        return c.history, c.trace.digest()

    assert run() == run()


class RaftMachine(RuleBasedStateMachine):
    """Partitions, heals, crashes, restarts, proposals and time, in any order."""

    cluster: RaftSimCluster

    @initialize(
        n=st.sampled_from([3, 5]),
        seed=st.integers(0, 2**32 - 1),
        network=st.sampled_from(sorted(NETWORKS)),
    )
    def start(self, n: int, seed: int, network: str) -> None:
        self.cluster = RaftSimCluster(seed, n, conditions=NETWORKS[network])
        self.proposed = 0
        self.cluster.run(2.5)  # most examples then start from a cluster with a leader
        self.propose(3)

    # every rule lets some time pass afterwards, so even a short example lives a while
    @rule(seconds=st.sampled_from([0.3, 1.0, 2.0, 4.0]))
    def advance(self, seconds: float) -> None:
        self.cluster.run(seconds)

    @rule(sides=st.lists(st.booleans(), min_size=5, max_size=5), then=AFTER)
    def partition(self, sides: list[bool], then: float) -> None:
        n = self.cluster.n
        groups = [[i for i in range(n) if sides[i]], [i for i in range(n) if not sides[i]]]
        self.cluster.partition([g for g in groups if g])
        self.cluster.run(then)

    @rule(then=AFTER)
    def heal(self, then: float) -> None:
        self.cluster.heal()
        self.cluster.run(then)

    @precondition(lambda self: len(self.cluster.live_servers()) > 1)
    @rule(pick=st.integers(0, 4), then=AFTER)
    def kill(self, pick: int, then: float) -> None:
        live = self.cluster.live_servers()
        self.cluster.kill(live[pick % len(live)])
        self.cluster.run(then)

    @precondition(lambda self: len(self.cluster.live_servers()) < self.cluster.n)
    @rule(pick=st.integers(0, 4), then=AFTER)
    def restart(self, pick: int, then: float) -> None:
        dead = [i for i in range(self.cluster.n) if not self.cluster.live(i)]
        self.cluster.restart(dead[pick % len(dead)])
        self.cluster.run(then)

    @precondition(lambda self: len(self.cluster.live_servers()) > 0)
    @rule(pick=st.integers(0, 4), then=AFTER)
    def bounce(self, pick: int, then: float) -> None:
        """Crash and restart at once: what is not on disk is forgotten mid-election."""
        live = self.cluster.live_servers()
        self.cluster.restart(live[pick % len(live)])
        self.cluster.run(then)

    @rule(count=st.integers(1, 4), then=AFTER)
    def propose(self, count: int, then: float = 0.0) -> None:
        for _ in range(count):
            self.proposed += 1
            self.cluster.propose(b"c%d" % self.proposed)
        self.cluster.run(then)

    @invariant()
    def election_safety(self) -> None:
        _safe(self.cluster)

    @invariant()
    def committed_prefixes_match(self) -> None:
        c = self.cluster
        for i in c.live_servers():
            core = c.core(i)
            for index in range(1, core.commit_index + 1):
                assert core.log.entry(index) == c.committed[index], c.describe_failure()

    def teardown(self) -> None:
        c = getattr(self, "cluster", None)
        if c is None:
            return
        c.heal()
        for i in range(c.n):
            if not c.live(i):
                c.restart(i)
        _stable(c, timeout=30.0)
        last = c.propose(b"final")
        assert last is not None, c.describe_failure()
        assert c.run_until(lambda: all(c.core(i).commit_index >= last for i in range(c.n)), 10.0), (
            c.describe_failure()
        )
        _safe(c)


TestRaftMachine = RaftMachine.TestCase
TestRaftMachine.settings = settings(
    max_examples=30,
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    # no "explain" phase: it line-traces whole simulations and takes minutes on a failure
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
