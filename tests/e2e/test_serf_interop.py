"""One gossip pool of real HashiCorp serf agents and ours, on loopback, in both directions.

Why: the strongest evidence that the cores speak memberlist 0.2.2 and serf for real is a pool
in which Debian's `serf` agent (0.8.2-dev, serf protocol 5) and our agents join each other,
see each other's tags, crashes, leaves and force-leaves, and pass user events and queries on.
Every test starts its own small pool: our agents (`python -m agent agent -dev`, this
worktree's code, through the Supervisor) on 127.0.0.101-109 with Nomad's ports, and serf
agents (`bench/serf_agents.py`) on 127.0.0.110-119 with ports of their own. Both sides run
memberlist's local timings (ours `-gossip-profile local`, serf `-profile=local`), so a crash
is `failed` within seconds. Every wait polls against a generous deadline; nothing sleeps for
evidence.

Without the serf binary these tests skip with the reason, except under CI (`CI=true`), where
a missing serf is a failure: `.ci/run` installs it, so its absence there is a broken setup.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agent.processes.supervisor import (
    SERF_PORT,
    AgentProcess,
    ChildSpec,
    NotReady,
    Supervisor,
    can_bind,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from serf_agents import SerfAgent, SerfCluster, SerfRPCError

__all__ = ["Mixed", "SerfAgent", "SerfCluster", "SerfRPCError"]  # for the keyring tests too

pytestmark = [pytest.mark.serf, pytest.mark.e2e]

SERF = shutil.which("serf")
OUR_IPS = tuple(f"127.0.0.{i}" for i in range(101, 110))
SERF_IPS = tuple(f"127.0.0.{i}" for i in range(110, 120))
DEADLINE = 60.0
"""Seconds any one wait may take: generous, the machine may be loaded."""
T = TypeVar("T")


def require_serf() -> str:
    """The serf binary's path; skip without it, or fail under CI."""
    if SERF is not None:
        return SERF
    reason = "needs the real serf binary: apt-get install -y serf (Debian's package)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but serf is missing; .ci/run should have installed it: {reason}")
    pytest.skip(reason)


