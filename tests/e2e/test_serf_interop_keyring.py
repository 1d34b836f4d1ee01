"""Gossip encryption in mixed pools: real serf agents (`serf agent -encrypt`) and ours
(`-encrypt`), the same key, another key, none, and a key rotated across the pool.

Why: memberlist's framing (`gossip/security.py`) is only right if a real agent reads what we
seal and we read what it seals, datagrams and streams alike, and serf's key queries only
work pool-wide if both sides answer them. The harness is `test_serf_interop`'s.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re

from test_serf_interop import (
    OUR_IPS,
    Mixed,
    SerfAgent,
    SerfRPCError,
    mixed,
    our_members,
    post,
    self_stats,
    serf_address,
    serf_cli,
    serf_members,
)

from agent.processes.supervisor import AgentProcess

__all__ = ["mixed"]  # the fixture, shared with test_serf_interop

K1 = base64.b64encode(bytes(range(16))).decode()
K2 = base64.b64encode(bytes(range(100, 132))).decode()
K3 = base64.b64encode(bytes(range(200, 224))).decode()


def keyring(agent: AgentProcess) -> dict[str, object]:
    answer = agent.get("/v1/agent/keyring/list", timeout=30.0)
    assert answer is not None and answer.ok, answer
    body: dict[str, object] = json.loads(answer.body)
    return body


def serf_keys(view: SerfAgent) -> dict[str, str]:
    """`serf keys -list` as {key: "n/m"}."""
    out = serf_cli(view, "keys", "-list")
    return dict(re.findall(r"^(\S+=*)\s+\[(\d+/\d+)\]", out, re.MULTILINE))


def test_same_key_both_ways_and_stats_say_encrypted(mixed: Mixed) -> None:
    ours = mixed.ours("ours1", OUR_IPS[0], "-encrypt", K1)
    a = mixed.serf("sa", f"-encrypt={K1}")
    assert a.rpc.join([serf_address(ours)]) == 1
    b = mixed.serf("sb", f"-encrypt={K1}")
    other = mixed.ours("ours2", OUR_IPS[1], "-encrypt", K1)
    assert b.rpc.join([a.address]) == 1
    status, body = post(other, f"/v1/agent/join?address={b.address}")
    assert (status, json.loads(body)["num_joined"]) == (200, 1), body
    for member in ("ours1.global", "ours2.global", "sa1", "sb1"):
        mixed.wait_status([ours, other, a, b], member, "alive")
    for agent in (ours, other):
        stats = self_stats(agent)
        assert stats["serf"]["encrypted"] == "true"
        assert stats["gossip"]["dropped_undecryptable"] == "0"
    assert a.rpc.stats()["serf"]["encrypted"] == "true"


def test_a_serf_agent_with_another_key_or_none_is_isolated_and_counted(mixed: Mixed) -> None:
    ours = mixed.ours("ours1", OUR_IPS[0], "-encrypt", K1)
    good = mixed.serf("sa", f"-encrypt={K1}")
    assert good.rpc.join([serf_address(ours)]) == 1
    mixed.wait_status([ours, good], "sa1", "alive")

    wrong = mixed.serf("sw", f"-encrypt={K2}")
    plain = mixed.serf("sp")
    for stranger, error in (
        (wrong, "No installed keys could decrypt the message"),
        (plain, "Remote state is encrypted and encryption is not configured"),
    ):
        try:
            stranger.rpc.join([serf_address(ours)])
        except SerfRPCError as exc:
            assert error in str(exc), exc
        else:
            raise AssertionError(f"{stranger.name} joined an encrypted pool")
    # Their datagrams too: a join aimed at the serf agent's address goes the same way.
    for stranger in (wrong, plain):
        with contextlib.suppress(SerfRPCError):  # refused, as above
            stranger.rpc.join([good.address])

    def counted() -> bool:
        drops = self_stats(ours)["gossip"]
        return int(drops["dropped_undecryptable"]) > 0 and int(drops["dropped_unencrypted"]) > 0

    mixed.eventually(counted, "both strangers' messages counted as dropped")
    assert set(our_members(ours)) == {"ours1.global", "sa1"}
    assert set(serf_members(good)) == {"ours1.global", "sa1"}
    assert set(serf_members(wrong)) == {"sw1"}
    assert set(serf_members(plain)) == {"sp1"}


def test_our_agent_without_the_key_cannot_join_an_encrypted_serf_pool(mixed: Mixed) -> None:
    a = mixed.serf("sa", f"-encrypt={K1}")
    plain = mixed.ours("ours1", OUR_IPS[0])
    wrong = mixed.ours("ours2", OUR_IPS[1], "-encrypt", K2)
    for agent, error in (
        (plain, "Remote state is encrypted and encryption is not configured"),
        (wrong, "No installed keys could decrypt the message"),
    ):
        status, body = post(agent, f"/v1/agent/join?address={a.address}")
        answer = json.loads(body)
        assert (status, answer["num_joined"]) == (200, 0), body
        assert error in answer["error"], body
        assert set(our_members(agent)) == {f"{agent.name}.global"}
    assert set(serf_members(a)) == {"sa1"}


def test_a_key_rotated_through_our_api_reaches_every_serf_agent(mixed: Mixed) -> None:
    ours = mixed.ours("ours1", OUR_IPS[0], "-encrypt", K1)
    a, b = mixed.serf("sa", f"-encrypt={K1}"), mixed.serf("sb", f"-encrypt={K1}")
    for agent in (a, b):
        assert agent.rpc.join([serf_address(ours)]) == 1
    for member in ("ours1.global", "sa1", "sb1"):
        mixed.wait_status([ours, a, b], member, "alive")
    assert keyring(ours) == {"Messages": {}, "Keys": {K1: 3}, "NumNodes": 3}

    status, body = post(ours, "/v1/agent/keyring/install", {"Key": K2})
    assert status == 200, body
    assert keyring(ours)["Keys"] == {K1: 3, K2: 3}
    status, body = post(ours, "/v1/agent/keyring/use", {"Key": K2})
    assert status == 200, body
    status, body = post(ours, "/v1/agent/keyring/remove", {"Key": K1})
    assert status == 200, body
    assert json.loads(body) == {"Messages": {}, "Keys": {}, "NumNodes": 3}
    assert keyring(ours)["Keys"] == {K2: 3}
    assert serf_keys(a) == {K2: "3/3"}

    # The pool now speaks K2 only: a newcomer with K2 gets in, one with K1 does not.
    newcomer = mixed.serf("sn", f"-encrypt={K2}")
    assert newcomer.rpc.join([serf_address(ours)]) == 1
    mixed.wait_status([ours, a, b, newcomer], "sn1", "alive")
    for member in ("ours1.global", "sa1", "sb1"):
        mixed.wait_status([ours, a, b], member, "alive")


def test_a_key_rotated_by_serf_keys_reaches_our_agents(mixed: Mixed) -> None:
    ours = mixed.ours("ours1", OUR_IPS[0], "-encrypt", K1)
    other = mixed.ours("ours2", OUR_IPS[1], "-encrypt", K1)
    a = mixed.serf("sa", f"-encrypt={K1}")
    assert a.rpc.join([serf_address(ours)]) == 1
    status, body = post(other, f"/v1/agent/join?address={a.address}")
    assert status == 200, body
    for member in ("ours1.global", "ours2.global", "sa1"):
        mixed.wait_status([ours, other, a], member, "alive")

    serf_cli(a, "keys", "-install", K3)
    assert keyring(other)["Keys"] == {K1: 3, K3: 3}
    serf_cli(a, "keys", "-use", K3)
    serf_cli(a, "keys", "-remove", K1)
    assert keyring(ours) == {"Messages": {}, "Keys": {K3: 3}, "NumNodes": 3}
    for member in ("ours1.global", "ours2.global", "sa1"):
        mixed.wait_status([ours, other, a], member, "alive")


def test_keyring_mistakes_are_400s_on_a_real_agent_and_a_plain_agent_reports_failure(
    mixed: Mixed,
) -> None:
    ours = mixed.ours("ours1", OUR_IPS[0], "-encrypt", K1)
    assert post(ours, "/v1/agent/keyring/install", {"Key": "not base64!"}) == (
        400,
        "illegal base64 data at input byte 3",
    )
    assert post(ours, "/v1/agent/keyring/install", {"Key": "YWJj"}) == (
        400,
        "key size must be 16, 24 or 32 bytes",
    )
    assert post(ours, "/v1/agent/keyring/remove", {"Key": K1}) == (
        400,
        "Removing the primary key is not allowed",
    )
    plain = mixed.ours("ours2", OUR_IPS[1])
    assert post(plain, "/v1/agent/keyring/list") == (500, "1/1 nodes reported failure")
