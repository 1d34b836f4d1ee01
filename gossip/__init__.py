"""Sans-IO memberlist + serf membership: the protocol cores of gossip-agent.

No sockets, clocks or global randomness in here: drivers (asyncio, the simulator) feed
inputs stamped with `now` and pull outputs. See `SerfCore` for the entry point.
"""

from gossip.codec import stream_message_length
from gossip.config import GossipConfig, SerfConfig
from gossip.endpoint import Endpoint, OutputSink, flush_outputs
from gossip.errors import DecodeError, GossipError, UsageError
from gossip.events import (
    ConflictResolved,
    ForceLeaveCompleted,
    GossipEvent,
    JoinCompleted,
    KeyQueryCompleted,
    KeyringChanged,
    LeaveCompleted,
    MemberEvent,
    MemberEventType,
    NameConflictDetected,
    format_multierror,
)
from gossip.key_queries import KeyOp, KeyResponse
from gossip.keyring import KEY_SIZES, Keyring, KeyringError
from gossip.outputs import Datagram, StreamRequest
from gossip.serf import SerfCore, SerfState
from gossip.swim import SwimNode
from gossip.types import Address, Member, MemberStatus, NodeState, Versions

__all__ = [
    "KEY_SIZES",
    "Address",
    "ConflictResolved",
    "Datagram",
    "DecodeError",
    "Endpoint",
    "ForceLeaveCompleted",
    "GossipConfig",
    "GossipError",
    "GossipEvent",
    "JoinCompleted",
    "KeyOp",
    "KeyQueryCompleted",
    "KeyResponse",
    "Keyring",
    "KeyringChanged",
    "KeyringError",
    "LeaveCompleted",
    "Member",
    "MemberEvent",
    "MemberEventType",
    "MemberStatus",
    "NameConflictDetected",
    "NodeState",
    "OutputSink",
    "SerfConfig",
    "SerfCore",
    "SerfState",
    "StreamRequest",
    "SwimNode",
    "UsageError",
    "Versions",
    "flush_outputs",
    "format_multierror",
    "stream_message_length",
]