class Mixed:
    """Our agents and serf agents of one test, and the waits over both."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.supervisor = Supervisor(base / "logs")
        self.clusters: list[SerfCluster] = []
        self._serf_ip = iter(SERF_IPS)
        config = base / "leave.json"
        config.write_text(json.dumps({"leave_on_interrupt": True}))
        self.leave_config = config

    # ---- starting ---------------------------------------------------------------------------

    def ours(self, node: str, ip: str, *extra: str) -> AgentProcess:
        """A dev agent (server + client) named `node` on `ip`, leaving on SIGINT; started and
        answering HTTP when this returns. Its serf name is `<node>.global`."""
        if not can_bind(ip):
            pytest.skip(f"loopback address {ip} is not available")
        argv = (
            "agent",
            "-dev",
            "-bind",
            ip,
            "-node",
            node,
            "-gossip-profile",
            "local",
            "-config",
            str(self.leave_config),
            *extra,
        )
        [agent] = self.supervisor.start(ChildSpec(node, ip, argv), ports_free_within=30.0)
        agent.wait_http(DEADLINE)
        return agent

    def serf(self, prefix: str, *extra: str) -> SerfAgent:
        """One serf agent named `<prefix>1` on its own loopback address, not joined."""
        require_serf()
        cluster = SerfCluster(
            1,
            host=next(self._serf_ip),
            profile="local",
            prefix=prefix,
            workdir=self.base / f"serf-{prefix}",
            extra_args=extra,
            start_timeout=DEADLINE,
        )
        self.clusters.append(cluster)
        cluster.start()
        return cluster.agents[0]

    def cluster_of(self, agent: SerfAgent) -> SerfCluster:
        for cluster in self.clusters:
            if agent in cluster.agents:
                return cluster
        raise KeyError(agent.name)

    def close(self) -> None:
        for cluster in self.clusters:
            cluster.stop()
        self.supervisor.close()

    def report(self) -> str:
        lines = [self.supervisor.report()]
        for cluster in self.clusters:
            for agent in cluster.agents:
                lines.append(f"---- serf {agent.name} ({agent.address}) ----\n{agent.log_tail(30)}")
        return "\n".join(lines)

    # ---- waiting ----------------------------------------------------------------------------

    def eventually(self, check: Callable[[], T], what: str, timeout: float = DEADLINE) -> T:
        return self.supervisor.eventually(
            check, what, timeout, retry_on=(OSError, AssertionError, KeyError, ValueError)
        )

    def wait_status(
        self,
        views: Sequence[AgentProcess | SerfAgent],
        member: str,
        status: str | None,
        timeout: float = DEADLINE,
    ) -> None:
        """Until every view shows `member` with `status` (None: not listed at all)."""

        def check() -> bool:
            return all(statuses(view).get(member) == status for view in views)

        def show() -> object:
            return {name_of(view): statuses(view) for view in views}

        try:
            self.eventually(check, f"{member} {status or 'gone'} everywhere", timeout)
        except NotReady as exc:
            raise AssertionError(f"{exc}\nlast: {show()}") from None


def name_of(view: AgentProcess | SerfAgent) -> str:
    return view.name


def our_members(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    """`/v1/agent/members` of one of ours, by member name."""
    answer = agent.get("/v1/agent/members")
    assert answer is not None and answer.ok, f"{agent.name}: {answer}"
    return {m["Name"]: m for m in json.loads(answer.body)["Members"]}


def serf_members(agent: SerfAgent) -> dict[str, dict[str, Any]]:
    return {m["Name"]: m for m in agent.rpc.members()}


def statuses(view: AgentProcess | SerfAgent) -> dict[str, str]:
    members = our_members(view) if isinstance(view, AgentProcess) else serf_members(view)
    return {name: m["Status"] for name, m in members.items()}


def self_stats(agent: AgentProcess) -> dict[str, dict[str, str]]:
    answer = agent.get("/v1/agent/self")
    assert answer is not None and answer.ok, f"{agent.name}: {answer}"
    stats: dict[str, dict[str, str]] = json.loads(answer.body)["stats"]
    return stats


def post(agent: AgentProcess, path: str, body: object | None = None) -> tuple[int, str]:
    """POST to one of ours; (status, body text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(agent.http + path, data=data, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30.0) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def serf_cli(agent: SerfAgent, *args: str, timeout: float = DEADLINE) -> str:
    """Run the `serf` command against `agent`'s RPC address; its standard output."""
    binary = require_serf()
    command, *rest = args
    out = subprocess.run(
        [binary, command, f"-rpc-addr={agent.host}:{agent.rpc_port}", *rest],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, f"serf {' '.join(args)}: {out.returncode}\n{out.stdout}{out.stderr}"
    return out.stdout


def serf_address(agent: AgentProcess) -> str:
    return f"{agent.address}:{SERF_PORT}"


@pytest.fixture
def mixed(tmp_path: Path) -> Iterator[Mixed]:
    require_serf()
    pool = Mixed(tmp_path)
    failed = True
    try:
        yield pool
        failed = False
    finally:
        if failed:
            print(pool.report())
        pool.close()


# ---- joining, both ways ----------------------------------------------------------------------


def test_a_serf_agent_joins_our_pool_and_each_lists_the_other_alive_with_its_tags(
    mixed: Mixed,
) -> None:
    ours = mixed.ours("ours1", OUR_IPS[0])
    theirs = mixed.serf("sa", "-tag", "role=web", "-tag", "zone=a")
    assert theirs.rpc.join([serf_address(ours)]) == 1
    mixed.wait_status([ours, theirs], "sa1", "alive")
    mixed.wait_status([ours, theirs], "ours1.global", "alive")

    seen_by_serf = serf_members(theirs)["ours1.global"]
    assert seen_by_serf["Tags"]["role"] == "nomad"
    assert {k: seen_by_serf["Tags"][k] for k in ("region", "dc", "port", "bootstrap")} == {
        "region": "global",
        "dc": "dc1",
        "port": "4647",
        "bootstrap": "1",
    }
    assert seen_by_serf["Port"] == SERF_PORT
    seen_by_us = our_members(ours)["sa1"]
    assert seen_by_us["Tags"] == {"role": "web", "zone": "a"}
    assert (seen_by_us["Addr"], seen_by_us["Port"]) == (theirs.host, theirs.port)
    assert seen_by_us["DelegateCur"] == 5  # serf protocol 5, which our checks accept


def test_our_agent_joins_a_serf_pool(mixed: Mixed) -> None:
    first, second = mixed.serf("sa"), mixed.serf("sb")
    assert second.rpc.join([first.address]) == 1
    mixed.wait_status([first, second], "sb1", "alive")
    ours = mixed.ours("ours1", OUR_IPS[0])
    status, body = post(ours, f"/v1/agent/join?address={first.address}")
    assert status == 200, body
    assert json.loads(body) == {"num_joined": 1, "error": ""}
    for member in ("sa1", "sb1", "ours1.global"):
        mixed.wait_status([ours, first, second], member, "alive")


# ---- failures and leaves, both ways -----------------------------------------------------------


def _pool_of_three(mixed: Mixed) -> tuple[AgentProcess, SerfAgent, SerfAgent]:
    """ours1 with two serf agents that joined it; all alive everywhere."""
    ours = mixed.ours("ours1", OUR_IPS[0])
    a, b = mixed.serf("sa"), mixed.serf("sb")
    for agent in (a, b):
        assert agent.rpc.join([serf_address(ours)]) == 1
    for member in ("ours1.global", "sa1", "sb1"):
        mixed.wait_status([ours, a, b], member, "alive")
    return ours, a, b


def test_a_killed_serf_agent_is_failed_in_our_view(mixed: Mixed) -> None:
    ours, a, b = _pool_of_three(mixed)
    a.kill()
    mixed.wait_status([ours, b], "sa1", "failed")


def test_our_killed_agent_is_failed_in_the_serf_agents_view(mixed: Mixed) -> None:
    ours, a, b = _pool_of_three(mixed)
    ours.kill()
    mixed.wait_status([a, b], "ours1.global", "failed")


def test_a_serf_agents_graceful_leave_is_left_in_our_view(mixed: Mixed) -> None:
    ours, a, b = _pool_of_three(mixed)
    with a.open_rpc() as rpc:
        rpc.leave()
    mixed.wait_status([ours, b], "sa1", "left")


def test_our_graceful_leave_is_left_in_the_serf_agents_view(mixed: Mixed) -> None:
    ours, a, b = _pool_of_three(mixed)
    assert ours.leave() == 0
    mixed.wait_status([a, b], "ours1.global", "left")


@pytest.mark.parametrize("prune", [False, True], ids=["left", "pruned"])
def test_our_force_leave_of_a_failed_serf_agent_reaches_the_serf_agents(
    mixed: Mixed, prune: bool
) -> None:
    ours, a, b = _pool_of_three(mixed)
    a.kill()
    mixed.wait_status([ours, b], "sa1", "failed")
    query = "&prune=true" if prune else ""
    status, body = post(ours, f"/v1/agent/force-leave?node=sa1{query}")
    assert status == 200, body
    mixed.wait_status([ours, b], "sa1", None if prune else "left")


@pytest.mark.parametrize("prune", [False, True], ids=["left", "pruned"])
def test_a_serf_force_leave_of_our_failed_agent_reaches_our_agents(
    mixed: Mixed, prune: bool
) -> None:
    ours, a, b = _pool_of_three(mixed)
    other = mixed.ours("ours2", OUR_IPS[1])
    status, body = post(other, f"/v1/agent/join?address={serf_address(ours)}")
    assert status == 200, body
    mixed.wait_status([ours, other, a, b], "ours2.global", "alive")
    other.kill()
    mixed.wait_status([ours, a, b], "ours2.global", "failed")
    with a.open_rpc() as rpc:
        rpc.force_leave("ours2.global", prune=prune)
    mixed.wait_status([ours, a, b], "ours2.global", None if prune else "left")


def test_a_serf_agent_restarting_under_the_same_name_is_alive_again(mixed: Mixed) -> None:
    ours, a, b = _pool_of_three(mixed)
    port = a.port
    a.kill()
    mixed.wait_status([ours, b], "sa1", "failed")
    restarted = mixed.cluster_of(a).restart("sa1")
    assert restarted.port == port
    assert restarted.rpc.join([serf_address(ours)]) == 1
    mixed.wait_status([ours, b, restarted], "sa1", "alive")
    assert our_members(ours)["sa1"]["Port"] == port


# ---- user events and queries ------------------------------------------------------------------


def test_a_serf_user_event_reaches_every_serf_agent_once_through_a_mixed_pool(
    mixed: Mixed,
) -> None:
    ours, a, b = _pool_of_three(mixed)
    before = int(self_stats(ours)["serf"]["event_time"])
    stream = b.rpc.stream("user")
    a.rpc.call("event", {"Name": "deploy", "Payload": b"v2", "Coalesce": False})
    records: list[dict[str, Any]] = []

    def received() -> bool:
        records.extend(b.rpc.stream_events(stream, timeout=0.5))
        return any(r.get("Name") == "deploy" for r in records)

    mixed.eventually(received, "the user event at sb1")
    # Our agent saw it too (its event clock witnessed the event's time) and, as serf does,
    # queued it for re-gossip; serf's ring at sb1 keeps it to one delivery however many
    # copies arrive (from sa1 and from us).
    mixed.eventually(
        lambda: int(self_stats(ours)["serf"]["event_time"]) > before, "our event clock to move"
    )
    a.rpc.call("event", {"Name": "marker", "Payload": b"", "Coalesce": False})
    mixed.eventually(received_marker(b, stream, records), "the marker event at sb1")
    assert [r["Name"] for r in records if r.get("Name") == "deploy"] == ["deploy"]
    deploy = next(r for r in records if r.get("Name") == "deploy")
    assert deploy["Payload"] in (b"v2", "v2")


def received_marker(
    agent: SerfAgent, stream: int, records: list[dict[str, Any]]
) -> Callable[[], bool]:
    """A later event from the same sender: once it is in, any duplicate of the first, which
    gossip would deliver no later than its successor's copies, would be in too."""

    def check() -> bool:
        records.extend(agent.rpc.stream_events(stream, timeout=0.5))
        return any(r.get("Name") == "marker" for r in records)

    return check


def test_a_serf_query_is_acked_by_our_agent_and_delivered_once_at_other_serf_agents(
    mixed: Mixed,
) -> None:
    _ours, a, _b = _pool_of_three(mixed)
    out = serf_cli(a, "query", "-format=json", "-timeout=5s", "probe", "hello")
    result = json.loads(out)
    assert set(result["Acks"]) == {"sa1", "sb1", "ours1.global"}
    assert "ours1.global" not in (result.get("Responses") or {})  # we have no query handler


def test_serf_reachability_gets_our_agents_ack_to_serf_ping(mixed: Mixed) -> None:
    _ours, a, _b = _pool_of_three(mixed)
    out = serf_cli(a, "reachability", "-verbose")
    assert "Ack from 'ours1.global'" in out
    assert "Successfully contacted all live nodes" in out


def test_our_agent_answers_serf_conflict_so_an_impostor_loses_its_vote(mixed: Mixed) -> None:
    """An impostor serf agent takes sa1's name. Our agent refuses its alive message (the name
    is live at another address) and answers the impostor's `_serf_conflict` query with the
    sa1 it knows: one answer, not matching, so the impostor is in the minority and quits.
    Without our answer it would count [0 / 0]."""
    ours, a, b = _pool_of_three(mixed)
    impostor = mixed.serf("sa")  # also named sa1, on another address
    assert impostor.name == "sa1" and impostor.address != a.address
    impostor.rpc.join([serf_address(ours)])  # our push-pull answers; its alive is refused
    mixed.eventually(
        lambda: "minority in name conflict resolution" in impostor.log_tail(200),
        "the impostor to lose its name conflict vote",
    )
    tail = impostor.log_tail(200)
    assert "[0 / 0]" not in tail, tail  # someone (we) answered
    mixed.wait_status([ours, b], "sa1", "alive")
    assert our_members(ours)["sa1"]["Port"] == a.port


# ---- what we do not act on --------------------------------------------------------------------


def test_relayed_query_responses_are_dropped_and_counted(mixed: Mixed) -> None:
    """With a relay factor, serf agents also send each ack and answer through other members
    (a relay message, serf type 9). We do not relay: we count them and carry on."""
    ours, a, b = _pool_of_three(mixed)
    before = int(self_stats(ours)["gossip"]["dropped_unsupported"])
    serf_cli(a, "query", "-format=json", "-timeout=3s", "-relay-factor=2", "probe", "x")
    mixed.eventually(
        lambda: int(self_stats(ours)["gossip"]["dropped_unsupported"]) > before,
        "a relay message counted as dropped",
    )
    for member in ("ours1.global", "sa1", "sb1"):
        mixed.wait_status([ours, a, b], member, "alive")
    assert self_stats(ours)["gossip"]["dropped_malformed"] == "0"
