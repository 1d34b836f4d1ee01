"""Named, scripted demos: each a short explanation, a speed and a few timed actions.

A scenario names its targets by role (`Pick`), not by name, so it runs on any cluster the
flags build; the world resolves each pick when the step fires, in virtual time, so a run
is the same for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent.demo.errors import DemoInputError


class Pick(StrEnum):
    """Which node a step acts on, resolved when it fires."""

    VICTIM = "victim"
    """The last gossip-only node, else the last server that does not lead."""
    LEADER = "leader"
    FOLLOWER = "follower"
    """A server that does not lead."""
    FIRST = "first"
    """The first server still running."""
    LAST_KILLED = "last-killed"
    """The node the scenario killed most recently."""


class Op(StrEnum):
    KILL = "kill"
    RESTART = "restart"
    LEAVE = "leave"
    PAUSE = "pause"
    FORCE_LEAVE = "force-leave"
    SPLIT = "split"
    """Partition the serf members into two halves (servers split across them)."""
    HEAL = "heal"
    SLOW = "slow"
    """Every packet to or from the target takes `SLOW_LATENCY` longer, for `seconds`."""
    JOIN_ALL = "join-all"
    """Every gossip-only node joins the first server at once."""


SLOW_LATENCY = 0.6
"""Longer than memberlist's 0.5 s LAN probe timeout: a slow node's probes all time out."""


@dataclass(frozen=True, slots=True)
class Step:
    at: float
    """Virtual seconds after the scenario starts."""
    op: Op
    target: Pick = Pick.VICTIM
    seconds: float = 0.0
    by: Pick = Pick.FIRST
    prune: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    explanation: str
    speed: float
    steps: tuple[Step, ...]
    lifeguard: bool = True
    """False: gossip-only nodes run without Lifeguard (no health score, fixed suspicion)."""
    join_at_start: bool = True
    suggested_nodes: int = 0
    """Gossip-only nodes to add when `-nodes` is not given."""


def _flaps(start: float, count: int, period: float, pause: float) -> tuple[Step, ...]:
    return tuple(Step(start + i * period, Op.PAUSE, seconds=pause) for i in range(count))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "crash-and-force-leave",
        "Crash, then force-leave",
        "A node crashes without a word. Its peers' probes go unanswered, so they suspect it, "
        "and when no one refutes in time they mark it failed. Failed members linger (serf "
        "keeps trying to reconnect) until an operator force-leaves them: then they are left.",
        1.0,
        (Step(3, Op.KILL), Step(20, Op.FORCE_LEAVE, target=Pick.LAST_KILLED, by=Pick.FIRST)),
        suggested_nodes=2,
    ),
    Scenario(
        "graceful-leave",
        "A graceful leave",
        "A node announces that it is leaving before it stops. Peers see it leaving, then left, "
        "and never suspect it: a leave is news, not silence. Compare with a crash.",
        1.0,
        (Step(3, Op.LEAVE),),
        suggested_nodes=2,
    ),
    Scenario(
        "partition-heal",
        "A partition heals",
        "The network splits in two halves. Each side suspects the other and marks it failed. "
        "After the heal, serf's reconnect loop (every 30 s) and push-pull find the failed "
        "members again and they come back alive: watch the matrix turn whole.",
        2.0,
        (Step(3, Op.SPLIT), Step(25, Op.HEAL)),
        suggested_nodes=3,
    ),
    Scenario(
        "slow-node-lifeguard",
        "A slow node, with Lifeguard",
        "For 25 s every packet to or from one node takes 0.6 s, longer than the 0.5 s probe "
        "timeout. Its probes of healthy peers time out, so it accuses them and they refute; "
        "Lifeguard notices the missing nacks, raises its health score (see the truth table) "
        "and stretches its own timeouts, so it accuses few. Compare with slow-node-no-lifeguard.",
        1.0,
        (Step(3, Op.SLOW, seconds=25.0),),
        suggested_nodes=4,
    ),
    Scenario(
        "slow-node-no-lifeguard",
        "The same slow node, Lifeguard off",
        "The same slow node with Lifeguard turned off on the gossip-only nodes (no health "
        "score, a fixed suspicion timeout). Its health score stays 0, so it keeps accusing "
        "healthy peers at full speed: count the false suspicions in the timeline.",
        1.0,
        (Step(3, Op.SLOW, seconds=25.0),),
        lifeguard=False,
        suggested_nodes=4,
    ),
    Scenario(
        "leader-failover",
        "Leader failover",
        "The raft leader crashes. Followers stop hearing heartbeats, one times out, asks for "
        "votes in a higher term and wins. Gossip marks the old leader failed on its own "
        "schedule; later the old leader restarts and rejoins as a follower.",
        1.0,
        (Step(3, Op.KILL, target=Pick.LEADER), Step(30, Op.RESTART, target=Pick.LAST_KILLED)),
    ),
    Scenario(
        "quorum-loss",
        "Losing quorum",
        "Two of three servers crash. The survivor cannot reach a majority: the leader steps "
        "down when its lease runs out and no election can be won. Restarting one server "
        "restores the quorum and a leader is elected again.",
        1.0,
        (
            Step(3, Op.KILL, target=Pick.FOLLOWER),
            Step(4, Op.KILL, target=Pick.LEADER),
            Step(30, Op.RESTART, target=Pick.LAST_KILLED),
        ),
    ),
    Scenario(
        "flapping-node",
        "A flapping node",
        "A node keeps stalling for a few seconds and coming back. Each time it is suspected, "
        "and each time it refutes with a higher incarnation: the incarnation numbers in its "
        "column climb as the accusations come and go.",
        1.0,
        _flaps(3.0, 5, 9.0, 4.0),
        suggested_nodes=3,
    ),
    Scenario(
        "join-storm",
        "A join storm",
        "Many gossip-only nodes start alone and join the first server at the same moment. "
        "Watch the news spread through the matrix: each gossip round tells a few peers, so "
        "the cluster learns of everyone in a handful of rounds.",
        0.5,
        (Step(2, Op.JOIN_ALL),),
        join_at_start=False,
        suggested_nodes=12,
    ),
)


def scenario_named(name: str) -> Scenario | None:
    """The scenario called `name`; None for the empty name (no scenario).

    Raises:
        DemoInputError: no such scenario.
    """
    if not name:
        return None
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    known = ", ".join(s.name for s in SCENARIOS)
    raise DemoInputError(f"unknown scenario {name!r}; known: {known}")
