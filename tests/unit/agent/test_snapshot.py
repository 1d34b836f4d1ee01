"""SerfSnapshot's JSON and its validation, take_snapshot against real cores, rejoin_targets
(serf's leave / rejoin_after_leave rule) and SnapshotKeeper's when-to-write decisions."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest

from agent.state.data_dir import DataDir
from agent.state.serf_snapshot import (
    RETRY_INTERVAL,
    SAVE_INTERVAL,
    SerfSnapshot,
    SnapshotKeeper,
    rejoin_targets,
    take_snapshot,
)
from gossip import Address, SerfConfig, SerfCore
from gossip.codec import encode, encode_serf, encode_tags
from gossip.messages import Alive, Dead, JoinIntent, LeaveIntent, UserMsg
from gossip.types import Versions, ip_to_bytes

PORT = 4648
OUTSIDER = Address("10.9.9.9", PORT)
SNAP = SerfSnapshot(
    alive=(("b", "10.0.0.2:4648"), ("c", "[fd00::3]:4648")),
    clock=41,
    event_clock=3,
    query_clock=2,
    incarnation=7,
)
GOLDEN = """{
 "version": 1,
 "alive": [
  {
   "name": "b",
   "addr": "10.0.0.2:4648"
  },
  {
   "name": "c",
   "addr": "[fd00::3]:4648"
  }
 ],
 "clock": 41,
 "event_clock": 3,
 "query_clock": 2,
 "incarnation": 7,
 "left": false
}
"""


def core(name: str = "a", ip: str = "10.0.0.1", **restore: Any) -> SerfCore:
    config = SerfConfig.profile("lan", push_pull_interval=0.0, gossip_nodes=0)
    return SerfCore(
        config,
        name=name,
        addr=Address(ip, PORT),
        tags={},
        rng=random.Random(1),
        now=0.0,
        **restore,
    )


def hear(c: SerfCore, now: float, *msgs: Alive | Dead | UserMsg) -> None:
    for msg in msgs:
        c.handle_datagram(now, OUTSIDER, encode(msg))


def alive(name: str, ip: str, inc: int = 1) -> Alive:
    return Alive(inc, name, ip_to_bytes(ip), PORT, encode_tags({}), Versions().to_vsn())


def intent(msg: JoinIntent | LeaveIntent) -> UserMsg:
    return UserMsg(encode_serf(msg))


def statuses(c: SerfCore) -> dict[str, str]:
    return {m.name: str(m.status) for m in c.members()}


def mixed_core() -> SerfCore:
    """a knows b alive, c failed, d left, e leaving, f at an IPv6 address."""
    a = core()
    hear(a, 1.0, alive("b", "10.0.0.2"), alive("c", "10.0.0.3"), alive("d", "10.0.0.4"))
    hear(a, 1.0, alive("e", "10.0.0.5"), alive("f", "fd00::6"))
    hear(a, 2.0, Dead(1, "c", "x"))
    hear(a, 2.0, intent(LeaveIntent(5, "d")), Dead(1, "d", "d"))
    hear(a, 2.0, intent(LeaveIntent(6, "e")))
    assert statuses(a) == {
        "a": "alive",
        "b": "alive",
        "c": "failed",
        "d": "left",
        "e": "leaving",
        "f": "alive",
    }
    return a


# ---- JSON ---------------------------------------------------------------------------------------


def test_json_round_trip_and_golden_text() -> None:
    assert SNAP.to_json() == GOLDEN
    assert SerfSnapshot.from_json(GOLDEN) == SNAP
    assert SerfSnapshot.from_json(GOLDEN.encode()) == SNAP
    assert SNAP.clocks == (41, 3, 2)


def test_from_json_sorts_members_by_name() -> None:
    data = json.loads(GOLDEN)
    data["alive"].reverse()
    assert SerfSnapshot.from_json(json.dumps(data)) == SNAP


def edit(**changes: Any) -> str:
    data = json.loads(GOLDEN)
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("{", "not JSON: Expecting property name", id="torn"),
        pytest.param(b"\xff", "not UTF-8 text: invalid start byte at byte 0", id="binary"),
        pytest.param("[]", "want a JSON object, got list", id="list"),
        pytest.param(edit(version=2), "unsupported version 2", id="version"),
        pytest.param(edit(version=True), "unsupported version True", id="version-bool"),
        pytest.param(edit(clock=KeyError), "missing keys ['clock'], unknown keys []", id="missing"),
        pytest.param(edit(extra=1), "missing keys [], unknown keys ['extra']", id="unknown"),
        pytest.param(
            edit(clock=-1), "clock must be an integer in [0, 18446744073709551615]", id="neg"
        ),
        pytest.param(edit(query_clock=1 << 64), "query_clock must be an integer", id="u64"),
        pytest.param(edit(event_clock=1.5), "event_clock must be an integer", id="float"),
        pytest.param(edit(clock="41"), "clock must be an integer", id="string"),
        pytest.param(
            edit(incarnation=1 << 32), "incarnation must be an integer in [0, 4294967295]", id="u32"
        ),
        pytest.param(edit(incarnation=True), "incarnation must be an integer", id="bool"),
        pytest.param(edit(left="yes"), "left must be true or false, got 'yes'", id="left-str"),
        pytest.param(edit(left=0), "left must be true or false, got 0", id="left-int"),
        pytest.param(edit(alive={}), "alive must be a list", id="alive-object"),
        pytest.param(edit(alive=[["b", "10.0.0.2:4648"]]), 'alive[0] must be {"name"', id="pair"),
        pytest.param(edit(alive=[{"name": "b"}]), 'alive[0] must be {"name"', id="no-addr"),
        pytest.param(
            edit(alive=[{"name": 1, "addr": "x"}]),
            "alive[0]: name and addr must be strings",
            id="int-name",
        ),
        pytest.param(
            edit(alive=[{"name": "", "addr": "10.0.0.2:1"}]),
            "alive[0] has an empty name",
            id="empty-name",
        ),
        pytest.param(
            edit(alive=[{"name": "b", "addr": "10.0.0.2:1"}, {"name": "b", "addr": "10.0.0.3:1"}]),
            "alive lists 'b' twice",
            id="duplicate",
        ),
    ],
)
def test_from_json_is_strict(raw: str | bytes, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        SerfSnapshot.from_json(raw)
    assert str(caught.value).startswith(reason)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.0.0.2", "is not ip:port"),
        ("10.0.0.2:", "is not ip:port"),
        ("10.0.0.2:0", "is not ip:port"),
        ("10.0.0.2:65536", "is not ip:port"),
        ("10.0.0.2:+1", "is not ip:port"),
        ("node1:4648", "does not hold an IP literal"),
        ("fd00::3:4648", "is not in Go's form ([fd00::3]:4648)"),
        ("[10.0.0.2]:4648", "is not in Go's form (10.0.0.2:4648)"),
        ("[fd00::3]4648", "is not ip:port"),
    ],
)
def test_addresses_must_be_go_ip_port(address: str, why: str) -> None:
    with pytest.raises(ValueError, match=r"^alive\[0\] \(b\): address ") as caught:
        SerfSnapshot(alive=(("b", address),))
    assert str(caught.value).endswith(why)


# ---- take_snapshot ------------------------------------------------------------------------------


def test_take_snapshot_lists_alive_and_leaving_members_but_not_ourselves() -> None:
    a = mixed_core()
    snap = take_snapshot(a, left=False)
    assert snap.alive == (("b", "10.0.0.2:4648"), ("e", "10.0.0.5:4648"), ("f", "[fd00::6]:4648"))
    assert snap.left is False
    assert take_snapshot(a, left=True).left is True


def test_take_snapshot_stores_clocks_as_last_seen_and_the_incarnation() -> None:
    a = core()
    hear(a, 1.0, intent(JoinIntent(40, "zz")))
    a.set_tags(1.0, {"x": "1"})
    assert a.clock_times == (41, 1, 1)
    snap = take_snapshot(a, left=False)
    assert snap.clocks == (40, 0, 0)  # serf: lastSeen = Time() - 1
    assert snap.incarnation == 2 == a.incarnation


def test_take_snapshot_carries_over_previous_members_this_run_does_not_know() -> None:
    a = mixed_core()
    previous = SerfSnapshot(
        alive=(
            ("b", "10.0.0.99:4648"),  # known now at another address: the current one wins
            ("c", "10.0.0.3:4648"),  # failed this run: dropped
            ("old", "10.0.0.50:4648"),  # not seen yet this run: kept
            ("a", "10.0.0.1:4648"),  # ourselves: never
        )
    )
    snap = take_snapshot(a, left=False, previous=previous)
    assert [name for name, _ in snap.alive] == ["b", "e", "f", "old"]
    assert dict(snap.alive)["b"] == "10.0.0.2:4648"


def test_a_restored_core_resumes_where_the_snapshot_left_off(tmp_path: Path) -> None:
    """The whole loop: core -> snapshot -> data dir -> restart -> clocks >= old, inc > old."""
    old = mixed_core()
    hear(old, 3.0, intent(JoinIntent(70, "zz")))
    old.set_tags(3.0, {"v": "2"})
    dd = DataDir(tmp_path)
    dd.save_serf_snapshot(take_snapshot(old, left=False))
    saved = DataDir(tmp_path).load_serf_snapshot()
    assert saved is not None
    new = core(restored_clocks=saved.clocks, restored_incarnation=saved.incarnation)
    assert new.clock_times == old.clock_times
    assert new.incarnation == old.incarnation + 1
    assert rejoin_targets(saved, rejoin_after_leave=False) == [
        "10.0.0.2:4648",
        "10.0.0.5:4648",
        "[fd00::6]:4648",
    ]


# ---- rejoin_targets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "rejoin_after_leave", "targets"),
    [
        pytest.param(False, False, ["10.0.0.2:4648", "[fd00::3]:4648"], id="crashed"),
        pytest.param(False, True, ["10.0.0.2:4648", "[fd00::3]:4648"], id="crashed-rejoin"),
        pytest.param(True, False, [], id="left-stays-out"),
        pytest.param(True, True, ["10.0.0.2:4648", "[fd00::3]:4648"], id="left-rejoin"),
    ],
)
def test_rejoin_targets_follow_serfs_leave_rule(
    left: bool, rejoin_after_leave: bool, targets: list[str]
) -> None:
    snap = SerfSnapshot(alive=SNAP.alive, left=left)
    assert rejoin_targets(snap, rejoin_after_leave) == targets


def test_rejoin_targets_shuffle_with_the_rng_and_drop_duplicate_addresses() -> None:
    alive = (*((f"n{i}", f"10.0.0.{i}:4648") for i in range(1, 9)), ("z", "10.0.0.1:4648"))
    snap = SerfSnapshot(alive=alive)
    plain = rejoin_targets(snap, False)
    assert plain == [f"10.0.0.{i}:4648" for i in range(1, 9)]
    shuffled = rejoin_targets(snap, False, rng=random.Random(3))
    assert shuffled == rejoin_targets(snap, False, rng=random.Random(3))
    assert sorted(shuffled) == sorted(plain) and shuffled != plain


# ---- SnapshotKeeper -----------------------------------------------------------------------------


class Disk:
    """A save target that records writes and can be made to fail."""

    def __init__(self) -> None:
        self.writes: list[SerfSnapshot] = []
        self.failing = False

    def save(self, snapshot: SerfSnapshot) -> None:
        if self.failing:
            raise OSError(28, "No space left on device")
        self.writes.append(snapshot)


def test_keeper_writes_once_then_only_on_change() -> None:
    a, disk = core(), Disk()
    keeper = SnapshotKeeper(disk.save)
    assert keeper.maybe_save(0.0, a) is True
    assert keeper.saved == disk.writes[-1] == take_snapshot(a, left=False)
    for t in (1.0, 2.0, 3.0):
        assert keeper.maybe_save(t, a) is False
    hear(a, 4.0, alive("b", "10.0.0.2"))
    assert keeper.maybe_save(4.0, a) is True
    assert disk.writes[-1].alive == (("b", "10.0.0.2:4648"),)
    assert len(disk.writes) == 2


def test_keeper_skips_changes_that_do_not_touch_the_snapshot() -> None:
    """A tag update bumps members_version but the saved facts stay the same."""
    a, disk = core(), Disk()
    hear(a, 1.0, alive("b", "10.0.0.2"))
    keeper = SnapshotKeeper(disk.save)
    keeper.maybe_save(1.0, a)
    tagged = Alive(2, "b", ip_to_bytes("10.0.0.2"), PORT, encode_tags({"x": "y"}), b"")
    version = a.members_version
    hear(a, 2.0, tagged)
    assert a.members_version != version
    assert keeper.maybe_save(2.0, a) is False
    assert len(disk.writes) == 1


def test_keeper_writes_at_most_every_save_interval() -> None:
    a, disk = core(), Disk()
    keeper = SnapshotKeeper(disk.save)
    keeper.maybe_save(10.0, a)
    assert keeper.save_due_at is None
    hear(a, 10.1, alive("b", "10.0.0.2"))
    assert keeper.maybe_save(10.1, a) is False
    assert keeper.save_due_at == 10.0 + SAVE_INTERVAL
    hear(a, 10.2, alive("c", "10.0.0.3"))
    assert keeper.maybe_save(10.2, a) is False
    assert keeper.maybe_save(10.0 + SAVE_INTERVAL, a) is True
    assert [n for n, _ in disk.writes[-1].alive] == ["b", "c"]
    assert len(disk.writes) == 2 and keeper.save_due_at is None


def test_keeper_logs_a_failed_save_and_retries_later(caplog: pytest.LogCaptureFixture) -> None:
    a, disk = core(), Disk()
    keeper = SnapshotKeeper(disk.save)
    disk.failing = True
    with caplog.at_level(logging.WARNING, logger="gossip_agent.state"):
        assert keeper.maybe_save(0.0, a) is False
    assert "serf snapshot not saved (retrying in 30s): [Errno 28] No space left" in caplog.text
    assert keeper.save_due_at == RETRY_INTERVAL
    disk.failing = False
    assert keeper.maybe_save(RETRY_INTERVAL - 1, a) is False
    assert keeper.maybe_save(RETRY_INTERVAL, a) is True
    assert len(disk.writes) == 1


def test_keeper_records_a_leave_and_then_stops_routine_saves() -> None:
    a, disk = core(), Disk()
    hear(a, 1.0, alive("b", "10.0.0.2"))
    keeper = SnapshotKeeper(disk.save)
    keeper.maybe_save(1.0, a)
    a.leave(2.0)
    assert keeper.on_leave(2.0, a) is True
    left = disk.writes[-1]
    assert left.left is True and left.alive == (("b", "10.0.0.2:4648"),)
    assert left.clock >= 1  # covers the leave intent's LTime (1): a restart's join is newer
    hear(a, 3.0, alive("c", "10.0.0.3"))
    assert keeper.maybe_save(10.0, a) is False
    assert keeper.on_shutdown(10.0, a) is True  # always, and still marked left
    assert disk.writes[-1].left is True
    assert len(disk.writes) == 3


def test_keeper_always_writes_on_shutdown() -> None:
    a, disk = core(), Disk()
    keeper = SnapshotKeeper(disk.save)
    keeper.maybe_save(0.0, a)
    assert keeper.on_shutdown(0.1, a) is True
    assert len(disk.writes) == 2 and disk.writes[-1].left is False


def test_keeper_keeps_previous_members_across_a_restart_whose_rejoin_failed() -> None:
    """Restarted, the core knows nobody yet: the old members must not be forgotten."""
    disk = Disk()
    keeper = SnapshotKeeper(disk.save, restored=SNAP)
    a = core(restored_clocks=SNAP.clocks, restored_incarnation=SNAP.incarnation)
    assert keeper.maybe_save(0.0, a) is True  # the new incarnation
    assert disk.writes[-1] == SerfSnapshot(
        alive=SNAP.alive, clock=41, event_clock=3, query_clock=2, incarnation=8
    )
    assert keeper.maybe_save(0.5, a) is False
    hear(a, 1.0, alive("d", "10.0.0.4"))
    assert keeper.maybe_save(1.0, a) is True
    assert [n for n, _ in disk.writes[-1].alive] == ["b", "c", "d"]


def test_keeper_after_a_left_restart_forgets_members_unless_rejoin_after_leave() -> None:
    left = SerfSnapshot(alive=SNAP.alive, clock=9, left=True)
    for rejoin_after_leave, expected in ((False, ()), (True, SNAP.alive)):
        disk = Disk()
        keeper = SnapshotKeeper(disk.save, restored=left, rejoin_after_leave=rejoin_after_leave)
        a = core(restored_clocks=left.clocks)
        assert keeper.maybe_save(0.0, a) is True  # this run is not a left one
        assert disk.writes[-1].alive == expected
        assert disk.writes[-1].left is False
        assert disk.writes[-1].clock == 9
