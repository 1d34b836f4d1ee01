"""A hypothesis state machine driving SimCluster under SWIM and serf safety properties:
incarnations and Lamport clocks never go down, no live node sees itself failed, stats add up.

Safety is checked after every step (cheap invariants); liveness in teardown, in VOPR's two
phases: heal every fault, run a bounded time, then require that all live nodes agree and see
each other alive. Randomness inside the simulation comes from one drawn integer seed, never
from hypothesis' choice stream (long runs would exhaust it).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agent.sim import SimCluster
from gossip.types import MemberStatus

NAMES = [f"n{i}" for i in range(1, 6)]
CONVERGENCE_BOUND = 600.0
"""Virtual seconds after healing for every live view to agree: push-pull, reconnect (30 s
interval, probabilistic), suspicion timeouts and dissemination, with a wide margin."""


class ClusterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.c: SimCluster
        self.incarnations: dict[tuple[str, str, int], tuple[object, int]] = {}
        self.clocks: dict[tuple[str, int], tuple[int, int, int]] = {}
        self.gone: set[str] = set()
        self.lonely: set[str] = set()

    @initialize(seed=st.integers(0, 2**32 - 1))
    def start(self, seed: int) -> None:
        self.c = SimCluster(seed=seed, profile="lan", reconnect_timeout=3600.0)
        for name in NAMES:
            self.c.add_node(name)
        for name in NAMES[1:]:
            self.c.join(name, ["n1"])
        self.c.run(5.0)  # let the join intents spread (see force_leave)

    # ---- helpers -------------------------------------------------------------------------

    def _live(self) -> list[str]:
        return self.c.live_nodes()

    def _fail(self, what: str) -> str:
        return f"{what}\n{self.c.describe_failure()}"

    # ---- rules ---------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.5, 2.0, 10.0, 30.0, 120.0]))
    def advance(self, seconds: float) -> None:
        self.c.run(seconds)

    @precondition(lambda self: len(self._live()) > 2)
    @rule(data=st.data())
    def kill(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self._live()))
        self.c.kill(name)
        self.lonely.discard(name)

    @precondition(lambda self: set(NAMES) - set(self._live()) - self.gone)
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        """Restart a crashed node (one that left gracefully stays gone: see `leave`)."""
        down = sorted(set(NAMES) - set(self._live()) - self.gone)
        name = data.draw(st.sampled_from(down))
        self.c.restart(name)
        seeds = [n for n in self._live() if n != name]
        if not seeds or self.c.join(name, [data.draw(st.sampled_from(seeds))]) == 0:
            self.lonely.add(name)  # e.g. joined across a partition: rejoined in teardown

    @precondition(lambda self: len(self._live()) > 2)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        """Leave for good. A left node that restarts can meet serf's stale-tombstone quirk: a
        newcomer turns a peer's LeftMembers entry into a leave intent at StatusLTime + 1,
        which can tie the restarted node's refuting join intent and stick at `leaving`,
        exactly as with the real serf; the liveness check below would flag that."""
        name = data.draw(st.sampled_from(self._live()))
        self.c.leave(name)
        self.gone.add(name)

    @precondition(lambda self: len(self._live()) >= 2)
    @rule(data=st.data(), prune=st.booleans())
    def force_leave(self, data: st.DataObject, prune: bool) -> None:
        """Force-leave a node that is down, or a name nobody has.

        Only what the observer already sees failed or left (or does not know), as operators
        use it; a force-left node is not restarted. Live targets are left to
        tests/sim/test_leave.py: serf's documented quirks would make the liveness check below
        untrue for the real serf too. A prune erases a
        member that is still alive to serf for good (even after its process restarts), and
        an intent whose LTime ties the target's join intent is never refuted and sticks at
        `leaving`.
        """
        observer = data.draw(st.sampled_from(self._live()))
        down = sorted(set(NAMES) - set(self._live()))
        target = data.draw(st.sampled_from([*down, "ghost"]))
        if self.c.statuses(observer).get(target, "failed") in ("failed", "left"):
            self.c.force_leave(observer, target, prune=prune)
            # A force-left name stays gone, for the reasons a gracefully left one does (see
            # `leave`); and if a pruned name came back while the prune intent circulates, a
            # peer that sees it alive again would defer the prune and erase the live member
            # 6 s later, exactly as serf's handlePrune does.
            self.gone.add(target)

    @rule(split=st.integers(1, len(NAMES) - 1), symmetric=st.booleans())
    def partition(self, split: int, symmetric: bool) -> None:
        self.c.partition(NAMES[:split], NAMES[split:], symmetric=symmetric)

    @rule(split=st.integers(1, len(NAMES) - 1), seconds=st.sampled_from([20.0, 90.0]))
    def partition_then_heal(self, split: int, seconds: float) -> None:
        """A split long enough for both sides to declare the other failed (and, at 90 s, for
        memberlist to forget the dead), then healed: only reconnect brings them back."""
        self.c.partition(NAMES[:split], NAMES[split:])
        self.c.run(seconds)
        self.c.heal()

    @rule()
    def heal(self) -> None:
        self.c.heal()

    @rule(loss=st.sampled_from([0.0, 0.02, 0.1]))
    def set_loss(self, loss: float) -> None:
        self.c.set_loss(loss)

    @precondition(lambda self: len(self._live()) > 0)
    @rule(data=st.data(), seconds=st.sampled_from([1.0, 6.0]))
    def pause(self, data: st.DataObject, seconds: float) -> None:
        self.c.pause(data.draw(st.sampled_from(self._live())), seconds)

    # ---- safety invariants ----------------------------------------------------------------

    @invariant()
    def incarnations_never_decrease(self) -> None:
        """While an entry exists in a view, its incarnation never goes down (memberlist may
        forget a dead node and later learn it afresh: that is a new entry object)."""
        for name in self._live():
            node = self.c.node(name)
            for entry in node.core.swim.membership.nodes:
                key = (name, entry.name, node.restarts)
                held = self.incarnations.get(key)
                if held is not None and held[0] is entry:
                    assert entry.incarnation >= held[1], self._fail(
                        f"{name}: {entry.name} went back"
                    )
                self.incarnations[key] = (entry, entry.incarnation)

    @invariant()
    def lamport_clocks_never_decrease(self) -> None:
        for name in self._live():
            node = self.c.node(name)
            core = node.core
            now = (core.clock.time(), core.event_clock.time(), core.query_clock.time())
            before = self.clocks.get((name, node.restarts), (0, 0, 0))
            assert all(a >= b for a, b in zip(now, before, strict=True)), self._fail("clock")
            self.clocks[(name, node.restarts)] = now

    @invariant()
    def no_live_node_sees_itself_failed(self) -> None:
        for name in self._live():
            own = self.c.statuses(name).get(name)
            assert own in ("alive", "leaving", "left"), self._fail(f"{name} sees itself {own}")

    @invariant()
    def stats_are_consistent(self) -> None:
        for name in self._live():
            core = self.c.node(name).core
            stats = core.stats()
            members = core.members()
            assert stats["members"] == str(len(members))
            failed = sum(m.status is MemberStatus.FAILED for m in members)
            left = sum(m.status is MemberStatus.LEFT for m in members)
            assert stats["failed"] == str(failed), self._fail("failed count")
            assert stats["left"] == str(left), self._fail("left count")
            assert 0 <= int(stats["health_score"]) <= 7

    # ---- liveness ------------------------------------------------------------------------

    def teardown(self) -> None:
        if not hasattr(self, "c"):
            return
        c = self.c
        c.heal()
        c.set_loss(0.0)
        live = self._live()
        for name in sorted(self.lonely & set(live)):
            c.join(name, [next(n for n in live if n != name)])

        def agreed() -> bool:
            views = [c.statuses(n) for n in live]
            if not all(v.get(m) == "alive" for v in views for m in live):
                return False
            # Views may differ in *which* departed members they list: memberlist never adds a
            # dead or left node it first hears of through push-pull, so a node that joined
            # after a departure never lists it (as with real serf). Where both list a member,
            # they must agree on its status.
            return all(a[m] == b[m] for a in views for b in views for m in a.keys() & b.keys())

        assert c.run_until(agreed, CONVERGENCE_BOUND, poll=1.0), self._fail("no convergence")


TestClusterMachine = ClusterMachine.TestCase
# Derandomized: CI runs the same 40 examples every time (no flakes); exploratory runs with
# random seeds and more examples are run by hand (see the closing notes).
TestClusterMachine.settings = settings(
    derandomize=True,
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
