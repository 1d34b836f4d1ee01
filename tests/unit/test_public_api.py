"""Each package's public names, pinned: a name leaves or joins a facade only on purpose.

The agent reaches the cores only through these facades (tests/unit/test_layering.py checks
that), so they are the contract between the layers, and users of `agent.sim` and `agent`
depend on theirs.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "gocompat": [
        "MAX_DURATION_NS",
        "AddressError",
        "Base64Error",
        "decode_std_base64",
        "format_go_duration",
        "ip_literal",
        "join_host_port",
        "parse_go_bool",
        "parse_go_duration",
        "seconds_to_go_duration",
        "split_host_port",
        "strip_node_name",
    ],
    "gossip": [
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
    ],
    "raft_stub": [
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
    ],
    "agent": ["Agent", "Settings", "create_app"],
    "agent.api": ["create_app"],
    "agent.cli": ["main"],
    "agent.sim": [
        "EmptySchedule",
        "NetworkConditions",
        "Scheduler",
        "SimCluster",
        "SimDatagram",
        "SimEvent",
        "SimNetwork",
        "SimNode",
        "SimulationError",
        "Timer",
        "TraceEntry",
    ],
    "agent.testing": [
        "AgentCluster",
        "AgentHandle",
        "Block",
        "ClusterShape",
        "ClusterStateMachine",
        "Fault",
        "FaultKind",
        "FaultPlan",
        "ForceLeave",
        "Heal",
        "Kill",
        "Latency",
        "Leave",
        "Loss",
        "Partition",
        "Pause",
        "ReplayScript",
        "Restart",
        "SimAgentsCluster",
        "SimAgentsError",
        "Step",
        "build_sim_cluster",
        "replay_command",
        "seed_for",
        "strategies",
    ],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names_are_pinned_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == PUBLIC[package]
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_agent_reexports_lazily() -> None:
    """`import agent.sim` must not pull in FastAPI, so `agent` resolves its names on use."""
    import agent

    assert agent.Agent.__name__ == "Agent"
    assert agent.Settings.__name__ == "Settings"
    assert callable(agent.create_app)
    with pytest.raises(AttributeError):
        agent.nothing  # noqa: B018


def test_the_simulator_imports_without_the_http_stack() -> None:
    code = "import sys, agent.sim; print(sorted({'fastapi', 'uvicorn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
