"""ClusterStateMachine: hypothesis drives a SimCluster through faults and checks membership.

Safety is checked after every step; liveness once at the end, in TigerBeetle VOPR's two
phases: heal every fault, then require that all live nodes agree within `convergence_bound`
virtual seconds. Randomness inside the simulation comes from one drawn seed, never from
hypothesis' choice stream, so a run is the seed plus the rules hypothesis picked, and every
rule is a `Fault` recorded in a `ReplayScript`. When a run fails (a rule, an invariant or the
liveness check, the user's own included), the script is added to hypothesis' report: it
replays the failure with `SimCluster` alone.

Subclass it to add rules and invariants, or change the class attributes:

    class MyMachine(ClusterStateMachine):
        names = ("a", "b", "c")

        @invariant()
        def nobody_lists_more_than_three(self) -> None:
            for name in self.cluster.live_nodes():
                assert len(self.cluster.members(name)) <= 3, self.fail_message("too many")

    TestMyMachine = MyMachine.TestCase

Your own `@initialize` rules may run before `start_cluster` (hypothesis orders them at
random): set things up in `__init__`, or in a rule, rather than in a second initializer.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agent.sim import NetworkConditions, SimCluster
from agent.testing.faults import (
    Block,
    Fault,
    ForceLeave,
    Heal,
    Kill,
    Latency,
    Leave,
    Loss,
    Partition,
    Pause,
    Restart,
)
from agent.testing.replay import ReplayScript
from gossip import SerfCore

CONVERGENCE_BOUND = 600.0
"""Virtual seconds after the final heal for every live view to agree: push-pull, reconnect
(every 30 s, to a random failed member), suspicion timeouts and dissemination, with margin."""
DOWN_STATUSES = frozenset({"failed", "left"})


class ClusterStateMachine(RuleBasedStateMachine):
    """A SimCluster under hypothesis-chosen faults, with membership invariants.

    Safety (after every step):
      - a running node never sees itself failed or left;
      - once a node sees a member left, it never sees it otherwise unless that member was
        restarted since, or the node's memberlist has since taken the member alive at a
        higher incarnation than it held when it saw it left (left is final unless rejoined
        or refuted). The second case is upstream behaviour: a member whose memberlist has
        not left yet refutes accusations with a higher incarnation (memberlist `refute`,
        from `suspectNode` / `deadNode`); `aliveNode` accepts that over a dead entry and
        notifies a join, and serf `handleNodeJoin` sets any known member alive, left
        included. It happens when serf `Leave` times out broadcasting the leave intent (a
        node paused right after it was asked to leave): `Leave` returns "timeout while
        waiting for graceful leave" before `memberlist.Leave`, the resumed node refutes
        the failure the others declared meanwhile, and an observer that applied the
        intent to the failed member (`handleNodeLeaveIntent`: failed -> left) then hears
        the refutation;
      - no node lists a member that was never started in this cluster.
    Liveness (teardown): after healing the network and clearing loss and latency, every
    running node sees every running node alive, and nodes that list the same member agree
    on its status, within `convergence_bound` virtual seconds.

    A node that left or was force-left stays gone (serf's stale-tombstone quirk can make a
    rejoining left node stick at `leaving`, as with the real serf). Force-leave targets only
    nodes that are down, as operators use it.
    """

    names: ClassVar[tuple[str, ...]] = ("n1", "n2", "n3", "n4", "n5")
    profile: ClassVar[str] = "lan"
    knobs: ClassVar[Mapping[str, Any]] = MappingProxyType({"reconnect_timeout": 3600.0})
    tags: ClassVar[Mapping[str, str]] = MappingProxyType({})
    convergence_bound: ClassVar[float] = CONVERGENCE_BOUND
    min_live: ClassVar[int] = 2
    """Kill and leave keep at least this many nodes running."""

    def __init__(self) -> None:
        super().__init__()
        self.cluster: SimCluster
        self.script: ReplayScript
        self.gone: set[str] = set()
        """Names that left or were force-left: never restarted."""
        self.lonely: set[str] = set()
        """Restarted nodes whose join reached nobody (across a partition): rejoined at the end."""
        self._left_seen: dict[tuple[str, int, str], tuple[int, int | None]] = {}
        """(observer, its restarts, member) -> (member's restarts, observer's incarnation of
        the member) when the observer first saw the member left."""

    # ---- the cluster and the record of what was done to it --------------------------------

    @initialize(seed=st.integers(0, 2**32 - 1))
    def start_cluster(self, seed: int) -> None:
        """A converged cluster of `names` on a drawn seed."""
        self.script = ReplayScript(seed, self.profile, dict(self.knobs), self.names, self.tags)
        self.cluster = self.script.build()

    def apply(self, fault: Fault) -> None:
        """Apply `fault` and record it for the replay script (use it in your own rules)."""
        self.script.record(fault.code(self.script.var))
        fault.apply(self.cluster)

    def run(self, seconds: float) -> None:
        """Advance virtual time, recorded."""
        self.script.record(f"{self.script.var}.run({seconds!r})")
        self.cluster.run(seconds)

    def join(self, node: str, seeds: list[str]) -> int:
        """Join `node` to `seeds`, recorded; returns the number of nodes reached."""
        self.script.record(f"{self.script.var}.join({node!r}, {seeds!r})")
        return self.cluster.join(node, seeds)

    def live(self) -> list[str]:
        return self.cluster.live_nodes()

    def down(self) -> list[str]:
        """Nodes that crashed and may come back."""
        return sorted(set(self.names) - set(self.live()) - self.gone)

    def fail_message(self, what: str) -> str:
        """`what`, the seed and the trace tail: the assertion message of an invariant."""
        return f"{what}\n{self.cluster.describe_failure()}"

    def replay_script(self, reason: str = "") -> str:
        """A script that replays this run with SimCluster alone, up to now."""
        return self.script.render(self.cluster, reason)

    # ---- rules --------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0.5, 2.0, 10.0, 30.0, 120.0]))
    def advance(self, seconds: float) -> None:
        self.run(seconds)

    @precondition(lambda self: len(self.live()) > self.min_live)
    @rule(data=st.data())
    def kill(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.live()), label="node")
        self.apply(Kill(name))
        self.lonely.discard(name)

    @precondition(lambda self: bool(self.down()) and bool(self.live()))
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.down()), label="node")
        seed = data.draw(st.sampled_from(self.live()), label="seed")
        self.apply(Restart(name))
        if self.join(name, [seed]) == 0:
            self.lonely.add(name)  # joined across a partition: rejoined in teardown

    @precondition(lambda self: len(self.live()) > self.min_live)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.live()), label="node")
        self.apply(Leave(name))
        self.gone.add(name)
        self.lonely.discard(name)

    @precondition(lambda self: len(self.live()) >= 1)
    @rule(data=st.data(), prune=st.booleans())
    def force_leave(self, data: st.DataObject, prune: bool) -> None:
        """Force-leave a crashed node (as the observer sees it: failed or left) or a name
        nobody has."""
        observer = data.draw(st.sampled_from(self.live()), label="observer")
        target = data.draw(st.sampled_from([*self.down(), "ghost"]), label="target")
        if self.cluster.statuses(observer).get(target, "failed") in DOWN_STATUSES:
            self.apply(ForceLeave(observer, target, prune))
            self.gone.add(target)

    @rule(data=st.data(), symmetric=st.booleans())
    def partition(self, data: st.DataObject, symmetric: bool) -> None:
        order = data.draw(st.permutations(self.names), label="order")
        split = data.draw(st.integers(1, len(self.names) - 1), label="split")
        self.apply(Partition((tuple(order[:split]), tuple(order[split:])), symmetric))

    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        src = data.draw(st.sampled_from(self.names), label="src")
        dst = data.draw(st.sampled_from([n for n in self.names if n != src]), label="dst")
        self.apply(Block(src, dst))

    @rule()
    def heal(self) -> None:
        self.apply(Heal())

    @rule(rate=st.sampled_from([0.0, 0.02, 0.1]))
    def loss(self, rate: float) -> None:
        self.apply(Loss(rate))

    @rule(floor=st.sampled_from([0.0002, 0.02, 0.2]))
    def latency(self, floor: float) -> None:
        self.apply(Latency(floor, floor / 2))

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), seconds=st.sampled_from([1.0, 6.0]))
    def pause(self, data: st.DataObject, seconds: float) -> None:
        self.apply(Pause(data.draw(st.sampled_from(self.live()), label="node"), seconds))

    # ---- safety -------------------------------------------------------------------------------

    @invariant()
    def no_node_sees_itself_down(self) -> None:
        for name in self.live():
            own = self.cluster.statuses(name).get(name)
            assert own not in DOWN_STATUSES, self.fail_message(f"{name} sees itself {own}")

    @invariant()
    def left_is_final_unless_rejoined(self) -> None:
        """Left is final unless the member restarted or refuted (see the class docstring)."""
        c = self.cluster
        for observer in self.live():
            generation = c.node(observer).restarts
            for member, status in c.statuses(observer).items():
                key = (observer, generation, member)
                restarts = c.node(member).restarts
                if status == "left":
                    seen = (restarts, self._incarnation_seen(observer, member))
                    self._left_seen.setdefault(key, seen)
                elif key in self._left_seen:
                    left_restarts, left_incarnation = self._left_seen.pop(key)
                    now = self._incarnation_seen(observer, member)
                    refuted = None not in (now, left_incarnation) and now != left_incarnation
                    assert restarts > left_restarts or refuted, self.fail_message(
                        f"{observer} saw {member} left, now {status}, without a restart"
                        f" or a higher incarnation (memberlist: {left_incarnation} -> {now})"
                    )

    def _incarnation_seen(self, observer: str, member: str) -> int | None:
        """The incarnation `observer`'s memberlist holds for `member` (None: no SerfCore, or
        no entry). It only moves forward (modulo 2**32), so a change means a higher one."""
        core = self.cluster.node(observer).core
        if not isinstance(core, SerfCore):
            return None
        entry = core.swim.membership.node_map.get(member)
        return None if entry is None else entry.incarnation

    @invariant()
    def nobody_lists_a_stranger(self) -> None:
        known = {node.name for node in self.cluster.nodes}
        for name in self.live():
            strangers = set(self.cluster.statuses(name)) - known
            assert not strangers, self.fail_message(f"{name} lists {sorted(strangers)}")

    # ---- liveness -----------------------------------------------------------------------------

    def converged(self) -> bool:
        """Every live node sees every live node alive; shared members have one status."""
        live = self.live()
        views = [self.cluster.statuses(n) for n in live]
        if not all(v.get(m) == "alive" for v in views for m in live):
            return False
        # A node that joined after a departure may never list the departed member (memberlist
        # does not add a dead node it first hears of by push-pull); where both list one, agree.
        return all(a[m] == b[m] for a in views for b in views for m in a.keys() & b.keys())

    def teardown(self) -> None:
        """On failure: add the replay script to hypothesis' report. Otherwise: heal, then
        check convergence within `convergence_bound`."""
        if not hasattr(self, "cluster"):
            return
        failure = sys.exc_info()[1]
        if failure is not None:
            note(self._report(str(failure)))
            return
        self.apply(Heal())
        self.apply(Loss(0.0))
        defaults = NetworkConditions()
        self.apply(Latency(defaults.latency_min, defaults.latency_mean))
        live = self.live()
        for name in sorted(self.lonely & set(live)):
            self.join(name, [next(n for n in live if n != name)])
        bound = self.convergence_bound
        self.script.record(f"{self.script.var}.run_until(lambda: False, {bound!r}, poll=1.0)")
        if not self.cluster.run_until(self.converged, bound, poll=1.0):
            # Not converged, this run went to the bound in 1 s polls, as the script's does.
            reason = f"no convergence within {bound} virtual seconds after healing"
            raise AssertionError(self._report(self.fail_message(reason)))

    def _report(self, reason: str) -> str:
        return (
            "A script that replays this failure with SimCluster alone:\n"
            "----8<----\n" + self.replay_script(reason) + "----8<----"
        )
