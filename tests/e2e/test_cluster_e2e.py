"""docker-compose.yml's 3 servers + 2 clients as real processes on 127.0.0.11-15: gossip
convergence, the raft election, crashes, force-leave, quorum loss, restarts from the data dir,
client fail-over, and python-nomad against it.

Each agent is its own `python -m agent` process with the compose command's flags
(`process_argv` of `agent.processes.topology`: `-gossip-profile lan`, `-retry-join` of the three
servers every 2 s, clients with `-servers`), run by `agent.processes.supervisor`; see
`cluster_harness`. The read-only checks share one cluster (TestSteadyCluster); every test that
kills or restarts something gets a fresh one. Every wait polls against a generous deadline
(never a fixed sleep); every agent's log is printed at teardown (pytest shows it when a test
fails); every process is SIGKILLed at the end.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import nomad
import pytest
from cluster_harness import MISSING_IPS, SERVER_RPC, Cluster, strip_joins
from nomad.api.exceptions import BadRequestNomadException, BaseNomadException

from agent.processes.topology import CLIENTS, LOOPBACK_IPS, SERVERS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        bool(MISSING_IPS),
        reason=f"cannot bind {', '.join(MISSING_IPS)} (loopback aliases 127.0.0.11-15 needed)",
    ),
]

CONVERGE = 60.0
"""Start-up: three servers alive everywhere, a leader, clients registered."""
DETECT = 60.0
"""A crash seen as `failed` (the LAN profile takes roughly 5-15 s)."""
SETTLE = 30.0
"""Things that follow from a single message or an election: left, a new leader, health."""
FAILOVER_WINDOW = 30.0
HEARTBEAT_FRESH = 25.0
"""A client's last heartbeat is at most a TTL (10-20 s) plus one fail-over old."""
HEARTBEAT_GRACE = 10.0
"""Nomad's heartbeat_grace: the leader marks down a node whose last heartbeat is older than
its TTL plus this. Losing a server must never get a client there."""

MEMBER = {name: f"{name}.global" for name in SERVERS}
ALL_ALIVE = {MEMBER[name]: "alive" for name in SERVERS}
NO_LEADER = '{"server":{"ok":false,"message":"no leader"}}'


