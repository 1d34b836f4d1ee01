"""A sans-IO raft core: leader election and log replication among Nomad servers.

Same rules as `gossip`: no sockets, clocks or global randomness; the driver passes `now`,
an injected `random.Random` supplies election jitter. See `raft_stub.node` for the theory of
operation and what was left out.
"""

from raft_stub.codec import DecodeError, decode_message, encode_message
from raft_stub.config import RaftConfig
from raft_stub.events import EntryCommitted, LeaderChanged, RaftEvent
from raft_stub.messages import (
    AppendEntries,
    AppendEntriesResponse,
    EntryType,
    LogEntry,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
    decode_configuration,
    encode_configuration,
)
from raft_stub.node import RaftState, RaftStub
from raft_stub.persistence import PersistentState
from raft_stub.stats import ServerEntry

__all__ = [
    "AppendEntries",
    "AppendEntriesResponse",
    "DecodeError",
    "EntryCommitted",
    "EntryType",
    "LeaderChanged",
    "LogEntry",
    "PersistentState",
    "RaftConfig",
    "RaftEvent",
    "RaftMessage",
    "RaftState",
    "RaftStub",
    "RequestVote",
    "RequestVoteResponse",
    "ServerEntry",
    "decode_configuration",
    "decode_message",
    "encode_configuration",
    "encode_message",
]
