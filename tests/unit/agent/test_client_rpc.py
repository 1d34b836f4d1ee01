"""ClientRpc fed inputs at explicit times: registration, TTLs, fail-over, server learning."""

from __future__ import annotations

import random

from agent.rpc.client_rpc import ClientRpc, MembersAnswered
from agent.rpc.messages import HeartbeatReply, MembersReply, NodeHeartbeat
from agent.rpc.wire import Frame, FrameKind, decode_frame

S1, S2, S3 = "127.0.0.11:4647", "127.0.0.12:4647", "127.0.0.13:4647"
ME = "127.0.0.14:4647"


def make(servers: tuple[str, ...] = (S1, S2), now: float = 0.0) -> ClientRpc:
    return ClientRpc(
        node_id="n-1", node_name="c1", addr=ME, rng=random.Random(1), now=now, servers=servers
    )


def sent(client: ClientRpc) -> list[tuple[str, Frame]]:
    return [(dst, decode_frame(data)) for dst, data in client.messages_to_send()]


def reply(client: ClientRpc, now: float, req_id: int, **kw: object) -> None:
    fields = {"ttl": 15.0, "servers": (S1, S2), "leader": S1, "error": ""} | kw
    body = HeartbeatReply(req_id, **fields).to_body()  # type: ignore[arg-type]
    client.handle_frame(now, Frame(S1, FrameKind.NODE_REPLY, body))


def test_registers_at_once_then_heartbeats_on_the_granted_ttl() -> None:
    client = make()
    assert client.next_deadline() == 0.0
    client.handle_timer(0.0)
    [(dst, frame)] = sent(client)
    assert frame.kind is FrameKind.NODE_REGISTER and dst in (S1, S2)
    call = NodeHeartbeat.from_body(frame.body)
    assert (call.node_id, call.node_name, call.reply_to) == ("n-1", "c1", ME)
    reply(client, 0.1, call.req_id, ttl=14.0)
    assert client.registered
    assert client.next_deadline() == 14.1
    stats = client.stats(2.1)
    assert stats["heartbeat_ttl"] == "14s" and stats["last_heartbeat"] == "2s"
    client.handle_timer(14.1)
    [(_, frame)] = sent(client)
    assert frame.kind is FrameKind.NODE_HEARTBEAT


def test_before_any_heartbeat_stats_show_go_zero_values() -> None:
    stats = make(servers=()).stats(5.0)
    assert stats["heartbeat_ttl"] == "0s"
    assert stats["last_heartbeat"] == "2562047h47m16.854775807s"
    assert stats["known_servers"] == ""


def test_unanswered_heartbeat_fails_over_to_the_next_server() -> None:
    client = make()
    client.handle_timer(0.0)
    [(first, _)] = sent(client)
    assert client.next_deadline() == client.request_timeout
    client.handle_timer(client.request_timeout)
    assert sent(client) == []
    retry_at = client.next_deadline()
    assert retry_at is not None and 2.5 <= retry_at <= 3.5
    client.handle_timer(retry_at)
    [(second, _)] = sent(client)
    assert second != first


def test_error_reply_fails_over_and_no_leader_is_not_registration() -> None:
    client = make()
    client.handle_timer(0.0)
    [(first, frame)] = sent(client)
    reply(client, 0.1, NodeHeartbeat.from_body(frame.body).req_id, error="No cluster leader")
    assert not client.registered
    at = client.next_deadline()
    assert at is not None
    client.handle_timer(at)
    [(second, frame)] = sent(client)
    assert second != first and frame.kind is FrameKind.NODE_REGISTER


def test_servers_learned_from_heartbeat_replies() -> None:
    client = make(servers=(S1,))
    client.handle_timer(0.0)
    [(_, frame)] = sent(client)
    reply(client, 0.1, NodeHeartbeat.from_body(frame.body).req_id, servers=(S3, S1, S2))
    assert client.servers() == [S1, S2, S3]
    assert client.stats(0.2)["known_servers"] == f"{S1},{S2},{S3}"


def test_late_or_duplicate_replies_are_ignored() -> None:
    client = make()
    client.handle_timer(0.0)
    [(_, frame)] = sent(client)
    req_id = NodeHeartbeat.from_body(frame.body).req_id
    reply(client, 0.1, req_id + 100)
    assert not client.registered
    reply(client, 0.2, req_id, ttl=11.0)
    reply(client, 0.3, req_id, ttl=99.0)
    assert client.stats(0.3)["heartbeat_ttl"] == "11s"


def test_members_request_answered_or_timed_out() -> None:
    client = make()
    client.handle_timer(0.0)
    sent(client)
    assert make(servers=()).request_members(0.0) is None
    token = client.request_members(1.0)
    assert token is not None
    [(dst, frame)] = sent(client)
    assert frame.kind is FrameKind.STATUS_MEMBERS
    body = MembersReply(token, "s1", "global", "dc1", (), "").to_body()
    client.handle_frame(1.1, Frame(dst, FrameKind.MEMBERS_REPLY, body))
    event = client.next_event()
    assert isinstance(event, MembersAnswered) and event.reply is not None
    lost = client.request_members(2.0)
    client.handle_timer(2.0 + client.request_timeout)
    event = client.next_event()
    assert isinstance(event, MembersAnswered) and event.token == lost
    assert event.reply is None and event.error is not None and "i/o timeout" in event.error


def test_malformed_frames_are_counted_not_raised() -> None:
    client = make()
    client.handle_frame(0.0, Frame(S1, FrameKind.NODE_REPLY, ["junk"]))
    client.handle_frame(0.0, Frame(S1, FrameKind.RAFT, b""))
    assert client.malformed == 2


def test_a_reply_to_a_heartbeat_sent_before_a_list_replacement_does_not_undo_it() -> None:
    client = make(servers=(S1,))
    client.handle_timer(0.0)
    [(_, frame)] = sent(client)
    client.replace_servers(0.05, (S1, S3))  # POST /v1/agent/servers while the call is out
    reply(client, 0.1, NodeHeartbeat.from_body(frame.body).req_id, servers=(S1, S2))
    assert client.registered and client.servers() == [S1, S3]
    client.handle_timer(client.next_deadline() or 0.0)
    [(_, frame)] = sent(client)
    reply(client, 20.0, NodeHeartbeat.from_body(frame.body).req_id, servers=(S1, S2))
    assert client.servers() == [S1, S2]  # the next heartbeat's answer is learned as usual
