"""DemoWorld: the simulated cluster a demo shows, with every control a teacher can use.

Built on `SimAgents` (real `Agent`s: servers with raft, clients with heartbeats) plus
gossip-only `GossipNode`s on the same scheduler and network. Virtual time is paced to the wall
clock (`PacedTime`). Building happens with the clock paused and stepped by hand, so the
world a seed builds is always the same; so are scenario steps, which fire on the scheduler.

Every control validates first and raises `DemoInputError` before touching anything, so a bad
request changes nothing. Everything here runs on the event loop that serves the HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from agent.agent import Agent
from agent.demo.errors import DemoInputError
from agent.demo.gossip_node import GossipNode
from agent.demo.packets import PacketTap
from agent.demo.scenarios import SLOW_LATENCY, Op, Pick, Scenario, Step, scenario_named
from agent.demo.settings import DemoSettings, check_speed
from agent.demo.timeline import EventKind, Timeline
from agent.demo.views import SENTENCE_LIMIT, ViewMatrix
from agent.launch.simulated import SimAgents
from agent.runtime.sim_time import PacedTime
from agent.sim.network import NetworkConditions
from agent.sim.node import seed_converged
from gossip import Address, SerfConfig, SerfCore

T = TypeVar("T")

BUILD_STEP = 0.05
"""Virtual seconds per hand step while building (the clock is paused then)."""
SETTLE_LIMIT = 30.0
"""Virtual seconds building may run for a leader and a converged pool."""
GOSSIP_PORT = 4648
OBSERVE_EVERY = 0.1
"""Virtual seconds between two looks at a big cluster's views and truths."""
MAX_PAUSE_SECONDS = 600.0
MAX_STEP_SECONDS = 600.0
MAX_LATENCY_MS = 5000.0


class NodeKind(StrEnum):
    SERVER = "server"
    CLIENT = "client"
    GOSSIP = "gossip"


class Truth(StrEnum):
    """What is really going on with a node's process (the views may disagree)."""

    RUNNING = "running"
    KILLED = "killed"
    PAUSED = "paused"
    LEFT = "left"


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    kind: NodeKind
    serf_name: str | None
    """Its member name in the gossip pool; None for clients, which do not gossip."""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def gossip_address(index: int) -> Address:
    """Gossip-only node i (0-based) on 127.2.x.y, clear of the agents' 127.1.0.x."""
    subnet, host = divmod(index, 250)
    return Address(f"127.2.{subnet}.{host + 1}", GOSSIP_PORT)


