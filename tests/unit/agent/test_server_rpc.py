"""ServerRpc fed frames and serf views at explicit times: bootstrap, forwarding, heartbeats."""

from __future__ import annotations

import random

from agent.rpc.fsm import NodeStatus
from agent.rpc.messages import HeartbeatReply, MembersRequest, NodeHeartbeat, PeersReply
from agent.rpc.server_rpc import (
    HEARTBEAT_GRACE,
    NO_LEADER,
    ServerPeer,
    ServerRpc,
    heartbeat_ttl,
)
from agent.rpc.wire import Frame, FrameKind, decode_frame, encode_frame
from raft_stub import AppendEntries, RaftConfig, RaftStub, encode_message

ME, P2, P3 = "127.0.0.11:4647", "127.0.0.12:4647", "127.0.0.13:4647"
CLIENT = "127.0.0.14:4647"


def make(expect: int = 3) -> ServerRpc:
    raft = RaftStub(
        RaftConfig(server_id=ME, address=ME, bootstrap_expect=expect),
        rng=random.Random(1),
        now=0.0,
    )
    return ServerRpc(
        raft,
        addr=ME,
        region="global",
        bootstrap_expect=expect,
        rng=random.Random(2),
        members=lambda: ("s1", "global", "dc1", [["s1.global", "127.0.0.11", 4648]]),
    )


def peer(
    addr: str, *, status: str = "alive", expect: int = 3, bootstrap: bool = False
) -> ServerPeer:
    return ServerPeer(f"n{addr[-6]}", addr, status, "global", expect, bootstrap)


def frames(core: ServerRpc) -> list[tuple[str, Frame]]:
    return [(dst, decode_frame(data)) for dst, data in core.messages_to_send()]


def feed(core: ServerRpc, now: float, src: str, kind: FrameKind, body: object) -> None:
    core.handle_frame(now, decode_frame(encode_frame(src, kind, body)))


def test_ttl_is_nomads_rate_scaled_interval_plus_stagger() -> None:
    rng = random.Random(3)
    assert all(10.0 <= heartbeat_ttl(3, rng) < 20.0 for _ in range(100))
    assert all(40.0 <= heartbeat_ttl(2000, rng) < 80.0 for _ in range(100))


def test_bootstrap_waits_for_expect_then_asks_peers_first() -> None:
    core = make()
    core.observe_servers(0.0, [peer(ME), peer(P2)])
    assert frames(core) == []
    core.observe_servers(1.0, [peer(ME), peer(P2), peer(P3)])
    asked = frames(core)
    assert sorted(dst for dst, _ in asked) == [P2, P3]
    assert {f.kind for _, f in asked} == {FrameKind.STATUS_PEERS}
    probe = asked[0][1].body[0]
    feed(core, 1.1, P2, FrameKind.PEERS_REPLY, PeersReply(probe, ()).to_body())
    assert core.raft.last_log_index == 0  # still waiting for P3
    feed(core, 1.2, P3, FrameKind.PEERS_REPLY, PeersReply(probe, ()).to_body())
    assert [s.id for s in core.raft.configuration] == [ME, P2, P3]


def test_no_bootstrap_when_a_peer_already_has_a_configuration() -> None:
    core = make()
    core.observe_servers(0.0, [peer(ME), peer(P2), peer(P3)])
    probe = frames(core)[0][1].body[0]
    feed(core, 0.1, P2, FrameKind.PEERS_REPLY, PeersReply(probe, (P2, P3)).to_body())
    feed(core, 0.2, P3, FrameKind.PEERS_REPLY, PeersReply(probe, ()).to_body())
    assert core.raft.last_log_index == 0 and core.raft.configuration == ()


def test_conflicting_expect_or_bootstrap_mode_blocks_bootstrap() -> None:
    for odd in (peer(P3, expect=5), peer(P3, bootstrap=True)):
        core = make()
        core.observe_servers(0.0, [peer(ME), peer(P2), odd])
        assert frames(core) == []


def test_unanswered_probe_is_retried_after_its_timeout() -> None:
    core = make()
    core.observe_servers(0.0, [peer(ME), peer(P2), peer(P3)])
    assert len(frames(core)) == 2
    deadline = core.next_deadline()
    assert deadline is not None and deadline <= 5.0
    core.handle_timer(5.0)
    assert sorted(dst for dst, f in frames(core) if f.kind is FrameKind.STATUS_PEERS) == [P2, P3]


