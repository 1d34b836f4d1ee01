"""What the page is sent: the whole state once, then deltas at most `UPDATES_PER_SECOND`.

A `Cursor` remembers what one reader has seen (matrix change generation, timeline and packet
sequence numbers, each node's last sent truth), so each delta carries only what changed:
cells as `[observer, member, status code, incarnation]`, new timeline entries, new packets,
and the nodes whose truth moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agent.demo.views import Status
from agent.demo.world import DemoWorld

UPDATES_PER_SECOND = 5
TIMELINE_IN_STATE = 200
"""Timeline entries in a full state (the page keeps at most this many too)."""
STATUS_CODES: Mapping[str, str] = MappingProxyType({s.code: s.value for s in Status})


@dataclass(slots=True)
class Cursor:
    world: DemoWorld | None = None
    """The world this reader has seen: after a reset it gets a full state again."""
    gen: int = 0
    seq: int = 0
    packet: int = 0
    nodes: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    clock: tuple[Any, ...] = ()


def node_json(world: DemoWorld, name: str, urls: Mapping[str, str]) -> dict[str, Any]:
    spec = world.specs[name]
    raft = world.raft(name)
    leader = world.leader()
    return {
        "name": name,
        "kind": spec.kind.value,
        "member": spec.serf_name,
        "truth": world.truth(name).value,
        "partition": world.partition_of(name),
        "health": world.health(name),
        "raft": None if raft is None else {"state": raft[0], "term": raft[1]},
        "leader": leader[0] == name,
        "registered": world.registered(name),
        "url": urls.get(name),
    }


def clock_json(world: DemoWorld) -> dict[str, Any]:
    leader = world.leader()
    return {
        "now": round(world.now, 3),
        "speed": world.time.speed,
        "paused": world.time.paused,
        "lag": round(world.time.lag, 3),
        "leader": leader[0],
        "term": leader[1],
        "loss": world.loss,
        "latency_ms": world.latency_ms,
        "groups": world.groups,
    }


def state_json(world: DemoWorld, urls: Mapping[str, str], cursor: Cursor | None = None) -> Any:
    """The whole state; with a cursor, it also marks everything as seen by that reader."""
    scenario = world.scenario
    nodes = [node_json(world, n, urls) for n in world.specs]
    clock = clock_json(world)
    state = {
        "seed": world.settings.seed,
        "profile": world.settings.profile.value,
        "scenario": None
        if scenario is None
        else {
            "name": scenario.name,
            "title": scenario.title,
            "explanation": scenario.explanation,
            "lifeguard": scenario.lifeguard,
        },
        "clock": clock,
        "members": world.members,
        "nodes": nodes,
        "matrix": world.matrix.encoded(),
        "codes": dict(STATUS_CODES),
        "timeline": [e.to_json() for e in world.timeline.last(TIMELINE_IN_STATE)],
        "packets_shown": world.packets.enabled,
        "packets": [p.to_json() for p in world.packets.since(world.packets.last_seq - 40)],
    }
    if cursor is not None:
        cursor.world = world
        cursor.gen = world.matrix.gen
        cursor.seq = world.timeline.last_seq
        cursor.packet = world.packets.last_seq
        cursor.nodes = {n["name"]: _key(n) for n in nodes}
        cursor.clock = _key(clock)
    return state


def _key(value: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(repr(v) for v in value.values())


def _node_rows(
    world: DemoWorld, urls: Mapping[str, str]
) -> list[tuple[str, dict[str, Any], tuple[Any, ...]]]:
    """Every node's row and its comparison key, built once per moment for all readers:
    a row changes only with virtual time, a timeline event (an action) or a view change."""
    moment = (world.now, world.timeline.last_seq, world.matrix.gen)
    memo = world.node_rows
    if memo is None or memo[0] != moment:
        rows = []
        for name in world.specs:
            node = node_json(world, name, urls)
            rows.append((name, node, _key(node)))
        memo = world.node_rows = (moment, rows)
    return memo[1]


def delta_json(world: DemoWorld, urls: Mapping[str, str], cursor: Cursor) -> Any | None:
    """What changed since `cursor` (and advance it); None when nothing did. A full state
    (with `"full": true`) when the reader is too far behind or the world was reset."""
    if cursor.world is not world:
        return {"full": True, "state": state_json(world, urls, cursor)}
    changes = world.matrix.changes_since(cursor.gen)
    if changes is None:
        return {"full": True, "state": state_json(world, urls, cursor)}
    out: dict[str, Any] = {}
    if changes:
        out["cells"] = [
            [c.observer, c.member, c.cell.status.code, c.cell.incarnation] for c in changes
        ]
        cursor.gen = changes[-1].gen
    events = world.timeline.since(cursor.seq)
    if events:
        out["events"] = [e.to_json() for e in events]
        cursor.seq = events[-1].seq
    packets = world.packets.since(cursor.packet)
    if packets:
        out["packets"] = [p.to_json() for p in packets]
        cursor.packet = packets[-1].seq
    nodes = []
    for name, node, key in _node_rows(world, urls):
        if cursor.nodes.get(name) != key:
            cursor.nodes[name] = key
            nodes.append(node)
    if nodes:
        out["nodes"] = nodes
    clock = clock_json(world)
    key = _key(clock)
    if out or key != cursor.clock:
        cursor.clock = key
        out["clock"] = clock
    return out or None