# ---- helpers ------------------------------------------------------------------------------

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|µs|us|ns|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def go_seconds(text: str) -> float:
    """Go's `time.Duration.String()` back to seconds: `0s`, `1.5s`, `2m3.1s`, `999.5ms`."""
    if text == "0":
        return 0.0
    parts = _GO_DURATION.findall(text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a Go duration: {text!r}"
    return sum(float(n) * _UNIT[u] for n, u in parts)


def raft_servers(configuration: str) -> list[str]:
    """The IDs in stats.raft.latest_configuration (`[{Suffrage:Voter ID:a Address:a} ...]`)."""
    return re.findall(r"ID:(\S+)", configuration)


def wait_converged(cluster: Cluster, *, clients_registered: bool = False) -> str:
    """The three servers alive on every server, one leader named by all, everyone healthy;
    with `clients_registered`, both clients also hold a heartbeat TTL. The leader's name."""
    servers = [a.name for a in cluster.servers]
    cluster.wait_members(servers, ALL_ALIVE, CONVERGE)
    addr = cluster.wait_leader(servers, CONVERGE)
    cluster.wait_healthy(cluster.agents, CONVERGE)
    if clients_registered:
        cluster.eventually(
            lambda: all(cluster.stats(c)["client"]["heartbeat_ttl"] != "0s" for c in CLIENTS),
            "both clients registered (heartbeat_ttl set)",
            CONVERGE,
            show=lambda: {c: cluster.stats(c)["client"] for c in CLIENTS},
        )
    return name_of(addr)


def name_of(rpc_addr: str) -> str:
    return next(name for name, ip in LOOPBACK_IPS.items() if f"{ip}:4647" == rpc_addr)


def _fresh_cluster(base: Path) -> Cluster:
    cluster = Cluster(base)
    cluster.start()
    if cluster.waited_for_addresses > 1.0:
        print(f"(waited {cluster.waited_for_addresses:.1f} s for 127.0.0.11-15 to be free)")
    return cluster


# ---- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-nomad and requests read NOMAD_* and proxy variables: keep them out."""
    for key in list(os.environ):
        if key.startswith("NOMAD_") or key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture(scope="class")
def _shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = _fresh_cluster(tmp_path_factory.mktemp("shared-cluster"))
    try:
        wait_converged(cluster, clients_registered=True)
    except BaseException:
        cluster.close()
        print(cluster.report())
        raise
    yield cluster
    cluster.close()


@pytest.fixture
def steady(_shared: Cluster) -> Iterator[Cluster]:
    """The class's converged cluster, for tests that change nothing (or put it back)."""
    yield _shared
    print(_shared.report())
    _shared.check_running()  # no agent died under a read-only test


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh cluster of five running agents (not waited for), for destructive tests."""
    started = _fresh_cluster(tmp_path)
    try:
        yield started
    finally:
        started.close()
        print(f"(test took {time.monotonic() - started.started:.1f} s of cluster time)")
        print(started.report())


# ---- 1, 2, 8: one steady cluster ----------------------------------------------------------


class TestSteadyCluster:
    """Checks that change nothing (or put it back): one converged cluster for the class,
    stopped before the destructive tests start theirs (they use the same addresses)."""

    def test_three_servers_converge(self, steady: Cluster) -> None:
        for server in steady.servers:
            members = steady.json(server.name, "/v1/agent/members")
            assert members["ServerName"] == server.name
            by_name = {m["Name"]: m for m in members["Members"]}
            assert sorted(by_name) == sorted(ALL_ALIVE), f"{server.name}: {sorted(by_name)}"
            for peer in steady.servers:
                row = by_name[MEMBER[peer.name]]
                assert (row["Status"], row["Addr"], row["Port"]) == ("alive", peer.address, 4648)
                assert row["Tags"]["role"] == "nomad"
                assert row["Tags"]["port"] == "4647"
                assert row["Tags"]["expect"] == "3"
        for client in steady.clients:  # not in the gossip pool: forwarded to a server
            members = steady.json(client.name, "/v1/agent/members")
            assert members["ServerName"] in SERVERS
            assert {m["Name"]: m["Status"] for m in members["Members"]} == ALL_ALIVE

    def test_one_leader_named_by_every_server(self, steady: Cluster) -> None:
        view = steady.leader_view(SERVERS)
        addrs = {addr for addr, _, _ in view.values()}
        assert len(addrs) == 1 and addrs <= set(SERVER_RPC), view
        leaders = [name for name, (_, flag, _) in view.items() if flag == "true"]
        assert len(leaders) == 1, view
        assert view[leaders[0]][0] == steady[leaders[0]].rpc
        assert len({term for _, _, term in view.values()}) == 1, view
        for name in SERVERS:
            raft = steady.stats(name)["raft"]
            assert raft["state"] == ("Leader" if name == leaders[0] else "Follower")
            assert sorted(raft_servers(raft["latest_configuration"])) == SERVER_RPC
            assert raft["num_peers"] == "2"
        for name in steady.agents:
            status, body = steady.health(name)
            assert status == 200, (name, body)
        for client in steady.clients:
            stats = steady.stats(client.name)["client"]
            assert stats["known_servers"] == ",".join(SERVER_RPC)
            assert stats["heartbeat_ttl"] != "0s"
            assert go_seconds(stats["last_heartbeat"]) < HEARTBEAT_FRESH
            assert steady.health(client.name, "?type=client")[0] == 200

    def test_python_nomad_against_a_server_and_a_client(self, steady: Cluster) -> None:
        server = nomad.Nomad(host=LOOPBACK_IPS["server2"], port=4646, timeout=5)
        client = nomad.Nomad(host=LOOPBACK_IPS["client1"], port=4646, timeout=5)

        members = server.agent.get_members()
        assert members["ServerName"] == "server2"
        assert {m["Name"]: m["Status"] for m in members["Members"]} == ALL_ALIVE
        forwarded = client.agent.get_members()
        assert forwarded["ServerName"] in SERVERS
        assert {m["Name"]: m["Status"] for m in forwarded["Members"]} == ALL_ALIVE

        me = server.agent.get_agent()  # python-nomad's name for /v1/agent/self
        assert me["member"]["Name"] == "server2.global"
        assert me["stats"]["nomad"]["leader_addr"] in SERVER_RPC
        me = client.agent.get_agent()
        assert me["config"]["NodeName"] == "client1"
        assert me["stats"]["client"]["known_servers"] == ",".join(SERVER_RPC)

        assert client.agent.get_servers() == SERVER_RPC
        with pytest.raises(BaseNomadException) as server_only:
            server.agent.get_servers()
        assert type(server_only.value) is BaseNomadException  # python-nomad has no 501 subclass
        assert (server_only.value.nomad_resp.status_code, server_only.value.nomad_resp.text) == (
            501,
            "Invalid method",
        )
        with pytest.raises(BaseNomadException) as client_only:
            client.agent.join_agent([LOOPBACK_IPS["server1"]])
        assert client_only.value.nomad_resp.status_code == 501

        # Default port, duplicates and order do not matter; the list comes back sorted.
        s1, s2, s3 = (LOOPBACK_IPS[name] for name in SERVERS)
        try:
            assert client.agent.update_servers([s3, f"{s1}:4647", s2, s1]) == 200
            assert client.agent.get_servers() == SERVER_RPC
            with pytest.raises(BadRequestNomadException) as bad:
                client.agent.update_servers(["127.0.0.1:notaport"])
            assert bad.value.nomad_resp.status_code == 400
            assert client.agent.get_servers() == SERVER_RPC  # a refused update changes nothing
        finally:
            client.agent.update_servers(SERVER_RPC)
        assert steady.health("client1")[0] == 200


# ---- 3-7: a fresh cluster each --------------------------------------------------------------


def test_crashed_follower_fails_then_force_leave_makes_it_left(cluster: Cluster) -> None:
    leader = wait_converged(cluster)
    victim = next(name for name in SERVERS if name != leader)
    survivors = [name for name in SERVERS if name != victim]
    cluster[victim].kill()

    cluster.wait_members(survivors, {MEMBER[victim]: "failed"}, DETECT)
    for name in survivors:  # a failed server is still a raft voter (Nomad removes only `left`)
        assert cluster[victim].rpc in raft_servers(
            cluster.stats(name)["raft"]["latest_configuration"]
        )

    answer = cluster.put(survivors[0], f"/v1/agent/force-leave?node={MEMBER[victim]}")
    assert (answer.status_code, answer.text) == (200, "")
    cluster.wait_members(survivors, {MEMBER[victim]: "left"}, SETTLE)

    expected = sorted(cluster[name].rpc for name in survivors)

    def raft_dropped_it() -> bool:
        for name in survivors:
            raft = cluster.stats(name)["raft"]
            if sorted(raft_servers(raft["latest_configuration"])) != expected:
                return False
            if raft["num_peers"] != "1":
                return False
        return True

    cluster.eventually(
        raft_dropped_it,
        f"the raft configuration on {survivors} to drop {victim}",
        SETTLE,
        show=lambda: {n: cluster.stats(n)["raft"] for n in survivors},
    )
    assert cluster.wait_leader(survivors, SETTLE) == cluster[leader].rpc
    cluster.wait_healthy(survivors, SETTLE)


def test_crashed_leader_is_replaced_in_a_higher_term(cluster: Cluster) -> None:
    leader = wait_converged(cluster)
    old_term = int(cluster.stats(leader)["raft"]["term"])
    survivors = [name for name in SERVERS if name != leader]
    cluster[leader].kill()

    new_addr = cluster.wait_leader(survivors, DETECT, min_term=old_term)
    assert name_of(new_addr) in survivors
    view = cluster.leader_view(survivors)
    assert all(int(term) > old_term for _, _, term in view.values()), (old_term, view)
    cluster.wait_healthy(survivors, SETTLE)
    cluster.wait_members(survivors, {MEMBER[leader]: "failed"}, DETECT)
    assert cluster.wait_leader(survivors, SETTLE) == new_addr  # still the same one


def test_quorum_loss_means_no_leader_until_a_server_returns(cluster: Cluster) -> None:
    leader = wait_converged(cluster)
    # The leader survives: it has to notice it lost its quorum and step down.
    gone = [name for name in SERVERS if name != leader]
    for name in gone:
        cluster[name].kill()

    def no_leader() -> bool:
        return cluster.health(leader, "?type=server") == (500, NO_LEADER)

    cluster.eventually(
        no_leader,
        f"{leader} to report no leader",
        DETECT,
        show=lambda: [cluster.health(leader, "?type=server"), cluster.leader_view([leader])],
    )
    stats = cluster.stats(leader)
    assert stats["nomad"]["leader"] == "false"
    assert stats["nomad"]["leader_addr"] == ""
    assert stats["raft"]["state"] != "Leader"
    assert cluster.health(leader)[0] == 500  # no type: the server half is checked too

    back = gone[0]
    cluster[back].start()  # the same argv (with -retry-join) and the same data dir
    pair = [leader, back]
    cluster.wait_leader(pair, CONVERGE)
    cluster.wait_healthy(pair, SETTLE)
    assert cluster.health(leader, "?type=server") == (200, '{"server":{"ok":true,"message":"ok"}}')


@pytest.mark.parametrize(
    ("sig", "role"),
    [(signal.SIGKILL, "leader"), (signal.SIGTERM, "follower")],
    ids=["kill-9-the-leader", "sigterm-a-follower"],
)
def test_restart_from_the_data_dir_rejoins_without_join_flags(
    cluster: Cluster, sig: signal.Signals, role: str
) -> None:
    leader = wait_converged(cluster)
    victim = leader if role == "leader" else next(n for n in SERVERS if n != leader)
    others = [name for name in SERVERS if name != victim]
    # SIGTERM: leave_on_terminate is false, so the others see a crash, as with kill -9;
    # kill -9 also shows the serf snapshot was on disk before the crash, not written at exit.
    assert cluster[victim].stop(sig) == (0 if sig == signal.SIGTERM else -sig)
    cluster.wait_members(others, {MEMBER[victim]: "failed"}, DETECT)
    if role == "leader":
        cluster.wait_leader(others, SETTLE)

    argv = strip_joins(cluster[victim].argv)
    assert not any("join" in token for token in argv), argv
    cluster[victim].start(argv)

    cluster.wait_members(SERVERS, ALL_ALIVE, CONVERGE)
    addr = cluster.wait_leader(SERVERS, CONVERGE)
    assert cluster.stats(victim)["nomad"]["leader_addr"] == addr
    cluster.wait_healthy([victim], SETTLE)
    log = cluster[victim].log_text().split("===== start:")[-1]
    assert "serf: re-joined to previously known node(s)" in log, "no snapshot re-join"


def current_server(cluster: Cluster, client: str) -> str:
    """The server `client` talks to now: the client forwards /v1/agent/members to the head of
    its server order, the same server its heartbeats go to, and the reply names it."""
    return cluster.json(client, "/v1/agent/members")["ServerName"]


def test_clients_fail_over_when_a_server_crashes(cluster: Cluster) -> None:
    wait_converged(cluster, clients_registered=True)
    for name in CLIENTS:
        assert cluster.stats(name)["client"]["known_servers"] == ",".join(SERVER_RPC)
    victim = current_server(cluster, "client1")  # client1 loses its server for sure
    live = [name for name in SERVERS if name != victim]
    cluster[victim].kill()

    crashed = time.monotonic()
    oldest = dict.fromkeys(CLIENTS, 0.0)
    since_crash: dict[str, float] = {}
    """client -> seconds after the crash of its first heartbeat seen after it"""

    def fine() -> None:
        for name in CLIENTS:
            status, body = cluster.health(name)
            assert status == 200, f"{name} health {status}: {body}"
            stats = cluster.stats(name)["client"]
            age, ttl = go_seconds(stats["last_heartbeat"]), go_seconds(stats["heartbeat_ttl"])
            oldest[name] = max(oldest[name], age)
            assert age < ttl + HEARTBEAT_GRACE, f"{name}: last heartbeat {age:.1f} s ago ({stats})"
            elapsed = time.monotonic() - crashed
            if age < elapsed - 0.5:  # a heartbeat answered after the crash
                since_crash.setdefault(name, elapsed - age)

    polls = cluster.always(fine, FAILOVER_WINDOW)
    print(f"{victim} crashed; oldest heartbeats {oldest}; first ones after it {since_crash}")
    assert polls > 10  # the window was watched throughout, not sampled once or twice
    assert sorted(since_crash) == sorted(CLIENTS), f"no heartbeat after the crash: {since_crash}"
    # Within the window each client heartbeated at least once (TTL < 20 s), client1 found
    # its server dead and moved on: members is forwarded to a live server.
    for name in CLIENTS:
        response = cluster.get(name, "/v1/agent/members")
        assert response.status_code == 200, (name, response.status_code, response.text)
        assert response.json()["ServerName"] in live
        stats = cluster.stats(name)["client"]
        ttl = go_seconds(stats["heartbeat_ttl"])
        assert ttl > 0
        assert go_seconds(stats["last_heartbeat"]) < ttl + HEARTBEAT_GRACE


def test_client_members_right_after_its_server_crashes(cluster: Cluster) -> None:
    """Nomad's Client.RPC tries the next server within the same call."""
    wait_converged(cluster, clients_registered=True)
    victim = current_server(cluster, "client1")
    cluster[victim].kill()
    response = cluster.get("client1", "/v1/agent/members")
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.json()["ServerName"] != victim
