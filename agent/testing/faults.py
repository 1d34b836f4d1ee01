"""Faults as values: what a fault plan or a state machine does to a `SimCluster`.

Jepsen's nemesis vocabulary, as small frozen dataclasses: each fault knows how to apply
itself to a `SimCluster` and how to say the same call as one line of Python, so a run made
of faults can be printed as a script that replays it with `SimCluster` alone. A `FaultPlan`
is a timed sequence: each `Step` runs virtual time, then applies its fault.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from agent.sim import SimCluster


class FaultKind(enum.Enum):
    """The kinds of fault, for choosing which ones a strategy may draw."""

    KILL = "kill"
    RESTART = "restart"
    LEAVE = "leave"
    FORCE_LEAVE = "force-leave"
    PARTITION = "partition"
    BLOCK = "block"
    HEAL = "heal"
    LOSS = "loss"
    LATENCY = "latency"
    PAUSE = "pause"


class Fault(ABC):
    """One change to the cluster, applied at the current virtual instant (or blocking, for
    the commands that wait for their outcome: join, leave, force-leave)."""

    kind: FaultKind

    @abstractmethod
    def apply(self, cluster: SimCluster) -> None:
        """Do it to `cluster`."""

    @abstractmethod
    def code(self, var: str = "c") -> str:
        """The same as Python calls on the SimCluster named `var`."""


@dataclass(frozen=True, slots=True)
class Kill(Fault):
    """A crash: no leave, no last words."""

    node: str
    kind = FaultKind.KILL

    def apply(self, cluster: SimCluster) -> None:
        cluster.kill(self.node)

    def code(self, var: str = "c") -> str:
        return f"{var}.kill({self.node!r})"


@dataclass(frozen=True, slots=True)
class Restart(Fault):
    """A fresh process under the same name and address, which then joins `join` (if any)."""

    node: str
    join: tuple[str, ...] = ()
    kind = FaultKind.RESTART

    def apply(self, cluster: SimCluster) -> None:
        cluster.restart(self.node)
        if self.join:
            cluster.join(self.node, list(self.join))

    def code(self, var: str = "c") -> str:
        line = f"{var}.restart({self.node!r})"
        if self.join:
            line += f"; {var}.join({self.node!r}, {list(self.join)!r})"
        return line


@dataclass(frozen=True, slots=True)
class Leave(Fault):
    """A graceful leave, after which the node shuts down (as the agent does)."""

    node: str
    kind = FaultKind.LEAVE

    def apply(self, cluster: SimCluster) -> None:
        cluster.leave(self.node)

    def code(self, var: str = "c") -> str:
        return f"{var}.leave({self.node!r})"


@dataclass(frozen=True, slots=True)
class ForceLeave(Fault):
    """`observer` force-leaves `node` (a failed member becomes left; prune erases it)."""

    observer: str
    node: str
    prune: bool = False
    kind = FaultKind.FORCE_LEAVE

    def apply(self, cluster: SimCluster) -> None:
        cluster.force_leave(self.observer, self.node, prune=self.prune)

    def code(self, var: str = "c") -> str:
        return f"{var}.force_leave({self.observer!r}, {self.node!r}, prune={self.prune!r})"


@dataclass(frozen=True, slots=True)
class Partition(Fault):
    """Split the groups apart (replacing an earlier partition). Asymmetric: only traffic
    from each group to the groups after it is cut."""

    groups: tuple[tuple[str, ...], ...]
    symmetric: bool = True
    kind = FaultKind.PARTITION

    def apply(self, cluster: SimCluster) -> None:
        cluster.partition(*self.groups, symmetric=self.symmetric)

    def code(self, var: str = "c") -> str:
        groups = ", ".join(repr(list(g)) for g in self.groups)
        return f"{var}.partition({groups}, symmetric={self.symmetric!r})"


@dataclass(frozen=True, slots=True)
class Block(Fault):
    """Cut the one-way link src -> dst until a heal."""

    src: str
    dst: str
    kind = FaultKind.BLOCK

    def apply(self, cluster: SimCluster) -> None:
        cluster.block(self.src, self.dst)

    def code(self, var: str = "c") -> str:
        return f"{var}.block({self.src!r}, {self.dst!r})"


@dataclass(frozen=True, slots=True)
class Heal(Fault):
    """Remove every partition and block (loss and latency stay)."""

    kind = FaultKind.HEAL

    def apply(self, cluster: SimCluster) -> None:
        cluster.heal()

    def code(self, var: str = "c") -> str:
        return f"{var}.heal()"


@dataclass(frozen=True, slots=True)
class Loss(Fault):
    """Drop each datagram on every link with probability `rate`."""

    rate: float
    kind = FaultKind.LOSS

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"loss rate must be in [0, 1], got {self.rate}")

    def apply(self, cluster: SimCluster) -> None:
        cluster.set_loss(self.rate)

    def code(self, var: str = "c") -> str:
        return f"{var}.set_loss({self.rate!r})"


@dataclass(frozen=True, slots=True)
class Latency(Fault):
    """Every link's one-way delay: a floor plus an exponential with mean `jitter`, seconds."""

    floor: float
    jitter: float = 0.0
    kind = FaultKind.LATENCY

    def __post_init__(self) -> None:
        if self.floor < 0 or self.jitter < 0:
            raise ValueError(f"latency must not be negative: {self.floor}, {self.jitter}")

    def apply(self, cluster: SimCluster) -> None:
        conditions = replace(
            cluster.network.conditions, latency_min=self.floor, latency_mean=self.jitter
        )
        cluster.set_network(conditions)

    def code(self, var: str = "c") -> str:
        return (
            f"{var}.set_network(replace({var}.network.conditions, "
            f"latency_min={self.floor!r}, latency_mean={self.jitter!r}))"
        )


@dataclass(frozen=True, slots=True)
class Pause(Fault):
    """Stall `node` for `seconds` (a GC pause, a stopped VM); it catches up on resume."""

    node: str
    seconds: float
    kind = FaultKind.PAUSE

    def apply(self, cluster: SimCluster) -> None:
        cluster.pause(self.node, self.seconds)

    def code(self, var: str = "c") -> str:
        return f"{var}.pause({self.node!r}, {self.seconds!r})"


@dataclass(frozen=True, slots=True)
class Step:
    """Run `after` virtual seconds, then apply `fault`."""

    after: float
    fault: Fault

    def __post_init__(self) -> None:
        if self.after < 0:
            raise ValueError(f"a step cannot go back in time: after={self.after}")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """A timed sequence of faults, then `settle` more virtual seconds."""

    steps: tuple[Step, ...]
    settle: float = 0.0

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def duration(self) -> float:
        """Virtual seconds the plan runs for (commands may take a little more)."""
        return sum(step.after for step in self.steps) + self.settle

    def kinds(self) -> set[FaultKind]:
        return {step.fault.kind for step in self.steps}

    def run(self, cluster: SimCluster) -> None:
        """Play the plan on `cluster`."""
        for step in self.steps:
            if step.after:
                cluster.run(step.after)
            step.fault.apply(cluster)
        if self.settle:
            cluster.run(self.settle)

    def code(self, var: str = "c") -> list[str]:
        """The plan as Python lines, one call (or `run`) per line."""
        return list(_plan_lines(self.steps, self.settle, var))


def _plan_lines(steps: Iterable[Step], settle: float, var: str) -> Iterator[str]:
    for step in steps:
        if step.after:
            yield f"{var}.run({step.after!r})"
        yield step.fault.code(var)
    if settle:
        yield f"{var}.run({settle!r})"
