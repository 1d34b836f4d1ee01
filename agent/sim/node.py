"""Node-level pieces of the simulated cluster: handles, the core factory, addresses.

`SimNode` is what `SimCluster.add_node` hands back: a stable name and address (unless a
restart moves it) whose process (and core) is replaced on every restart. `CoreFactory` is
the seam through which the simulator builds cores: the real `SerfCore` by default, a small
fake in the simulator's own tests.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import NamedTuple, Protocol

from agent.sim.network import NetworkConditions
from agent.sim.process import SimProcess
from gossip import Address, Endpoint, GossipEvent, JoinCompleted, Member, SerfConfig, SerfCore

DEFAULT_PORT = 7946
"""serf's default bind port; every simulated node listens on it at its own IP."""
NODES_PER_SUBNET = 250
"""Node i gets 127.1.(i // 250).(i % 250 + 1): no .0 or .255 host parts."""


def node_address(index: int) -> Address:
    """The address of the index-th node created (0-based), stable across restarts."""
    subnet, host = divmod(index, NODES_PER_SUBNET)
    return Address(f"127.1.{subnet}.{host + 1}", DEFAULT_PORT)


class ClusterCore(Endpoint, Protocol):
    """What SimCluster needs from a core: the endpoint shape plus serf's commands and reads."""

    def join(self, now: float, seeds: Sequence[Address]) -> int: ...

    def leave(self, now: float) -> int: ...

    def force_leave(self, now: float, node: str, prune: bool = False) -> int: ...

    def shutdown(self, now: float) -> None: ...

    def members(self) -> list[Member]: ...

    def stats(self) -> dict[str, str]: ...


class CoreFactory(Protocol):
    """Builds a node's core; `SerfCore` by default, a fake in the simulator's own tests."""

    def __call__(
        self,
        config: SerfConfig,
        *,
        name: str,
        addr: Address,
        tags: Mapping[str, str],
        rng: random.Random,
        now: float,
    ) -> ClusterCore: ...


def serf_core_factory(
    config: SerfConfig,
    *,
    name: str,
    addr: Address,
    tags: Mapping[str, str],
    rng: random.Random,
    now: float,
) -> ClusterCore:
    """The default factory: the real `gossip.SerfCore`."""
    return SerfCore(config, name=name, addr=addr, tags=tags, rng=rng, now=now)


def seed_converged(cores: Sequence[ClusterCore], now: float) -> None:
    """Give every core the member table a finished join of all of them would leave.

    Each core learns every other as alive at the incarnation that core announced, with serf
    status alive and a join intent applied: core i's intent carries Lamport time `base + i`
    (`base` = the highest member clock among them, as if they had joined one after another),
    and every member clock witnesses the last one. Nothing is broadcast (each core's queued
    announcement of itself is dropped, as if gossiped long ago) and no member events are
    emitted; the probe order is each core's own random one, as after a real join. Each
    core's next push-pull is redrawn uniformly within its (now scaled) interval, as in a
    cluster that has run for a while, rather than all falling due a full interval from now.

    Raises:
        TypeError: a core is not a `SerfCore` (fakes have no member table to seed).
        ValueError: two cores already know one of the names.
    """
    serfs = [core for core in cores if isinstance(core, SerfCore)]
    if len(serfs) != len(cores):
        raise TypeError("seeding a converged cluster needs SerfCore cores")
    base = max((core.clock.time() for core in serfs), default=1)
    infos = [core.swim.membership.local().info for core in serfs]
    ltimes = [base + i for i in range(len(serfs))]
    for core in serfs:
        membership = core.swim.membership
        entries = iter(membership.seed_alive(now, (i for i in infos if i.name != core.name)))
        own = membership.local()
        nodes = [
            (own if info.name == core.name else next(entries), ltime)
            for info, ltime in zip(infos, ltimes, strict=True)
        ]
        core.table.seed_alive(nodes)
        core.clock.witness(ltimes[-1] if ltimes else base)
        core.swim.broadcasts.reset()  # its own alive went out long ago
        core.swim.sync.restagger(now)


class SimEvent(NamedTuple):
    """A member event as one node saw it: `kind` is a MemberEventType value ("member-join")."""

    at: float
    observer: str
    kind: str
    member: str


class SimNode:
    """Handle to one node. Stable across restarts; the process (and core) behind it change,
    and so does `addr` when `SimCluster.restart(..., addr=...)` moves it."""

    __slots__ = ("_completions", "_process", "addr", "last_join", "name", "restarts", "tags")

    def __init__(self, name: str, addr: Address, tags: Mapping[str, str]) -> None:
        self.name = name
        self.addr = addr
        self.tags = dict(tags)
        self.restarts = 0
        self.last_join: JoinCompleted | None = None
        """The last join's full outcome, with its per-seed error lines."""
        self._process: SimProcess[ClusterCore]
        self._completions: dict[int, GossipEvent] = {}

    @property
    def core(self) -> ClusterCore:
        """The current process's core (a new object after each restart)."""
        return self._process.core

    @property
    def process(self) -> SimProcess[ClusterCore]:
        return self._process

    @property
    def running(self) -> bool:
        """False once killed or shut down, until restarted."""
        return self._process.running

    @property
    def paused(self) -> bool:
        return self._process.paused

    def __repr__(self) -> str:
        state = "running" if self.running else "down"
        return f"SimNode({self.name!r}, {self.addr}, {state}, restarts={self.restarts})"


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """Parse "ip", "ip:port" or "[v6]:port".

    Raises:
        ValueError: not an IP literal with an optional port.
    """
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, _, raw_port = text.partition(":")
        port = int(raw_port)
    ipaddress.ip_address(host)
    return Address(host, port)


Seed = str | Address
"""A join seed: a node name, an Address, or "ip[:port]" text."""


def resolve_seed(nodes: Mapping[str, SimNode], seed: Seed) -> Address:
    """A node name -> its address; an Address as is; else parse "ip[:port]".

    Raises:
        ValueError: neither a known node name nor an IP literal with an optional port.
    """
    if isinstance(seed, Address):
        return seed
    if seed in nodes:
        return nodes[seed].addr
    try:
        return parse_address(seed)
    except ValueError:
        raise ValueError(f"seed {seed!r} is neither a node name nor an ip[:port]") from None


def describe_conditions(conditions: NetworkConditions) -> str:
    """A stable one-line description (no object ids, so it can go into the digest)."""
    parts = [f"{f.name}={getattr(conditions, f.name)!r}" for f in fields(conditions)]
    if conditions.route is not None:
        route = conditions.route
        parts[-1] = f"route={getattr(route, '__qualname__', type(route).__qualname__)}"
    return " ".join(parts)
