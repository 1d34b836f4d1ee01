"""The server half of an agent: the serf gossip core plus the raft stub, as Nomad composes them.

A Nomad server's serf member is named `<node>.<region>` and carries the tags nomad/server.go
`setupSerf` sets (0.5.x - 0.7.x: role, region, dc, vsn, mvn, build, port, bootstrap | expect).
The wire advertises the serf core's own protocol versions (`SerfConfig.versions`, DMax 5 so
newer serf peers accept us) while the API shows the 0.5.5 persona 1/5/2/2/4/4 for such members.

Commands are async: they issue the command on the core, flush, and wait (through the runtime)
for the completion event carrying the command's token. A join answers within
`JOIN_ANSWER_TIMEOUT` whatever the seeds do, because python-nomad gives up after 5 s:
each seed is pushed-pulled concurrently instead of one after another, and a seed still
pending at the deadline counts as failed (its exchange goes on, and a late success still
joins the cluster).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Coroutine, Hashable, Sequence
from typing import Any

from agent.agent_api import (
    HealthCheck,
    JoinResult,
    KeyringOperation,
    KeyringResult,
    MemberInfo,
    RaftServerInfo,
)
from agent.config.listeners import Listeners
from agent.config.settings import Settings
from agent.errors import AgentError, BadRequestError
from agent.rpc.server_rpc import NO_LEADER, ServerPeer, ServerRpc
from agent.runtime.clock import Clock
from agent.runtime.gossip_driver import Runtime
from agent.runtime.resolver import ResolveError, Resolver
from agent.runtime.rpc_driver import RpcRuntime
from agent.state.data_dir import RAFT_STATE, DataDir
from agent.state.serf_snapshot import SnapshotKeeper, rejoin_targets
from agent.telemetry.traffic import CountingEndpoint, TrafficCounts
from agent.version import build_tag
from gocompat import (
    AddressError,
    ip_literal,
    join_host_port,
    seconds_to_go_duration,
    split_host_port,
    strip_node_name,
)
from gossip import (
    Address,
    ConflictResolved,
    ForceLeaveCompleted,
    GossipEvent,
    JoinCompleted,
    KeyOp,
    KeyQueryCompleted,
    Keyring,
    KeyringChanged,
    LeaveCompleted,
    Member,
    MemberEvent,
    MemberStatus,
    NameConflictDetected,
    SerfCore,
    SerfState,
    Versions,
    format_multierror,
)
from raft_stub import DecodeError as RaftDecodeError
from raft_stub import LeaderChanged, PersistentState, RaftStub

log = logging.getLogger("gossip_agent.server")

JOIN_ANSWER_TIMEOUT = 4.0
"""Seconds a join may take in all (resolution included): python-nomad's timeout is 5 s."""
COMMAND_SLACK = 1.0
"""Extra wait beyond a command's own protocol timeout before the agent gives up on it."""
API_VERSIONS = Versions(1, 5, 2, 2, 4, 4)
"""What the API reports for members speaking our wire versions: Nomad 0.5.5's numbers."""
SERF_CANT_JOIN = "Serf can't Join after Leave or Shutdown"
PEER_REMOVAL_TIMEOUT = 5.0
"""Seconds a raft peer removal waits for an earlier configuration change to commit."""

_KEY_OPS = {
    KeyringOperation.LIST: KeyOp.LIST,
    KeyringOperation.INSTALL: KeyOp.INSTALL,
    KeyringOperation.USE: KeyOp.USE,
    KeyringOperation.REMOVE: KeyOp.REMOVE,
}
"""Nomad's keyring paths and the serf queries behind them."""


def _restore_raft(data_dir: DataDir | None) -> PersistentState | None:
    """raft's term, vote and log from the data dir, if a previous run left them.

    Raises:
        DataDirError: the file is there but does not decode.
    """
    raw = data_dir.read_raft_state() if data_dir is not None else None
    if raw is None:
        return None
    assert data_dir is not None
    try:
        return PersistentState.from_bytes(raw)
    except RaftDecodeError as exc:
        raise data_dir.error(f"corrupt {RAFT_STATE}: {exc}") from None


