"""SerfSnapshot: what a server remembers of its gossip pool across a restart.

Theory of operation. serf's snapshotter (serf/snapshot.go) keeps, per node, the members it
last saw alive (name and address), its three Lamport clocks, and whether its last act was a
graceful leave. On startup serf replays that: the clocks are witnessed (so the restarted node
never reuses a time its old self sent, and events and queries it already saw are not
delivered again), and unless the node had left (and `rejoin_after_leave` is off) it joins its
previous members by itself, so a restarted server needs no `-join`. We keep the same facts
plus one more, the memberlist incarnation (memberlist does not persist it): a restarted node
starts at incarnation + 1, so its first alive message beats the dead record peers still hold.

What counts as alive follows the snapshotter's member events: a member is written `alive`
when it joins and `not-alive` when it fails or leaves; a leaving member is still alive, and
being reaped changes nothing. Members remembered from the previous run stay in the list until
this run sees them fail or leave, so a restart whose rejoin fails does not forget them.

Where we differ, and why:
- one small JSON document replaced atomically (agent.state.data_dir) instead of an append-only log
  with compaction: it is a few hundred bytes per member, and there is no torn last line to
  replay around;
- serf stores the member clock as `Time() - 1` ("last seen") and the event/query clocks as
  the last event/query time delivered; we store `Time() - 1` for all three, which is never
  lower, so the restored clocks are exactly the old ones;
- after a leave, serf's replay also zeroes the clocks; we keep them (a clock that never goes
  back is always safe), and only the rejoin is skipped.

`SnapshotKeeper` decides when to write: only when something changed, at most every
`SAVE_INTERVAL` (serf flushes its log every 500 ms), and always on leave and shutdown.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gossip import Address, MemberStatus

if TYPE_CHECKING:
    from gossip import SerfCore

log = logging.getLogger("gossip_agent.state")

SNAPSHOT_VERSION = 1
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1
SAVE_INTERVAL = 0.5
"""Seconds between two routine saves: serf's snapshot flushInterval/clockUpdateInterval."""
RETRY_INTERVAL = 30.0
"""Seconds before retrying a failed save: serf's snapshotErrorRecoveryInterval."""
_ALIVE_STATUSES = (MemberStatus.ALIVE, MemberStatus.LEAVING)
_KEYS = ("version", "alive", "clock", "event_clock", "query_clock", "incarnation", "left")


