"""Agent: one Nomad-style agent, composing the server half (serf + raft) and the client half.

It implements `AgentAPI`, the only way in for the HTTP layer. It does no I/O of its own: the
gossip core is driven by the `Runtime` it is given (asyncio sockets or the simulator), names
are looked up through a `Resolver`, and time comes from a `Clock`, so the same class runs a
real `gossip-agent agent -dev` and a simulated agent in an API test, and what the API tests
check is what the CLI runs.

Lifecycle, owned by the caller (the CLI, or a test): construct, `await start()`, serve, then
optionally `await leave()`, and `await shutdown()`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Hashable, Mapping, Sequence

from agent.acl.store import AclStore
from agent.agent_api import (
    ZERO_MEMBER,
    Capability,
    HealthCheck,
    HealthReport,
    JoinResult,
    KeyringOperation,
    KeyringResult,
    LogLevel,
    MembersView,
    MetricsSnapshot,
    NodeInfo,
    NodesResult,
    QueryMeta,
    RaftConfigurationInfo,
    SelfInfo,
)
from agent.config.listeners import Listeners
from agent.config.nomad_view import nomad_config
from agent.config.settings import Settings
from agent.errors import BadRequestError, RoleMismatchError
from agent.roles.client import ClientRole, resolve_servers
from agent.roles.server import ServerRole
from agent.rpc.client_rpc import ClientRpc, MembersAnswered
from agent.rpc.endpoint import RpcEndpoint, RpcEvent
from agent.runtime.clock import Clock
from agent.runtime.faults import FaultTable
from agent.runtime.gossip_driver import Runtime
from agent.runtime.resolver import Resolver
from agent.runtime.rpc_driver import RpcRuntime
from agent.state.data_dir import DataDir, new_node_id
from agent.telemetry.http_counts import HttpCounts
from agent.telemetry.log_format import LogFormat
from agent.telemetry.log_monitor import LogMonitor
from agent.telemetry.metrics import http_counters, server_counters, server_gauges
from agent.telemetry.runtime_stats import RuntimeSampler
from gocompat import Base64Error, decode_std_base64
from gossip import KEY_SIZES

log = logging.getLogger("gossip_agent.agent")


class Agent:
    """See the module docstring. `runtime` is required when the settings enable a server."""

    def __init__(
        self,
        settings: Settings,
        *,
        listeners: Listeners,
        runtime: Runtime | None,
        rpc_runtime: RpcRuntime,
        resolver: Resolver,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.listeners = listeners
        self.rpc_runtime = rpc_runtime
        self._runtime_stats = RuntimeSampler()
        self._http_counts = HttpCounts()
        self.log_format = LogFormat.TEXT
        """How `/v1/agent/monitor` formats lines; the CLI sets it as it sets up stderr."""
        self._config_block = nomad_config(settings, listeners)
        """Both inputs are frozen, so the `config` block of `/v1/agent/self` is built once."""
        self.resolver = resolver
        self.clock = clock
        self.server: ServerRole | None = None
        self.client: ClientRole | None = None
        self._acl: AclStore | None = None
        # DataDirError (AclStateError among them) when the data dir is foreign or corrupt.
        self.data_dir = DataDir(settings.data_dir) if settings.data_dir else None
        if settings.acl.enabled:
            self._acl = AclStore.for_data_dir(self.data_dir or "", wall=clock.wall)
        if settings.server.enabled:
            if runtime is None:
                raise ValueError("a server agent needs a runtime for its gossip core")
            self.server = ServerRole(
                settings,
                runtime=runtime,
                resolver=resolver,
                clock=clock,
                rng=random.Random(rng.getrandbits(64)),
                listeners=listeners,
                rpc_runtime=rpc_runtime,
                data_dir=self.data_dir,
            )
        if settings.client.enabled:
            client_rng = random.Random(rng.getrandbits(64))
            if self.data_dir is not None:
                node_id = self.data_dir.client_node_id(client_rng)
            else:
                node_id = new_node_id(client_rng)
            # A dev agent's client talks to its own server (Nomad's TestHTTP_AgentSetServers).
            local = [listeners.rpc.advertise] if self.server is not None else []
            rpc = ClientRpc(
                node_id=node_id,
                node_name=settings.node_name,
                addr=listeners.rpc.advertise,
                rng=client_rng,
                now=rpc_runtime.now(),
                servers=local,
                datacenter=settings.datacenter,
            )
            self.client = ClientRole(rpc, rpc_runtime)
        self.rpc = RpcEndpoint(
            self.server.rpc if self.server is not None else None,
            self.client.rpc if self.client is not None else None,
        )
        self._faults: FaultTable | None = None
        if settings.enable_fault_injection:
            # Drawn last, so enabling faults does not change what the roles' RNGs draw.
            self._faults = FaultTable(random.Random(rng.getrandbits(64)))
            if runtime is not None:
                runtime.set_faults(self._faults)
            rpc_runtime.set_faults(self._faults)

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Attach the RPC port, start gossip, then `start_join` (which may fail the start).

        Raises:
            AgentError: no `start_join` address could be joined.
        """
        before_send = self.server.persist if self.server is not None else None
        self.rpc_runtime.attach(self.rpc, self._on_rpc_event, before_send)
        if self.server is not None:
            self.server.start()
            await self.server.start_join()
        if self.client is not None and self.server is None and self.settings.client.servers:
            good, errors = await resolve_servers(self.settings.client.servers, self.resolver)
            for error in errors:
                log.warning("client: ignoring server: %s", error)
            self.client.replace_servers(good)

    async def wait_fatal(self) -> str:
        """Returns (with the reason) only if the agent must exit on its own, as Nomad's does
        when `retry_max` join attempts all failed; a client agent never does."""
        if self.server is None:
            await asyncio.Future()  # never done
        assert self.server is not None
        return await self.server.wait_fatal()

    async def leave(self) -> None:
        """Leave the gossip pool gracefully (servers only; clients have nothing to leave)."""
        if self.server is not None:
            error = await self.server.leave()
            if error:
                log.warning("serf: leave: %s", error)

    async def shutdown(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
        await self.rpc_runtime.close()

    def _on_rpc_event(self, event: RpcEvent) -> None:
        if isinstance(event, MembersAnswered):
            if self.client is not None:
                self.client.on_event(event)
        elif self.server is not None:
            self.server.on_rpc_event(event)

    # ---- AgentAPI: properties -------------------------------------------------------------

    @property
    def is_server(self) -> bool:
        return self.server is not None

    @property
    def is_client(self) -> bool:
        return self.client is not None

    @property
    def response_headers(self) -> Mapping[str, str]:
        return self.settings.http_api_response_headers

    @property
    def acl(self) -> AclStore | None:  # an AclAPI
        return self._acl

    @property
    def faults(self) -> FaultTable | None:  # a FaultAPI
        return self._faults

    async def authorize(self, token: str | None, capability: Capability) -> None:
        """With ACLs off every check passes, whatever the token, as in Nomad's `ResolveToken`."""
        if self._acl is not None:
            self._acl.authorize(token, capability)

    def _server(self) -> ServerRole:
        if self.server is None:
            raise RoleMismatchError()
        return self.server

    def _client(self) -> ClientRole:
        if self.client is None:
            raise RoleMismatchError()
        return self.client

    # ---- AgentAPI: reads ------------------------------------------------------------------

    async def members(self) -> MembersView:
        s = self.settings
        if self.server is not None:
            return MembersView(s.node_name, s.region, s.datacenter, self.server.members())
        return await self._client().members()

    def members_version(self) -> Hashable | None:
        return None if self.server is None else self.server.membership_version()

    def servers(self) -> list[str]:
        return self._client().servers()

    def self_info(self) -> SelfInfo:
        stats: dict[str, dict[str, str]] = {}
        member = ZERO_MEMBER
        if self.server is not None:
            stats.update(self.server.stats())
            member = self.server.local_member()
        if self.client is not None:
            stats["client"] = self.client.stats()
        stats["runtime"] = self._runtime_stats.stats()
        return SelfInfo(self._config_block, member, stats)

    async def health(self, checks: Sequence[str] | None, region: str | None) -> HealthReport:
        """Nomad's HealthRequest: no `type` checks the halves this agent runs."""
        want_client = want_server = True
        if checks is not None:
            want_client, want_server = "client" in checks, "server" in checks
        report: dict[str, HealthCheck] = {}
        if want_client:
            if self.client is not None:
                report["client"] = self.client.health()
            elif checks is not None:
                report["client"] = HealthCheck(False, "client not enabled")
        if want_server:
            if self.server is not None:
                report["server"] = self.server.health(region)
            elif checks is not None:
                report["server"] = HealthCheck(False, "server not enabled")
        return HealthReport(report)

    # ---- AgentAPI: commands ---------------------------------------------------------------

    async def join(self, addresses: Sequence[str]) -> JoinResult:
        return await self._server().join(addresses)

    async def force_leave(self, node: str, *, prune: bool = False) -> None:
        await self._server().force_leave(node, prune=prune)

    async def set_servers(self, addresses: Sequence[str]) -> None:
        await self._client().set_servers(addresses, self.resolver)

    # ---- AgentAPI: status, operator, nodes, metrics, monitor ------------------------------

    def leader(self) -> str:
        return self._server().raft.leader() or ""

    def peers(self) -> list[str]:
        return [s.address for s in self._server().raft.configuration]

    def regions(self) -> list[str]:
        return self._server().known_regions()

    def raft_configuration(self) -> RaftConfigurationInfo:
        server = self._server()
        return RaftConfigurationInfo(
            tuple(server.raft_servers()), server.raft.log.configuration_index
        )

    async def remove_raft_peer(self, address: str) -> None:
        await self._server().remove_raft_peer(address)

    async def nodes(self, min_index: int, wait: float) -> NodesResult:
        server = self._server()
        if min_index > 0:
            await server.wait_nodes_index(min_index, wait)
        state = server.rpc.state
        nodes = tuple(
            NodeInfo(
                id=record.node_id,
                name=record.name,
                datacenter=record.datacenter,
                node_class="",
                status=record.status.value,
                status_description="",
                create_index=state.indexes[node_id].create,
                modify_index=state.indexes[node_id].modify,
            )
            for node_id, record in sorted(state.nodes.items())
        )
        return NodesResult(nodes, self._query_meta(state.index))

    def _query_meta(self, index: int) -> QueryMeta:
        """Nomad's QueryMeta: the index, whether a leader is known, and the last contact."""
        raft = self._server().raft
        if raft.is_leader or raft.last_contact_at is None:
            contact = 0.0
        else:
            contact = max(0.0, self.rpc_runtime.now() - raft.last_contact_at)
        return QueryMeta(index, raft.leader() is not None, round(contact * 1000))

    def record_http(self, route: str, code: int) -> None:
        self._http_counts.record(route, code)

    def metrics(self) -> MetricsSnapshot:
        gauges, counters = [], []
        if self.server is not None:
            s = self.server
            now = self.rpc_runtime.now()
            gauges += server_gauges(s.serf, s.raft, s.rpc, now)
            counters += server_counters(s.serf, s.rpc, s.traffic, s.leader_changes)
        counters += http_counters(self._http_counts)
        return MetricsSnapshot(self.clock.wall(), tuple(gauges), tuple(counters))

    def monitor(self, level: LogLevel) -> LogMonitor:  # a LogSubscription
        return LogMonitor(level, self.log_format)

    async def keyring(self, op: KeyringOperation, key: str | None) -> KeyringResult:
        """Nomad's KeyringOperationRequest: the key's base64 and size are checked here,
        before any query leaves, so a typo is a 400 rather than every member's failure."""
        server = self._server()
        raw: bytes | None = None
        if op is not KeyringOperation.LIST:
            try:
                raw = decode_std_base64(key or "")
            except Base64Error as exc:
                raise BadRequestError(str(exc)) from None
            if len(raw) not in KEY_SIZES:
                raise BadRequestError("key size must be 16, 24 or 32 bytes")
        return await server.keyring(op, raw)