def _initial_keyring(settings: Settings, data_dir: DataDir | None) -> Keyring | None:
    """Nomad's start-up rule: a keyring file in the data dir wins (with a warning if
    `-encrypt` was also given, as Nomad prints "keyring exists but -encrypt given, using
    keyring"); otherwise `-encrypt`'s key, which is written as the first keyring file."""
    key = settings.server.encrypt_key
    saved = data_dir.load_keyring() if data_dir is not None else None
    if saved:
        if key is not None:
            log.warning("WARNING: keyring exists but -encrypt given, using keyring")
        return Keyring(saved[0], saved[1:])
    if key is None:
        return None
    if data_dir is not None:
        data_dir.save_keyring([key])
    return Keyring(key)


def server_peer(member: Member) -> ServerPeer | None:
    """A serf member as a Nomad server, or None when its tags do not make it one.

    Like Nomad 0.5.x's isNomadServer: `role=nomad` and integer `port` and `expect` tags.
    """
    tags = member.tags
    if tags.get("role") != "nomad":
        return None
    try:
        port = int(tags.get("port", ""))
        expect = int(tags.get("expect", "0"))
    except ValueError:
        return None
    return ServerPeer(
        name=member.name,
        rpc_addr=join_host_port(member.addr, port),
        status=member.status.value,
        region=tags.get("region", ""),
        expect=expect,
        bootstrap="bootstrap" in tags,
    )


def server_tags(settings: Settings, rpc_port: int) -> dict[str, str]:
    """The serf tags of a Nomad 0.5.x - 0.7.x server (nomad/server.go `setupSerf`)."""
    tags = {
        "role": "nomad",
        "region": settings.region,
        "dc": settings.datacenter,
        "vsn": "1",
        "mvn": "1",
        "build": build_tag(),
        "port": str(rpc_port),
    }
    expect = settings.server.bootstrap_expect
    if expect == 1 or settings.dev_mode:
        tags["bootstrap"] = "1"
    elif expect >= 2:
        tags["expect"] = str(expect)
    return tags