def _check_address(text: str) -> None:
    """An `ip:port` as Go's net.TCPAddr prints it (IPv6 in brackets); ValueError if not."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or not 0 < int(port) <= 0xFFFF:
        raise ValueError(f"address {text!r} is not ip:port")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"address {text!r} does not hold an IP literal") from None
    if str(Address(host, int(port))) != text:
        raise ValueError(f"address {text!r} is not in Go's form ({Address(host, int(port))})")


def _check_int(name: str, value: object, top: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise ValueError(f"{name} must be an integer in [0, {top}], got {value!r}")


@dataclass(frozen=True, slots=True)
class SerfSnapshot:
    """One server's saved gossip state; see the module docstring.

    Raises ValueError (with the reason) when a field is out of range, so a snapshot that
    exists is always one a SerfCore can be restored from.
    """

    alive: tuple[tuple[str, str], ...] = ()
    """(name, "ip:port") of the other members last seen alive, sorted by name."""
    clock: int = 0
    """Member Lamport time last used (witnessed on restore)."""
    event_clock: int = 0
    """User-event Lamport time last used; events up to it are not delivered again."""
    query_clock: int = 0
    """Query Lamport time last used; queries up to it are not answered again."""
    incarnation: int = 0
    """memberlist incarnation last used for ourselves; a restart starts one above it."""
    left: bool = False
    """The node's last act was a graceful leave (then it does not rejoin by itself)."""

    def __post_init__(self) -> None:
        for name in ("clock", "event_clock", "query_clock"):
            _check_int(name, getattr(self, name), U64)
        _check_int("incarnation", self.incarnation, U32)
        if not isinstance(self.left, bool):
            raise ValueError(f"left must be true or false, got {self.left!r}")
        seen: set[str] = set()
        for i, item in enumerate(self.alive):
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not all(isinstance(part, str) for part in item)
            ):
                raise ValueError(f"alive[{i}] must be a (name, address) pair, got {item!r}")
            name, address = item
            if not name:
                raise ValueError(f"alive[{i}] has an empty name")
            if name in seen:
                raise ValueError(f"alive lists {name!r} twice")
            seen.add(name)
            try:
                _check_address(address)
            except ValueError as exc:
                raise ValueError(f"alive[{i}] ({name}): {exc}") from None

    @property
    def clocks(self) -> tuple[int, int, int]:
        """(member, event, query), as `SerfCore(restored_clocks=...)` takes them."""
        return (self.clock, self.event_clock, self.query_clock)

    def to_json(self) -> str:
        data = {
            "version": SNAPSHOT_VERSION,
            "alive": [{"name": name, "addr": addr} for name, addr in self.alive],
            "clock": self.clock,
            "event_clock": self.event_clock,
            "query_clock": self.query_clock,
            "incarnation": self.incarnation,
            "left": self.left,
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def from_json(cls, raw: str | bytes) -> SerfSnapshot:
        """Parse what `to_json` wrote, strictly.

        Raises:
            ValueError: not JSON, another version, a missing or unknown key, or a bad value;
                the message is the reason, for the caller to put next to the file name.
        """
        try:
            data = json.loads(raw)
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"want a JSON object, got {type(data).__name__}")
        if data.get("version") != SNAPSHOT_VERSION or isinstance(data.get("version"), bool):
            raise ValueError(f"unsupported version {data.get('version')!r}")
        missing = [k for k in _KEYS if k not in data]
        unknown = sorted(k for k in data if k not in _KEYS)
        if missing or unknown:
            raise ValueError(f"missing keys {missing}, unknown keys {unknown}")
        alive = data["alive"]
        if not isinstance(alive, list):
            raise ValueError(f"alive must be a list, got {alive!r}")
        return cls(
            alive=tuple(sorted(_alive_entry(i, item) for i, item in enumerate(alive))),
            clock=data["clock"],
            event_clock=data["event_clock"],
            query_clock=data["query_clock"],
            incarnation=data["incarnation"],
            left=data["left"],
        )


def _alive_entry(i: int, item: Any) -> tuple[str, str]:
    if not isinstance(item, dict) or sorted(item) != ["addr", "name"]:
        raise ValueError(f'alive[{i}] must be {{"name": ..., "addr": ...}}, got {item!r}')
    name, addr = item["name"], item["addr"]
    if not isinstance(name, str) or not isinstance(addr, str):
        raise ValueError(f"alive[{i}]: name and addr must be strings, got {item!r}")
    return (name, addr)


def take_snapshot(
    core: SerfCore, *, left: bool, previous: SerfSnapshot | None = None
) -> SerfSnapshot:
    """What serf's snapshotter would hold for `core` now.

    Members alive or leaving (other than ourselves) are alive; failed and left ones are not.
    Members of `previous` that `core` does not know at all (not yet rejoined, or never seen
    this run) are carried over, as serf's log keeps an `alive` line until a `not-alive`.
    """
    current = core.members()
    known = {m.name for m in current}
    alive = {}
    if previous is not None:
        alive = {n: a for n, a in previous.alive if n not in known and n != core.name}
    for m in current:
        if m.name != core.name and m.status in _ALIVE_STATUSES:
            alive[m.name] = str(Address(m.addr, m.port))
    clock, event_clock, query_clock = core.clock_times
    return SerfSnapshot(
        alive=tuple(sorted(alive.items())),
        clock=max(clock - 1, 0),
        event_clock=max(event_clock - 1, 0),
        query_clock=max(query_clock - 1, 0),
        incarnation=core.incarnation,
        left=left,
    )


