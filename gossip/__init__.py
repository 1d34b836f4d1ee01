"""Sans-IO memberlist + serf membership: the protocol cores of gossip-agent.

No sockets, clocks or global randomness in here: drivers (asyncio, the simulator) feed
inputs stamped with `now` and pull outputs. See `SerfCore` for the entry point.
"""

from gossip.config import GossipConfig, SerfConfig
from gossip.errors import DecodeError, GossipError, UsageError
from gossip.events import (
    ForceLeaveCompleted,
    GossipEvent,
    JoinCompleted,
    LeaveCompleted,
    MemberEvent,
    MemberEventType,
)
from gossip.outputs import Datagram, StreamRequest
from gossip.serf import SerfCore, SerfState
from gossip.swim import SwimNode
from gossip.types import Address, Member, MemberStatus, NodeState, Versions

__all__ = [
    "Address",
    "Datagram",
    "DecodeError",
    "ForceLeaveCompleted",
    "GossipConfig",
    "GossipError",
    "GossipEvent",
    "JoinCompleted",
    "LeaveCompleted",
    "Member",
    "MemberEvent",
    "MemberEventType",
    "MemberStatus",
    "NodeState",
    "SerfConfig",
    "SerfCore",
    "SerfState",
    "StreamRequest",
    "SwimNode",
    "UsageError",
    "Versions",
]
