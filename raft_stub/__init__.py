"""A sans-IO raft stand-in: one server that leads itself, shaped for a real election later.

Same rules as `gossip`: no sockets, clocks or global randomness; the driver passes `now`.
"""

from raft_stub.config import RaftConfig
from raft_stub.events import LeaderChanged
from raft_stub.node import RaftState, RaftStub
from raft_stub.stats import format_go_duration, seconds_to_go_duration

__all__ = [
    "LeaderChanged",
    "RaftConfig",
    "RaftState",
    "RaftStub",
    "format_go_duration",
    "seconds_to_go_duration",
]