def replayed(snapshot: SerfSnapshot, rejoin_after_leave: bool) -> SerfSnapshot:
    """The state a restart starts from: after a leave (and no rejoin_after_leave) serf's
    replay forgets the members; the clocks and incarnation are always kept (see above)."""
    if snapshot.left and not rejoin_after_leave:
        return replace(snapshot, alive=())
    return snapshot


def rejoin_targets(
    snapshot: SerfSnapshot, rejoin_after_leave: bool, *, rng: random.Random | None = None
) -> list[str]:
    """The "ip:port" addresses a restarted server joins by itself (empty: no auto-join).

    Empty when the node had left and `rejoin_after_leave` is off (Nomad's
    `server.rejoin_after_leave`). serf shuffles the previous members (to spread restarts over
    them) and tries them one at a time until one answers; pass `rng` to get that order,
    otherwise they come sorted by member name.
    """
    members = replayed(snapshot, rejoin_after_leave).alive
    addresses = list(dict.fromkeys(addr for _, addr in members))
    if rng is not None:
        rng.shuffle(addresses)
    return addresses


class SnapshotKeeper:
    """Decides when a server's snapshot is written; cheap to call after every flush.

    `save` does the writing (e.g. `DataDir.save_serf_snapshot`). A failed save is logged
    and retried after RETRY_INTERVAL; the server keeps running, as with serf's snapshotter.
    """

    def __init__(
        self,
        save: Callable[[SerfSnapshot], None],
        *,
        restored: SerfSnapshot | None = None,
        rejoin_after_leave: bool = False,
        save_interval: float = SAVE_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self._save = save
        self._saved = restored
        """What the file holds now (as far as we know)."""
        self._base = None if restored is None else replayed(restored, rejoin_after_leave)
        """The last snapshot computed: members it lists but the core does not know carry on."""
        self._pending: SerfSnapshot | None = None
        self._seen: tuple[object, ...] | None = None
        self._left = False
        self._not_before = float("-inf")
        self.save_interval = save_interval
        self.retry_interval = retry_interval

    @property
    def saved(self) -> SerfSnapshot | None:
        """The snapshot last written (or restored), None before the first."""
        return self._saved

    @property
    def save_due_at(self) -> float | None:
        """When a change not yet written may be written (None: nothing waits)."""
        return None if self._pending is None else self._not_before

    def maybe_save(self, now: float, core: SerfCore) -> bool:
        """Write the snapshot if it changed and the interval allows; True if written.

        Compares a few counters first (members_version, clocks, incarnation), so a call
        with nothing new costs a tuple comparison. After `on_leave` it writes nothing more
        (serf stops recording at leave); `on_shutdown` still does.
        """
        if self._left:
            return False
        seen = (core.members_version, core.clock_times, core.incarnation)
        if seen != self._seen:
            self._seen = seen
            self._base = take_snapshot(core, left=False, previous=self._base)
            self._pending = None if self._base == self._saved else self._base
        if self._pending is None or now < self._not_before:
            return False
        return self._write(now, self._pending)

    def on_leave(self, now: float, core: SerfCore) -> bool:
        """Record a graceful leave at once; call it right after `core.leave(...)` returns,
        so the saved clock covers the leave intent's time."""
        self._left = True
        self._base = take_snapshot(core, left=True, previous=self._base)
        return self._write(now, self._base)

    def on_shutdown(self, now: float, core: SerfCore) -> bool:
        """Write the final snapshot (fresh clocks; `left` if `on_leave` was called)."""
        self._base = take_snapshot(core, left=self._left, previous=self._base)
        return self._write(now, self._base)

    def _write(self, now: float, snapshot: SerfSnapshot) -> bool:
        try:
            self._save(snapshot)
        except Exception as exc:  # I/O outside our control: log, keep running, retry later
            self._pending = snapshot
            self._not_before = now + self.retry_interval
            log.warning("serf snapshot not saved (retrying in %gs): %s", self.retry_interval, exc)
            return False
        self._saved = snapshot
        self._pending = None
        self._not_before = now + self.save_interval
        return True
