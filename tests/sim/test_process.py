"""One simulated process: the flush contract, its timer, crashes and pauses."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from agent.sim import NetworkConditions, Scheduler, SimNetwork
from agent.sim.process import SimProcess
from gossip.events import GossipEvent, LeaveCompleted
from gossip.outputs import Datagram, StreamRequest
from gossip.types import Address

A = Address("127.1.0.1", 7946)
B = Address("127.1.0.2", 7946)
FIXED = NetworkConditions(latency_min=0.001, latency_mean=0.0)


class World:
    def __init__(self, recorder: Callable[[str], object]) -> None:
        self.sched = Scheduler()
        self.net = SimNetwork(self.sched, random.Random(0), FIXED)
        self.events: list[tuple[float, GossipEvent]] = []
        self.a_core: Any = recorder("a")  # RecorderCore from conftest
        self.b_core: Any = recorder("b")
        self.a = self._spawn(self.a_core, A)
        self.b = self._spawn(self.b_core, B)

    def _spawn(self, core: Any, addr: Address) -> SimProcess:
        return SimProcess(core, addr, self.sched, self.net, self._record)

    def _record(self, process: SimProcess, event: GossipEvent) -> None:
        self.events.append((self.sched.now, event))

    def send(self, at: float, src_core: Any, proc: SimProcess, data: bytes, dst: Address) -> None:
        """At `at`, make `src_core` emit a datagram (as if an input produced it) and flush."""

        def emit() -> None:
            src_core.outbox.append(Datagram(dst, data))
            proc.flush()

        self.sched.schedule(at, emit)


@pytest.fixture
def world(recorder: Callable[[str], object]) -> World:
    return World(recorder)


def test_outputs_are_drained_after_every_input(world: World) -> None:
    world.b_core.reply = lambda data: None
    world.b_core.event_out.append(LeaveCompleted(7))
    world.send(1.0, world.a_core, world.a, b"hello", B)
    world.sched.run_until(2.0)
    assert world.b_core.inputs == [("datagram", pytest.approx(1.001), A, b"hello")]
    assert world.events == [(pytest.approx(1.001), LeaveCompleted(7))]


def test_timer_follows_next_deadline(world: World) -> None:
    world.a_core.deadline = 2.0
    world.a.flush()
    world.sched.run_until(1.0)
    world.a_core.deadline = 1.5
    world.a.flush()
    world.sched.run_until(5.0)
    assert world.a_core.inputs == [("timer", 1.5)]


def test_pause_defers_inputs_and_timer_to_the_resume_time_in_order(world: World) -> None:
    world.b_core.deadline = 3.0
    world.b.flush()
    world.sched.run_until(1.0)
    world.b.pause(1.0 + 12.0)
    world.send(2.0, world.a_core, world.a, b"first", B)
    world.send(4.0, world.a_core, world.a, b"second", B)
    world.sched.run_until(12.9)
    assert world.b_core.inputs == []
    assert world.b.paused
    world.sched.run_until(20.0)
    assert world.b_core.inputs == [
        ("datagram", 13.0, A, b"first"),
        ("timer", 13.0),
        ("datagram", 13.0, A, b"second"),
    ]
    assert not world.b.paused


def test_a_pause_inside_a_pause_extends_it(world: World) -> None:
    world.b.pause(5.0)
    world.sched.run_until(2.0)
    world.b.pause(8.0)
    world.b.pause(3.0)  # shorter: no effect
    world.send(2.5, world.a_core, world.a, b"x", B)
    world.sched.run_until(20.0)
    assert world.b_core.inputs == [("datagram", 8.0, A, b"x")]


def test_stream_to_a_paused_process_is_answered_on_resume(world: World) -> None:
    world.b.pause(1.0)
    world.a_core.stream_out.append(StreamRequest(1, B, b"q", 10.0))
    world.a.flush()
    world.sched.run_until(20.0)
    assert world.b_core.inputs[0][:2] == ("stream", 1.0)
    assert world.a_core.inputs == [("result", pytest.approx(1.001), 1, b"re:q", None)]


def test_stream_to_a_paused_process_can_time_out(world: World) -> None:
    world.b.pause(5.0)
    world.a_core.stream_out.append(StreamRequest(1, B, b"q", 2.0))
    world.a.flush()
    world.sched.run_until(20.0)
    (kind, at, _, reply, error) = world.a_core.inputs[0]
    assert (kind, at, reply) == ("result", 2.0, None) and "read tcp" in error
    assert world.b_core.inputs[0][:2] == ("stream", 5.0)


def test_crash_stops_everything(world: World) -> None:
    world.b_core.deadline = 1.0
    world.b.flush()
    world.b.crash()
    world.send(0.5, world.a_core, world.a, b"x", B)
    world.a_core.stream_out.append(StreamRequest(1, B, b"q", 10.0))
    world.a.flush()
    world.sched.run_until(20.0)
    assert world.b_core.inputs == []
    (kind, at, _, reply, error) = world.a_core.inputs[0]
    assert kind == "result" and reply is None
    assert at < 0.01 and error == "dial tcp 127.1.0.2:7946: connect: connection refused"


def test_crash_while_paused_drops_the_backlog(world: World) -> None:
    world.b.pause(5.0)
    world.send(1.0, world.a_core, world.a, b"x", B)
    world.sched.run_until(2.0)
    world.b.crash()
    world.sched.run_until(20.0)
    assert world.b_core.inputs == []