class ServerRole:
    """Serf + raft for one agent; created and started by `Agent`."""

    def __init__(
        self,
        settings: Settings,
        *,
        runtime: Runtime,
        resolver: Resolver,
        clock: Clock,
        rng: random.Random,
        listeners: Listeners,
        rpc_runtime: RpcRuntime,
        data_dir: DataDir | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.rpc_runtime = rpc_runtime
        self.resolver = resolver
        self.clock = clock
        self.config = settings.to_gossip_config()
        self.serf_port = listeners.serf.port
        """Port a join address without one gets: our Serf bind port, as memberlist does."""
        self.data_dir = data_dir
        snapshot = data_dir.load_serf_snapshot() if data_dir is not None else None
        keyring = _initial_keyring(settings, data_dir)
        self.serf = SerfCore(
            self.config,
            name=f"{settings.node_name}.{settings.region}",
            addr=Address(listeners.serf.advertise_host, listeners.serf.advertise_port),
            tags=server_tags(settings, listeners.rpc.advertise_port),
            rng=random.Random(rng.getrandbits(64)),
            now=runtime.now(),
            restored_clocks=snapshot.clocks if snapshot is not None else None,
            restored_incarnation=snapshot.incarnation if snapshot is not None else 0,
            keyring=keyring,
        )

        raft_config = settings.to_raft_config(listeners.rpc.advertise)
        self.raft = RaftStub(
            raft_config,
            rng=random.Random(rng.getrandbits(64)),
            now=rpc_runtime.now(),
            restored=_restore_raft(data_dir),
        )
        rejoin = settings.server.rejoin_after_leave
        rejoin_rng = random.Random(rng.getrandbits(64))
        self._rejoin: list[str] = []
        self._keeper: SnapshotKeeper | None = None
        if data_dir is not None:
            self._keeper = SnapshotKeeper(
                data_dir.save_serf_snapshot, restored=snapshot, rejoin_after_leave=rejoin
            )
            if snapshot is not None:
                self._rejoin = rejoin_targets(snapshot, rejoin, rng=rejoin_rng)
        self.rpc = ServerRpc(
            self.raft,
            addr=listeners.rpc.advertise,
            region=settings.region,
            bootstrap_expect=raft_config.bootstrap_expect,
            rng=random.Random(rng.getrandbits(64)),
            members=self._member_rows,
        )
        self._pending: dict[int, asyncio.Future[GossipEvent]] = {}
        self._regions: tuple[Hashable, list[str]] | None = None
        self._local: tuple[Hashable, MemberInfo] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._fatal: asyncio.Future[str] | None = None
        self._raft_file = data_dir.write_raft_state if data_dir is not None else None
        self._raft_saved = self.raft.state_version
        self.traffic = TrafficCounts()
        """Datagrams the serf core received and sent (`/v1/metrics`)."""
        self.leader_changes = 0
        self._node_watchers: list[tuple[int, asyncio.Future[None]]] = []

    def start(self) -> None:
        """Start gossiping (the RPC port is attached by the Agent) and begin any joins."""
        self._fatal = asyncio.get_running_loop().create_future()
        self.runtime.attach(CountingEndpoint(self.serf, self.traffic), self._on_event)
        self.observe_servers()
        if self._rejoin:
            self._spawn(self._rejoin_previous(self._rejoin))
        join = self.settings.server
        if join.retry_join:
            self._spawn(self._retry_join(join.retry_join, join.retry_interval, join.retry_max))

    @property
    def background_tasks(self) -> int:
        """Background joins (snapshot rejoin, retry-join) still running."""
        return len(self._tasks)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start_join(self) -> None:
        """Nomad's `start_join`: the agent does not start unless some address joins.

        Raises:
            AgentError: `Failed to join: <error>` when none did.
        """
        addresses = self.settings.server.start_join
        if not addresses:
            return
        result = await self.join(addresses)
        if result.num_joined == 0 and result.error:
            raise AgentError(f"Failed to join {', '.join(addresses)}: {result.error}")
        log.info("agent: joined %d server(s) at start", result.num_joined)

    async def _rejoin_previous(self, addresses: Sequence[str]) -> None:
        """serf's handleRejoin: a restarted server finds its cluster again without -join."""
        log.info("serf: attempting re-join to previously known nodes: %s", ", ".join(addresses))
        result = await self.join(addresses)
        if result.num_joined:
            log.info("serf: re-joined to previously known node(s): %d", result.num_joined)
        else:
            log.warning("serf: failed to re-join any previously known node: %s", result.error)

    async def wait_fatal(self) -> str:
        """Returns (with the reason) once the agent must exit: Nomad's retry-join errCh."""
        assert self._fatal is not None, "start() first"
        return await asyncio.shield(self._fatal)

    async def _retry_join(self, addresses: Sequence[str], interval: float, retries: int) -> None:
        """Nomad's retryJoiner: join every `interval` until one succeeds; with `retries` > 0,
        give up after the first attempt plus that many retries, and make the agent exit."""
        failures = 0
        while True:
            result = await self.join(addresses)
            if result.num_joined:
                log.info("agent: retry join completed: joined %d server(s)", result.num_joined)
                return
            failures += 1
            if retries and failures > retries:
                log.error("agent: max join retry exhausted, exiting")
                if self._fatal is not None and not self._fatal.done():
                    self._fatal.set_result("max join retry exhausted")
                return
            retry = seconds_to_go_duration(interval)
            log.warning("agent: join failed: %s, retrying in %s", result.error, retry)
            await self._pause(interval)

    async def _pause(self, seconds: float) -> None:
        """Let `seconds` pass on the runtime's clock (virtual time under the simulator)."""
        await self.runtime.wait((asyncio.get_running_loop().create_future(),), seconds)

    def _on_event(self, event: GossipEvent) -> None:
        if isinstance(event, MemberEvent):
            member = event.member
            log.info(
                "serf: %s: %s %s",
                event.type.value,
                member.name,
                member.addr,
                extra={"event": event.type.value, "member": member.name, "addr": member.addr},
            )
            self.observe_servers()  # its RPC flush offers the snapshot too
            return
        if isinstance(event, NameConflictDetected):
            if event.local:
                log.error(
                    "serf: Node name conflicts with another node at %s. Names must be unique! "
                    "(Resolution enabled: %s)",
                    event.other,
                    str(event.resolution_enabled).lower(),
                )
            else:
                log.warning(
                    "serf: Name conflict for '%s' both %s and %s are claiming",
                    event.node,
                    event.existing,
                    event.other,
                )
            return
        if isinstance(event, KeyringChanged):
            # serf writes its keyring file after every change a key query makes.
            if self.data_dir is not None:
                self.data_dir.save_keyring(list(event.keys))
            return
        if isinstance(event, ConflictResolved):
            tally = f"[{event.matching} / {event.responses}]"
            if event.won:
                log.info("serf: majority in name conflict resolution %s", tally)
            else:  # the core has shut down: this server is out of the pool, as in serf
                log.error("serf: minority in name conflict resolution, quitting %s", tally)
            return
        future = self._pending.pop(event.token, None)
        if future is not None and not future.done():
            future.set_result(event)

    def _expect(self, token: int) -> asyncio.Future[GossipEvent]:
        future: asyncio.Future[GossipEvent] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        return future

    # ---- reads ----------------------------------------------------------------------------

    def persist(self) -> None:
        """Save raft's term, vote and log before any frame leaves (the RPC flush calls this).

        Without a data dir a server keeps raft state in memory only, as `-dev` does. The
        serf snapshot rides along (see `_save_snapshot`).
        """
        self._save_snapshot()
        self._wake_node_watchers()
        if self._raft_file is None:
            return
        version = self.raft.state_version
        if version != self._raft_saved:
            self._raft_file(self.raft.persistent_state().to_bytes())
            self._raft_saved = version

    def _save_snapshot(self) -> None:
        """Offer the serf snapshot to its keeper, which writes only changes, at most every
        0.5 s. Called on every RPC flush (member events flush too; raft heartbeats make
        flushes frequent), so no timer of its own is needed."""
        if self._keeper is not None and self.serf.state is SerfState.ALIVE:
            self._keeper.maybe_save(self.runtime.now(), self.serf)

    def observe_servers(self) -> None:
        """Tell the RPC core what serf now shows of Nomad servers (bootstrap, reconcile)."""
        peers = [p for m in self.serf.members() if (p := server_peer(m)) is not None]
        self.rpc.observe_servers(self.rpc_runtime.now(), peers)
        self.rpc_runtime.flush()

    def on_rpc_event(self, event: LeaderChanged) -> None:
        self.leader_changes += 1
        log.info("raft: leader is now %s (term %d)", event.leader or "none", event.term)

    # ---- blocking queries on the node table -----------------------------------------------

    async def wait_nodes_index(self, min_index: int, timeout: float) -> None:
        """Return once the node table's index passes `min_index`, or after `timeout` seconds
        of the RPC runtime's time (virtual under the simulator), as Nomad's blockingRPC."""
        if self.rpc.state.index > min_index or timeout <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        watcher = (min_index, future)
        self._node_watchers.append(watcher)
        try:
            await self.rpc_runtime.wait([future], timeout)
        finally:
            if watcher in self._node_watchers:
                self._node_watchers.remove(watcher)

    def _wake_node_watchers(self) -> None:
        """Called on every RPC flush: resolve the blocking queries the index has passed."""
        if not self._node_watchers:
            return
        index = self.rpc.state.index
        for min_index, future in self._node_watchers:
            if index > min_index and not future.done():
                future.set_result(None)

    def raft_servers(self) -> list[RaftServerInfo]:
        """The latest raft configuration with serf names (Nomad's RaftGetConfiguration)."""
        names = self.rpc.server_names()
        leader = self.raft.leader()
        return [
            RaftServerInfo(
                id=s.id,
                node=names.get(s.address, "(unknown)"),
                address=s.address,
                leader=s.address == leader,
                voter=s.suffrage == "Voter",
            )
            for s in self.raft.configuration
        ]

    async def remove_raft_peer(self, address: str) -> None:
        """Nomad's Operator.RaftRemovePeerByAddress, on the leader.

        Raises:
            AgentError: no leader, not the leader, unknown address, or raft refused.
        """
        server_id = next((s.id for s in self.raft.configuration if s.address == address), None)
        if server_id is None:
            raise AgentError(f'address "{address}" was not found in the Raft configuration')
        if self.raft.leader() is None:
            raise AgentError(NO_LEADER)
        if not self.raft.is_leader:
            raise AgentError("raft peer removal is only implemented on the leader")
        deadline = self.rpc_runtime.now() + PEER_REMOVAL_TIMEOUT
        while True:
            try:
                removed = self.raft.remove_server(self.rpc_runtime.now(), server_id)
            except ValueError as exc:  # the change would leave no voter
                log.warning("nomad.operator: Failed to remove Raft peer %r: %s", address, exc)
                raise AgentError(str(exc)) from None
            if removed:
                break
            remaining = deadline - self.rpc_runtime.now()
            if remaining <= 0 or not self.raft.is_leader:
                raise AgentError("timed out waiting for a previous configuration change")
            await self.rpc_runtime.wait(
                (asyncio.get_running_loop().create_future(),), min(remaining, 0.1)
            )
        self.rpc_runtime.flush()
        log.warning('nomad.operator: Removed Raft peer "%s"', address)

    def _member_rows(self) -> tuple[str, str, str, list[list[Any]]]:
        s = self.settings
        rows = [m.to_row() for m in self.members()]
        return s.node_name, s.region, s.datacenter, rows

    def member_info(self, member: Member) -> MemberInfo:
        v = API_VERSIONS if member.versions == self.config.versions else member.versions
        return MemberInfo(
            member.name,
            member.addr,
            member.port,
            dict(member.tags),
            member.status.value,
            v.protocol_min,
            v.protocol_max,
            v.protocol_cur,
            v.delegate_min,
            v.delegate_max,
            v.delegate_cur,
        )

    def members(self) -> list[MemberInfo]:
        return [self.member_info(m) for m in self.serf.members()]

    def local_member(self) -> MemberInfo:
        """Our own record; rebuilt only when serf's member table changed (`/v1/agent/self`)."""
        version = self.membership_version()
        if self._local is None or self._local[0] != version:
            self._local = (version, self.member_info(self.serf.local_member()))
        return self._local[1]

    def membership_version(self) -> Hashable:
        """A value that changes whenever `members()` would answer differently."""
        return self.serf.members_version

    def known_regions(self) -> list[str]:
        """Regions of the live Nomad servers we know, ours included (sorted)."""
        version = self.membership_version()
        if self._regions is not None and self._regions[0] == version:
            return list(self._regions[1])
        regions = {self.settings.region}
        for m in self.serf.members():
            if m.status is MemberStatus.ALIVE and m.tags.get("role") == "nomad":
                regions.add(m.tags.get("region", ""))
        known = sorted(r for r in regions if r)
        self._regions = (version, known)
        return list(known)

    def stats(self) -> dict[str, dict[str, str]]:
        leader = self.raft.leader()
        return {
            "nomad": {
                "server": "true",
                "leader": "true" if self.raft.is_leader else "false",
                "leader_addr": leader or "",
                # 0.5.5 - 0.10 report the bootstrap *flag*: false in dev mode (server.go `Stats`).
                "bootstrap": "true" if self.settings.server.bootstrap_expect == 1 else "false",
                "known_regions": str(len(self.known_regions())),
            },
            "raft": self.raft.stats(self.rpc_runtime.now()),
            "serf": self.serf.stats(),
            "gossip": self.gossip_drops(),
        }

    def gossip_drops(self) -> dict[str, str]:
        """What arrived on the serf port and was dropped, by why (ours: Nomad has no such
        section). A peer with another key or none shows up in the first two."""
        swim = self.serf.swim
        return {
            "dropped_undecryptable": str(swim.undecryptable),
            "dropped_unencrypted": str(swim.unencrypted),
            "dropped_malformed": str(swim.decode_errors + self.serf.decode_errors),
            "dropped_unsupported": str(self.serf.unsupported),
        }

    def health(self, region: str | None) -> HealthCheck:
        """The server half of `/v1/agent/health`: Status.Leader for the region."""
        region = region or self.settings.region
        if region != self.settings.region:
            if region not in self.known_regions():
                return HealthCheck(False, "No path to region")
            return HealthCheck(False, "forwarding to other regions is not implemented yet")
        if self.raft.leader() is None:
            return HealthCheck(False, "no leader")
        return HealthCheck(True, "ok")

    # ---- commands -------------------------------------------------------------------------

    async def join(self, addresses: Sequence[str]) -> JoinResult:
        """Nomad's Join: `num_joined` push-pulls done, `error` only if none succeeded."""
        if self.serf.state is not SerfState.ALIVE:
            return JoinResult(0, SERF_CANT_JOIN)
        deadline = self.runtime.now() + JOIN_ANSWER_TIMEOUT
        resolved = await asyncio.gather(*(self._resolve_seed(a, deadline) for a in addresses))
        # One entry per seed IP (its address and pending outcome) or per failed lookup (its line).
        plan: list[str | tuple[Address, asyncio.Future[GossipEvent]]] = []
        now = self.runtime.now()
        for outcome in resolved:
            if isinstance(outcome, str):
                plan.append(outcome)
                continue
            for addr in outcome:
                plan.append((addr, self._expect(self.serf.join(now, [addr]))))
        self.runtime.flush()
        futures = [item[1] for item in plan if isinstance(item, tuple)]
        await self.runtime.wait(futures, deadline - self.runtime.now())
        joined, errors = 0, []
        for item in plan:
            if isinstance(item, str):
                errors.append(item)
                continue
            addr, future = item
            if not future.done():
                errors.append(f"Failed to join {addr.host}: i/o timeout")
                continue
            result = future.result()
            assert isinstance(result, JoinCompleted)
            joined += result.num_joined
            errors.extend(result.errors)
        if joined or not errors:
            return JoinResult(joined, "")
        return JoinResult(0, format_multierror(errors))

    async def _resolve_seed(self, text: str, deadline: float) -> list[Address] | str:
        """memberlist resolveAddr: the seed's IPs, or its `Failed to resolve` error line."""
        try:
            host, port = split_host_port(strip_node_name(text), self.serf_port)
            ip = ip_literal(host)
            ips = [ip] if ip else await self.resolver.resolve(host, deadline - self.runtime.now())
        except (AddressError, ResolveError) as exc:
            return f"Failed to resolve {text}: {exc}"
        return [Address(ip, port) for ip in ips]

    async def force_leave(self, node: str, *, prune: bool) -> None:
        """serf RemoveFailedNode(Prune); a broadcast that does not go out is a 500."""
        token = self.serf.force_leave(self.runtime.now(), node, prune)
        future = self._expect(token)
        self.runtime.flush()
        await self.runtime.wait([future], self.config.broadcast_timeout + COMMAND_SLACK)
        if not future.done():
            raise AgentError("timed out broadcasting node removal")
        result = future.result()
        assert isinstance(result, ForceLeaveCompleted)
        if result.error is not None:
            raise AgentError(result.error)

    async def leave(self) -> str | None:
        """Graceful leave; serf's error text, or None once the leave has propagated."""
        token = self.serf.leave(self.runtime.now())
        if self._keeper is not None:
            self._keeper.on_leave(self.runtime.now(), self.serf)
        future = self._expect(token)
        self.runtime.flush()
        timeout = 2 * self.config.broadcast_timeout + self.config.leave_propagate_delay
        await self.runtime.wait([future], timeout + COMMAND_SLACK)
        if not future.done():
            return "timeout while waiting for graceful leave"
        result = future.result()
        assert isinstance(result, LeaveCompleted)
        return result.error

    async def keyring(self, op: KeyringOperation, key: bytes | None) -> KeyringResult:
        """serf KeyManager: one `_serf_<op>-key` query to the pool, answered as Nomad does."""
        keyring = self.serf.swim.keyring
        if op is KeyringOperation.REMOVE and keyring is not None and key == keyring.primary:
            raise BadRequestError("Removing the primary key is not allowed")
        token = self.serf.key_operation(self.runtime.now(), _KEY_OPS[op], key)
        future = self._expect(token)
        self.runtime.flush()
        # serf's DefaultQueryTimeout, which the core collects for, then a little slack.
        num = self.serf.swim.membership.num_live_nodes()
        timeout = self.config.memberlist.gossip_interval * 16 * math.ceil(math.log10(num + 1))
        await self.runtime.wait([future], timeout + COMMAND_SLACK)
        if not future.done():
            raise AgentError("timed out waiting for key query answers")
        result = future.result()
        assert isinstance(result, KeyQueryCompleted)
        response = result.response
        if response.error is not None:
            raise AgentError(response.error)
        return KeyringResult(response.messages, response.keys, response.num_nodes)

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.serf.state is not SerfState.SHUTDOWN:
            if self._keeper is not None:
                self._keeper.on_shutdown(self.runtime.now(), self.serf)
            self.serf.shutdown(self.runtime.now())
            self.raft.shutdown(self.rpc_runtime.now())
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        await self.runtime.close()
