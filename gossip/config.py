"""Frozen configurations for the memberlist and serf cores, with memberlist 0.2.2's presets.

Field names are memberlist/serf knob names in snake_case so users can map them one to one;
every duration is in seconds. The presets carry exactly the numbers of memberlist's
DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig and serf's DefaultConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from gossip.types import Versions

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """memberlist's knobs (memberlist config.go: `Config`, `DefaultLANConfig`)."""

    probe_interval: float = 1.0
    """How often one node is probed; also the unit of the suspicion timeout."""
    probe_timeout: float = 0.5
    """How long to wait for a direct ack before asking indirect helpers (never scaled)."""
    indirect_checks: int = 3
    """How many peers are asked to probe a target that missed its direct ack."""
    retransmit_mult: int = 4
    """Broadcasts go out retransmit_mult * ceil(log10(n + 1)) times."""
    suspicion_mult: int = 4
    """Minimum suspicion timeout is suspicion_mult * max(1, log10(n)) * probe_interval."""
    suspicion_max_timeout_mult: int = 6
    """Maximum suspicion timeout, as a multiple of the minimum (Lifeguard)."""
    push_pull_interval: float = 30.0
    """Full-state anti-entropy period, scaled up above 32 nodes; 0 disables it."""
    tcp_timeout: float = 10.0
    """Deadline of one stream exchange (push-pull, fallback ping)."""
    disable_tcp_pings: bool = False
    """Skip the stream fallback ping of a failed probe."""
    awareness_max_multiplier: int = 8
    """Local health score is clamped to [0, awareness_max_multiplier - 1]."""
    gossip_nodes: int = 3
    """Peers each gossip round sends broadcasts to; 0 disables gossip."""
    gossip_interval: float = 0.2
    """How often a gossip round runs."""
    gossip_to_the_dead_time: float = 30.0
    """Dead nodes still receive gossip (to refute) and stay listed for this long."""
    enable_compression: bool = True
    """LZW-compress packets when that makes them smaller, streams always."""
    udp_buffer_size: int = 1400
    """Largest datagram we build (before encryption overhead)."""
    dead_node_reclaim_time: float = 0.0
    """After this long a dead node's name may move to a new address; 0 = never."""
    protocol_version: int = 2
    """memberlist protocol spoken (the Vsn's PCur)."""
    handoff_queue_depth: int = 1024
    """Queued suspect/dead/alive messages kept at most (older ones are dropped)."""

    @classmethod
    def lan(cls) -> GossipConfig:
        return cls()

    @classmethod
    def wan(cls) -> GossipConfig:
        return cls(
            tcp_timeout=30.0,
            suspicion_mult=6,
            push_pull_interval=60.0,
            probe_timeout=3.0,
            probe_interval=5.0,
            gossip_nodes=4,
            gossip_interval=0.5,
            gossip_to_the_dead_time=60.0,
        )

    @classmethod
    def local(cls) -> GossipConfig:
        return cls(
            tcp_timeout=1.0,
            indirect_checks=1,
            retransmit_mult=2,
            suspicion_mult=3,
            push_pull_interval=15.0,
            probe_timeout=0.2,
            probe_interval=1.0,
            gossip_interval=0.1,
            gossip_to_the_dead_time=15.0,
        )

    @classmethod
    def profile(cls, name: str) -> GossipConfig:
        """The preset named `lan`, `wan` or `local`; ValueError for anything else."""
        presets = {"lan": cls.lan, "wan": cls.wan, "local": cls.local}
        if name not in presets:
            raise ValueError(f"unknown gossip profile {name!r}: expected lan, wan or local")
        return presets[name]()


@dataclass(frozen=True, slots=True)
class SerfConfig:
    """serf's knobs (serf config.go: `Config`, `DefaultConfig`), wrapping the memberlist
    configuration."""

    memberlist: GossipConfig = field(default_factory=GossipConfig)
    protocol_version: int = 4
    """serf (delegate) protocol spoken: the Vsn's DCur."""
    broadcast_timeout: float = 5.0
    """How long leave / force-leave wait for their broadcast to go out."""
    leave_propagate_delay: float = 1.0
    """After the leave broadcast, keep answering probes this long."""
    reap_interval: float = 15.0
    reconnect_interval: float = 30.0
    reconnect_timeout: float = 24 * HOUR
    """A failed member is erased after this long."""
    tombstone_timeout: float = 24 * HOUR
    """A left member is erased after this long."""
    recent_intent_timeout: float = 300.0
    """Intents about unknown nodes are buffered this long."""
    queue_check_interval: float = 30.0
    queue_depth_warning: int = 128
    max_queue_depth: int = 4096
    min_queue_depth: int = 0
    event_buffer: int = 512
    query_buffer: int = 512
    enable_name_conflict_resolution: bool = True
    versions: Versions = field(default_factory=Versions)
    """The Vsn advertised on the wire; DMax 5 so protocol-5 serf agents accept us."""

    def with_overrides(self, **overrides: Any) -> SerfConfig:
        """Apply knob overrides by name to this config or its memberlist part.

        Raises:
            ValueError: a name that is neither a serf nor a memberlist knob.
        """
        serf_names = {f.name for f in fields(SerfConfig)}
        ml_names = {f.name for f in fields(GossipConfig)}
        serf_part = {k: v for k, v in overrides.items() if k in serf_names}
        ml_part = {k: v for k, v in overrides.items() if k in ml_names and k not in serf_names}
        unknown = sorted(set(overrides) - serf_names - ml_names)
        if unknown:
            raise ValueError(f"unknown gossip setting(s): {', '.join(unknown)}")
        memberlist = replace(self.memberlist, **ml_part)
        return replace(self, memberlist=memberlist, **serf_part)

    @classmethod
    def profile(cls, name: str, **overrides: Any) -> SerfConfig:
        """serf defaults over the named memberlist preset, then overrides by knob name."""
        return cls(memberlist=GossipConfig.profile(name)).with_overrides(**overrides)