def test_no_leader_answers_heartbeats_with_nomads_error() -> None:
    core = make()
    call = NodeHeartbeat(7, "node-1", "c1", CLIENT)
    feed(core, 0.0, CLIENT, FrameKind.NODE_REGISTER, call.to_body())
    [(dst, frame)] = frames(core)
    reply = HeartbeatReply.from_body(frame.body)
    assert (dst, reply.req_id, reply.error) == (CLIENT, 7, NO_LEADER)


def follower_of(core: ServerRpc, leader: str, now: float) -> None:
    beat = AppendEntries(
        term=1, leader_id=leader, prev_log_index=0, prev_log_term=0, entries=(), leader_commit=0
    )
    feed(core, now, leader, FrameKind.RAFT, encode_message(beat))
    frames(core)


def test_follower_forwards_a_client_call_once_to_the_leader() -> None:
    core = make()
    follower_of(core, P2, 0.0)
    assert core.raft.leader() == P2
    call = NodeHeartbeat(7, "node-1", "c1", CLIENT)
    feed(core, 0.1, CLIENT, FrameKind.NODE_HEARTBEAT, call.to_body())
    [(dst, frame)] = frames(core)
    assert (dst, frame.kind, NodeHeartbeat.from_body(frame.body)) == (
        P2,
        FrameKind.NODE_HEARTBEAT,
        call,
    )
    # Already forwarded (src is a server, not the caller): answer, never forward again.
    feed(core, 0.2, P3, FrameKind.NODE_HEARTBEAT, call.to_body())
    [(dst, frame)] = frames(core)
    assert dst == CLIENT and HeartbeatReply.from_body(frame.body).error == NO_LEADER


def test_leader_grants_ttl_registers_and_marks_silent_nodes_down() -> None:
    core = make(expect=1)
    core.raft.handle_timer(5.0)  # a lone bootstrapped server elects itself
    core.handle_timer(5.0)
    assert core.raft.is_leader
    core.observe_servers(5.0, [peer(ME, expect=0, bootstrap=True)])
    frames(core)
    call = NodeHeartbeat(1, "node-1", "c1", CLIENT)
    feed(core, 6.0, CLIENT, FrameKind.NODE_REGISTER, call.to_body())
    [(dst, frame)] = frames(core)
    reply = HeartbeatReply.from_body(frame.body)
    assert dst == CLIENT and reply.error == "" and reply.leader == ME
    assert 10.0 <= reply.ttl < 20.0 and reply.servers == (ME,)
    assert core.state.nodes["node-1"].status is NodeStatus.READY
    expires = 6.0 + reply.ttl + HEARTBEAT_GRACE
    assert core.next_deadline() is not None
    core.handle_timer(expires - 0.01)
    assert core.state.nodes["node-1"].status is NodeStatus.READY
    core.handle_timer(expires)
    assert core.state.nodes["node-1"].status is NodeStatus.DOWN


def test_members_are_served_locally_to_the_reply_address() -> None:
    core = make()
    feed(core, 0.0, CLIENT, FrameKind.STATUS_MEMBERS, MembersRequest(3, CLIENT).to_body())
    [(dst, frame)] = frames(core)
    assert dst == CLIENT and frame.kind is FrameKind.MEMBERS_REPLY
    assert frame.body[:4] == [3, "s1", "global", "dc1"]


def test_malformed_bodies_are_counted_and_leave_state_alone() -> None:
    core = make()
    before = (core.raft.term, core.raft.last_log_index)
    for kind, body in [
        (FrameKind.RAFT, b"\x00garbage"),
        (FrameKind.RAFT, "not bytes"),
        (FrameKind.NODE_REGISTER, [1, 2, 3]),
        (FrameKind.STATUS_MEMBERS, None),
        (FrameKind.NODE_REPLY, []),
    ]:
        feed(core, 0.0, CLIENT, kind, body)
    assert core.malformed == 5
    assert (core.raft.term, core.raft.last_log_index) == before
    assert frames(core) == []
