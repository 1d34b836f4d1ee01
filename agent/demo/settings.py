"""DemoSettings: the one frozen description of what a demo runs (flags, then resets)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from agent.demo.errors import DemoInputError

MAX_SERVERS = 7
MAX_CLIENTS = 32
MAX_GOSSIP_NODES = 1000
MAX_SPEED = 100.0


class Profile(StrEnum):
    """memberlist's presets; `lan` by default because `wan`'s 30 s suspicion is slow to watch."""

    LAN = "lan"
    WAN = "wan"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """Everything a run is a function of, besides the actions taken during it."""

    servers: int = 3
    clients: int = 2
    nodes: int = 0
    """Gossip-only serf members (no raft), for dissemination at sizes raft would not suit."""
    seed: int = 1
    profile: Profile = Profile.LAN
    speed: float = 1.0
    scenario: str = ""
    """A scenario name from `agent.demo.scenarios`, or empty for a cluster left alone."""
    bind: str = "127.0.0.1"
    http_port: int = 4646
    agent_apis: bool = True
    """Serve each node's Nomad agent API on its own loopback address (up to 32 nodes)."""
    start_paused: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.servers <= MAX_SERVERS:
            raise DemoInputError(f"servers must be between 1 and {MAX_SERVERS}, not {self.servers}")
        if not 0 <= self.clients <= MAX_CLIENTS:
            raise DemoInputError(f"clients must be between 0 and {MAX_CLIENTS}, not {self.clients}")
        if not 0 <= self.nodes <= MAX_GOSSIP_NODES:
            raise DemoInputError(
                f"nodes must be between 0 and {MAX_GOSSIP_NODES}, not {self.nodes}"
            )
        if self.seed < 0:
            raise DemoInputError(f"seed must not be negative, not {self.seed}")
        if not 0 <= self.http_port <= 65535:
            raise DemoInputError(f"http-port must be between 0 and 65535, not {self.http_port}")
        check_speed(self.speed)

    def with_run(self, *, seed: int, scenario: str) -> DemoSettings:
        """The same cluster with another seed and scenario (a reset)."""
        return replace(self, seed=seed, scenario=scenario)


def check_speed(speed: float) -> float:
    """A speed the pacer can follow: positive, at most MAX_SPEED times the wall clock."""
    if not 0 < speed <= MAX_SPEED:
        raise DemoInputError(f"speed must be above 0 and at most {MAX_SPEED:g}, not {speed}")
    return speed