class DemoWorld:
    """One run: a seed, a scenario, the cluster and its timeline (see module docstring)."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.scenario: Scenario | None = scenario_named(settings.scenario)
        self.agents = SimAgents(seed=settings.seed, paced=True, speed=settings.speed)
        time_ = self.agents.time
        assert isinstance(time_, PacedTime)
        self.time: PacedTime = time_
        self.scheduler = self.agents.scheduler
        self.network = self.agents.network
        self.timeline = Timeline()
        self.node_rows: (
            tuple[tuple[float, int, int], list[tuple[str, dict[str, Any], tuple[Any, ...]]]] | None
        ) = None
        """The publisher's node rows for one moment (time, timeline, matrix), shared by readers."""
        self.specs: dict[str, NodeSpec] = {}
        self.gossip: dict[str, GossipNode] = {}
        self._data_dir = tempfile.TemporaryDirectory(prefix="gossip-agent-demo-")
        self._members: list[str] = []
        self.matrix = ViewMatrix([], [])
        self.packets = PacketTap(self.network, self.scheduler)
        self._killed: list[str] = []
        self._incarnations: dict[str, int] = {}
        self._truths: dict[str, Truth] = {}
        self._leader: tuple[str | None, int] = (None, 0)
        self._pacer: asyncio.Task[None] | None = None
        self._next_observe = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loss = 0.0
        self._latency_ms = 0.0
        self._groups: list[list[str]] = []

    # ---- building ----------------------------------------------------------------------

    @property
    def gossip_config(self) -> SerfConfig:
        config = SerfConfig.profile(self.settings.profile.value)
        if self.scenario is not None and not self.scenario.lifeguard:
            config = config.with_overrides(awareness_max_multiplier=1, suspicion_max_timeout_mult=1)
        return config.with_overrides(enable_compression=False)

    async def build(self) -> None:
        """Start every node with the clock paused, then let the cluster settle."""
        self.time.pause()
        settings = self.settings
        profile = settings.profile.value
        servers = [f"s{i}" for i in range(1, settings.servers + 1)]
        for name in servers:
            await self._drive(
                self.agents.add(
                    name,
                    gossip_profile=profile,
                    data_dir=f"{self._data_dir.name}/{name}",
                    server={"enabled": True, "bootstrap_expect": settings.servers},
                )
            )
            self.specs[name] = NodeSpec(name, NodeKind.SERVER, f"{name}.global")
        joined = self.scenario is None or self.scenario.join_at_start
        converged = joined and self.settings.nodes > SENTENCE_LIMIT
        first = str(self.agents.serf_addr(servers[0]))
        if not converged:
            for name in servers[1:]:
                await self._drive(self.agents.agents[name].join([first]))
        config = self.gossip_config
        nodes = [
            GossipNode(
                f"n{i + 1}",
                gossip_address(i),
                config,
                seed=settings.seed,
                scheduler=self.scheduler,
                network=self.network,
            )
            for i in range(self.settings.nodes)
        ]
        for node in nodes:
            self.gossip[node.name] = node
            self.specs[node.name] = NodeSpec(node.name, NodeKind.GOSSIP, node.name)
        if converged:
            self._seed_converged(servers, nodes)
        elif joined:
            seed_addr = self.agents.serf_addr(servers[0])
            for node in nodes:
                node.join([seed_addr])
        rpc = [self.agents.agents[n].listeners.rpc.advertise for n in servers]
        for i in range(1, settings.clients + 1):
            name = f"c{i}"
            await self._drive(
                self.agents.add(
                    name, gossip_profile=profile, client={"enabled": True, "servers": rpc}
                )
            )
            self.specs[name] = NodeSpec(name, NodeKind.CLIENT, None)
        self._settle(joined)
        self._members = [s.name for s in self.specs.values() if s.serf_name is not None]
        self.matrix = ViewMatrix(
            self._members,
            [self.specs[n].serf_name or n for n in self._members],
        )
        self.packets.names = self._address_names()
        self.packets.rpc_addrs = frozenset(map(self.agents.rpc_addr, self.agents.agents))
        self.packets.enabled = len(self.specs) <= 10
        self.observe(sentences=False)
        self.timeline.add(self.now, EventKind.SCENARIO, self._opening())
        self._schedule_scenario()
        self.time.on_advance(self.observe)

    def _seed_converged(self, servers: Sequence[str], nodes: Sequence[GossipNode]) -> None:
        """Start a big pool as a finished join leaves it (`seed_converged`), servers included:
        simulating a join of hundreds of nodes would cost minutes before the demo opens."""
        server_cores = []
        for name in servers:
            role = self.agents.agents[name].server
            assert role is not None
            server_cores.append(role.serf)
        seed_converged([*server_cores, *(n.core for n in nodes)], self.scheduler.now)
        for name in servers:
            role = self.agents.agents[name].server
            assert role is not None
            role.observe_servers()  # raft learns its peers as serf's member events would say
            self.agents.runtimes[name].flush()
        for node in nodes:
            node.process.flush()

    def _opening(self) -> str:
        what = f"scenario {self.scenario.name}" if self.scenario else "no scenario"
        s = self.settings
        return (
            f"Seed {s.seed}, {what}: {_count(s.servers, 'server')}, "
            f"{_count(s.clients, 'client')}, {_count(s.nodes, 'gossip-only node')} "
            f"({s.profile.value} profile)"
        )

    async def _drive(self, work: Awaitable[T]) -> T:
        """Await `work` while stepping the paused clock by hand (deterministic building)."""
        task = asyncio.ensure_future(work)
        deadline = self.scheduler.now + SETTLE_LIMIT * 4
        while not task.done():
            await asyncio.sleep(0)
            if task.done():
                break
            if self.scheduler.now >= deadline:
                task.cancel()
                raise RuntimeError("building the demo cluster did not finish in virtual time")
            self.time.step(BUILD_STEP)
        return task.result()

    def _settle(self, joined: bool) -> None:
        expected = len([s for s in self.specs.values() if s.serf_name is not None])
        cores = [c for c in (self._core(n) for n in self.specs) if c is not None]

        clients = [a.client for a in self.agents.agents.values() if a.server is None]

        def settled() -> bool:
            if self._leader_now()[0] is None:
                return False
            if not all(c is not None and c.rpc.registered for c in clients):
                return False
            if not joined:
                return True
            return all(len(core.table.states) >= expected for core in cores)

        deadline = self.scheduler.now + SETTLE_LIMIT
        while not settled() and self.scheduler.now < deadline:
            self.time.step(BUILD_STEP * 4)

    def _address_names(self) -> dict[Address, str]:
        names: dict[Address, str] = {}
        for name in self.specs:
            for addr in self._addresses(name):
                names[addr] = name
        return names

    def start(self) -> None:
        """Start the pacer (and the clock, unless the settings start it paused)."""
        if not self.settings.start_paused:
            self.time.resume()
        self._pacer = asyncio.create_task(self.time.run())

    async def close(self) -> None:
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
        for task in list(self._tasks):
            task.cancel()
        for name in list(self.agents.agents):
            self.agents.crash(name)
        for node in self.gossip.values():
            if node.running:
                node.kill()
        self._data_dir.cleanup()

    # ---- reads -------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.scheduler.now

    @property
    def members(self) -> list[str]:
        return list(self._members)

    @property
    def groups(self) -> list[list[str]]:
        return [list(g) for g in self._groups]

    @property
    def loss(self) -> float:
        return self._loss

    @property
    def latency_ms(self) -> float:
        return self._latency_ms

    def agent(self, name: str) -> Agent | None:
        return self.agents.agents.get(name)

    def _core(self, name: str) -> SerfCore | None:
        node = self.gossip.get(name)
        if node is not None:
            return node.core
        agent = self.agents.agents.get(name)
        if agent is not None and agent.server is not None:
            return agent.server.serf
        return None

    def truth(self, name: str) -> Truth:
        node = self.gossip.get(name)
        core: SerfCore | None
        if node is not None:
            process = node.process
            running, paused, core = process.running, process.paused, node.core
        else:
            agent = self.agents.agents[name]
            rpc = self.agents.rpc_runtimes[name]
            runtime = self.agents.runtimes.get(name)
            gossip_process = runtime.process if runtime is not None else None
            running = rpc.running
            paused = rpc.paused or (gossip_process is not None and gossip_process.paused)
            core = agent.server.serf if agent.server is not None else None
        if not running:
            return Truth.KILLED
        if paused:
            return Truth.PAUSED
        if core is not None and core.state.value in ("left", "shutdown"):
            return Truth.LEFT
        return Truth.RUNNING

    def partition_of(self, name: str) -> int | None:
        for index, group in enumerate(self._groups):
            if name in group:
                return index
        return None

    def health(self, name: str) -> int | None:
        core = self._core(name)
        return None if core is None else core.swim.awareness.score

    def raft(self, name: str) -> tuple[str, int] | None:
        agent = self.agents.agents.get(name)
        if agent is None or agent.server is None:
            return None
        raft = agent.server.raft
        return raft.state.value, raft.term

    def registered(self, name: str) -> bool | None:
        agent = self.agents.agents.get(name)
        if agent is None or agent.client is None or agent.server is not None:
            return None
        return bool(agent.client.rpc.registered)

    def leader(self) -> tuple[str | None, int]:
        return self._leader

    def _leader_now(self) -> tuple[str | None, int]:
        """The leader of the highest term among servers that run (a paused old leader still
        believes it leads until it wakes), and that term."""
        leader: str | None = None
        leader_term = term = 0
        for name, spec in self.specs.items():
            if spec.kind is not NodeKind.SERVER:
                continue
            agent = self.agents.agents[name]
            raft = agent.server.raft if agent.server is not None else None
            rpc = self.agents.rpc_runtimes[name]
            if raft is None or not rpc.running or rpc.paused:
                continue
            term = max(term, raft.term)
            if raft.is_leader and raft.term >= leader_term:
                leader, leader_term = name, raft.term
        return leader, term

    # ---- observing ---------------------------------------------------------------------

    def observe(self, sentences: bool = True) -> None:
        """Read the views and truths after a clock advance and write what changed. Above
        SENTENCE_LIMIT members, at most every OBSERVE_EVERY virtual seconds (a function of
        virtual time only, so a stepped run stays the same run)."""
        now = self.now
        if len(self._members) > SENTENCE_LIMIT:
            if now < self._next_observe:
                return
            self._next_observe = now + OBSERVE_EVERY
        timeline = self.timeline if sentences else None
        cores = [self._core(n) for n in self._members]
        self.matrix.observe(now, cores.__getitem__, timeline)
        for name in self._members:
            core = self._core(name)
            if core is None:
                continue
            incarnation = core.incarnation
            old = self._incarnations.get(name)
            if old is not None and incarnation > old and timeline is not None:
                timeline.add(now, EventKind.REFUTE, f"{name} refutes at incarnation {incarnation}")
            self._incarnations[name] = incarnation
        for name in self.specs:
            truth = self.truth(name)
            old_truth = self._truths.get(name)
            if old_truth != truth:
                if old_truth is Truth.PAUSED and truth is Truth.RUNNING and timeline is not None:
                    timeline.add(now, EventKind.TRUTH, f"{name} wakes up from its pause")
                self._truths[name] = truth
        leader = self._leader_now()
        if leader != self._leader:
            if timeline is not None:
                if leader[0] is not None:
                    text = f"{leader[0]} becomes raft leader (term {leader[1]})"
                else:
                    text = f"no raft leader (highest term {leader[1]})"
                if leader[0] != self._leader[0]:
                    timeline.add(now, EventKind.LEADER, text)
            self._leader = leader

    # ---- controls ----------------------------------------------------------------------

    def _spec(self, name: str) -> NodeSpec:
        spec = self.specs.get(name)
        if spec is None:
            raise DemoInputError(f"no node named {name!r}")
        return spec

    def _member(self, name: str, what: str) -> NodeSpec:
        spec = self._spec(name)
        if spec.serf_name is None:
            raise DemoInputError(f"{name} is a client and does not gossip, so it cannot {what}")
        return spec

    def _action(self, text: str) -> None:
        if text.startswith("the "):  # "the scenario ...", not a node's name
            text = "The " + text.removeprefix("the ")
        self.timeline.add(self.now, EventKind.ACTION, text)

    def kill(self, name: str, *, by: str = "you") -> None:
        self._spec(name)
        if self.truth(name) is Truth.KILLED:
            raise DemoInputError(f"{name} is already killed")
        node = self.gossip.get(name)
        if node is not None:
            node.kill()
        else:
            self.agents.crash(name)
        self._killed.append(name)
        self._action(f"{by.capitalize() if by == 'you' else by} killed {name}")
        self.observe()

    def restart(self, name: str, *, by: str = "you") -> None:
        """Restart a node (running or not); a server rejoins from its snapshot, others join."""
        self._spec(name)
        node = self.gossip.get(name)
        if node is not None:
            node.restart(self._seeds(exclude=name))
        else:
            self._spawn(self._restart_agent(name))
        self._action(f"{'You' if by == 'you' else by} restarted {name}")

    async def _restart_agent(self, name: str) -> None:
        await self.agents.restart(name)  # a server rejoins from its serf snapshot
        self.observe()

    def _seeds(self, exclude: str) -> list[Address]:
        seeds = []
        for member in self._members:
            if member == exclude or self.truth(member) is not Truth.RUNNING:
                continue
            seeds.append(self._gossip_addr(member))
        return seeds[:3]

    def _gossip_addr(self, name: str) -> Address:
        node = self.gossip.get(name)
        return node.addr if node is not None else self.agents.serf_addr(name)

    def _addresses(self, name: str) -> list[Address]:
        node = self.gossip.get(name)
        if node is not None:
            return [node.addr]
        return self.agents.addresses(name)

    def leave(self, name: str, *, by: str = "you") -> None:
        self._member(name, "leave")
        if self.truth(name) is not Truth.RUNNING:
            raise DemoInputError(f"{name} is {self.truth(name).value}; only a running node leaves")
        node = self.gossip.get(name)
        if node is not None:
            node.leave()
        else:
            self._spawn(self.agents.agents[name].leave())
        self._action(f"{'You' if by == 'you' else by} asked {name} to leave gracefully")

    def pause(self, name: str, seconds: float, *, by: str = "you") -> None:
        """Stall the whole process (gossip and RPC ports) for `seconds`."""
        self._spec(name)
        if not 0 < seconds <= MAX_PAUSE_SECONDS:
            raise DemoInputError(f"seconds must be above 0 and at most {MAX_PAUSE_SECONDS:g}")
        if self.truth(name) is not Truth.RUNNING:
            raise DemoInputError(f"{name} is {self.truth(name).value}; only a running node pauses")
        node = self.gossip.get(name)
        if node is not None:
            node.pause(seconds)
        else:
            runtime = self.agents.runtimes.get(name)
            process = runtime.process if runtime is not None else None
            if process is not None:
                process.pause(self.now + seconds)
            self.agents.rpc_runtimes[name].pause(self.now + seconds)
        who = "You" if by == "you" else by
        self._action(f"{who} paused {name} for {seconds:g} s (its process stalls)")
        self.observe()

    def force_leave(self, by: str, node: str, prune: bool) -> None:
        self._member(by, "issue a force-leave")
        target = self._member(node, "be force-left")
        if self.truth(by) is not Truth.RUNNING:
            raise DemoInputError(f"{by} is {self.truth(by).value}; a force-leave needs it running")
        serf_name = target.serf_name
        assert serf_name is not None
        gossip = self.gossip.get(by)
        if gossip is not None:
            gossip.force_leave(serf_name, prune)
        else:
            self._spawn(self.agents.agents[by].force_leave(serf_name, prune=prune))
        pruned = " with prune" if prune else ""
        self._action(f"{by} force-leaves {node}{pruned}")

    def partition(self, groups: Sequence[Sequence[str]]) -> None:
        seen: set[str] = set()
        clean: list[list[str]] = []
        for group in groups:
            members = list(group)
            for name in members:
                self._spec(name)
                if name in seen:
                    raise DemoInputError(f"{name} is named in two partition groups")
                seen.add(name)
            if members:
                clean.append(members)
        if len(clean) < 2:
            raise DemoInputError("a partition needs at least two non-empty groups")
        self.network.partition([[a for n in g for a in self._addresses(n)] for g in clean])
        self._groups = clean
        text = " | ".join(", ".join(g) for g in clean)
        self._action(f"Network partitioned: {text}")

    def heal(self) -> None:
        self.network.heal()
        self._groups = []
        self._action("Network healed")

    def slow(self, name: str, seconds: float, *, by: str = "you") -> None:
        """Every packet to or from `name` takes SLOW_LATENCY longer for `seconds`."""
        self._member(name, "be slowed")
        base = self.network.conditions
        slow = NetworkConditions(
            latency_min=base.latency_min + SLOW_LATENCY,
            latency_mean=base.latency_mean + SLOW_LATENCY / 10,
            loss=base.loss,
        )
        mine = self._addresses(name)
        others = [a for n in self.specs if n != name for a in self._addresses(n)]

        def links(conditions: NetworkConditions | None) -> None:
            for a in mine:
                for b in others:
                    self.network.set_link(a, b, conditions)
                    self.network.set_link(b, a, conditions)

        links(slow)
        self.scheduler.schedule(self.now + seconds, lambda: links(None))
        who = "You" if by == "you" else by
        self._action(
            f"{who} slowed {name}: its packets take {SLOW_LATENCY:g} s longer for {seconds:g} s"
        )

    def set_loss(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise DemoInputError(f"rate must be a probability between 0 and 1, not {rate}")
        self._loss = rate
        self._apply_conditions()
        self._action(f"Packet loss set to {rate:.0%}")

    def set_latency(self, ms: float) -> None:
        if not 0.0 <= ms <= MAX_LATENCY_MS:
            raise DemoInputError(f"ms must be between 0 and {MAX_LATENCY_MS:g}, not {ms}")
        self._latency_ms = ms
        self._apply_conditions()
        self._action(f"Latency set to {ms:g} ms")

    def _apply_conditions(self) -> None:
        base = NetworkConditions()
        self.network.conditions = NetworkConditions(
            latency_min=base.latency_min + self._latency_ms / 1000.0,
            latency_mean=base.latency_mean + self._latency_ms / 10000.0,
            loss=self._loss,
        )

    def set_speed(self, speed: float) -> None:
        self.time.speed = check_speed(speed)

    def pause_clock(self) -> None:
        self.time.pause()

    def play(self) -> None:
        self.time.resume()

    async def step(self, seconds: float) -> None:
        """Move the clock by hand in small steps, reading the views after each and letting
        agent commands started meanwhile (a scenario's leave, a force-leave) take their turn,
        so they act at the virtual time they were issued."""
        if not 0 < seconds <= MAX_STEP_SECONDS:
            raise DemoInputError(f"seconds must be above 0 and at most {MAX_STEP_SECONDS:g}")
        until = self.now + seconds
        while self.now < until - 1e-9:
            self.time.step(min(BUILD_STEP, until - self.now))
            await asyncio.sleep(0)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- scenarios ---------------------------------------------------------------------

    def _schedule_scenario(self) -> None:
        if self.scenario is None:
            return
        self.timeline.add(self.now, EventKind.SCENARIO, f"Scenario: {self.scenario.title}")
        start = self.now
        for step in self.scenario.steps:
            self.scheduler.schedule(start + step.at, self._step_runner(step))

    def _step_runner(self, step: Step) -> Callable[[], None]:
        def run() -> None:
            try:
                self._run_step(step)
            except DemoInputError as exc:
                self.timeline.add(self.now, EventKind.SCENARIO, f"Scenario step skipped: {exc}")

        return run

    def _pick(self, pick: Pick) -> str:
        running_servers = [
            n
            for n, s in self.specs.items()
            if s.kind is NodeKind.SERVER and self.truth(n) is Truth.RUNNING
        ]
        leader = self._leader_now()[0]
        if pick is Pick.LEADER:
            if leader is None:
                raise DemoInputError("there is no leader to pick")
            return leader
        if pick is Pick.FIRST:
            if not running_servers:
                raise DemoInputError("no server is running")
            return running_servers[0]
        if pick is Pick.LAST_KILLED:
            if not self._killed:
                raise DemoInputError("nothing was killed yet")
            return self._killed[-1]
        followers = [n for n in running_servers if n != leader]
        if pick is Pick.VICTIM and self.gossip:
            return list(self.gossip)[-1]
        if not followers:
            raise DemoInputError("no follower server is running")
        return followers[-1]

    def _run_step(self, step: Step) -> None:
        by = "the scenario"
        op = step.op
        if op is Op.KILL:
            self.kill(self._pick(step.target), by=by)
        elif op is Op.RESTART:
            self.restart(self._pick(step.target), by=by)
        elif op is Op.LEAVE:
            self.leave(self._pick(step.target), by=by)
        elif op is Op.PAUSE:
            self.pause(self._pick(step.target), step.seconds, by=by)
        elif op is Op.FORCE_LEAVE:
            self.force_leave(self._pick(step.by), self._pick(step.target), step.prune)
        elif op is Op.SPLIT:
            half = (len(self._members) + 1) // 2
            self.partition([self._members[:half], self._members[half:]])
        elif op is Op.HEAL:
            self.heal()
        elif op is Op.SLOW:
            self.slow(self._pick(step.target), step.seconds, by=by)
        elif op is Op.JOIN_ALL:
            seed = self.agents.serf_addr(self._pick(Pick.FIRST))
            for node in self.gossip.values():
                node.join([seed])
            self._action(f"All {len(self.gossip)} gossip-only nodes join at once")


async def build_world(settings: DemoSettings) -> DemoWorld:
    """A built world (clock paused at its settled start); call `start()` to run it."""
    world = DemoWorld(settings)
    await world.build()
    return world
