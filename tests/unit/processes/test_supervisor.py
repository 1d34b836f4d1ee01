"""The supervisor's own logic, with trivial children instead of agents: port checks, signals
and exit statuses, restarts, waits that fail fast or time out, and teardown that kills every
child on an exception and at interpreter exit. Real processes, but each lives well under a
second; nothing binds Nomad's ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent
from agent.processes import supervisor as sup
from agent.processes.supervisor import (
    AddressUnavailable,
    AgentExited,
    ChildSpec,
    NotReady,
    Ports,
    PortsInUse,
    Supervisor,
    SupervisorError,
    Transport,
    busy_ports,
    check_ports,
    wait_ports_free,
)

HOST = "127.0.0.1"
PYTHON = (sys.executable,)
SLEEPER = ("-c", "import time; time.sleep(60)")
STUBBORN = (
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('handler', 'set', flush=True); time.sleep(60)",
)
"""Ignores SIGTERM; says so in its log (as `handler set`, which its command line is not)."""
READY = ("-c", "import time; print('up', 'now', flush=True); time.sleep(60)")

# Answers every GET with 200 and a /v1/agent/self that says: a client, no leave on interrupt.
TINY_AGENT = textwrap.dedent(
    """
    import http.server, json, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"config": {"Server": {"Enabled": False}, "LeaveOnInt": False}})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


def free_port() -> int:
    """A port free for TCP and UDP right now (the kernel's pick for TCP, checked for UDP)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind((HOST, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((HOST, port))
                except OSError:
                    continue
        return port


def spec(name: str, argv: tuple[str, ...] = SLEEPER, *, http: int | None = None) -> ChildSpec:
    ports = Ports(http=http or free_port(), rpc=free_port(), serf=None)
    return ChildSpec(name, HOST, argv, ports=ports, program=PYTHON)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    with Supervisor(tmp_path) as agents:
        yield agents


# ---- ports --------------------------------------------------------------------------------------


def test_a_held_tcp_port_is_named_in_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        held = int(holder.getsockname()[1])
        child = ChildSpec(
            "s1", HOST, ("agent",), ports=Ports(http=held, rpc=free_port(), serf=None)
        )
        with pytest.raises(PortsInUse) as error:
            check_ports([child])
    (busy,) = error.value.busy
    assert (busy.name, busy.port, busy.transport) == ("s1", held, Transport.TCP)
    assert str(error.value) == (
        f"cannot listen on {HOST}:{held}/tcp for s1 ({busy.reason}); "
        "is another cluster or agent running there?"
    )
    check_ports([child])  # free again once the holder closed


def test_a_held_udp_serf_port_counts_and_every_busy_port_is_listed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind((HOST, 0))
        serf = int(udp.getsockname()[1])
        tcp.bind((HOST, 0))
        tcp.listen()
        http = int(tcp.getsockname()[1])
        child = ChildSpec("s1", HOST, (), ports=Ports(http=http, rpc=free_port(), serf=serf))
        busy = busy_ports([child])
        assert [(b.port, b.transport) for b in busy] == [
            (http, Transport.TCP),
            (serf, Transport.UDP),
        ]
        message = str(PortsInUse(busy))
        assert f"(and 1 more: {HOST}:{serf}/udp)" in message


def test_a_client_without_serf_checks_only_http_and_rpc() -> None:
    assert Ports(serf=None).listeners() == ((4646, Transport.TCP), (4647, Transport.TCP))
    assert len(Ports().listeners()) == 4


def test_an_address_this_machine_lacks_is_its_own_error() -> None:
    missing = ChildSpec("far", "192.0.2.1", ())  # TEST-NET-1: never a local address
    with pytest.raises(AddressUnavailable) as error:
        check_ports([missing])
    assert error.value.address == "192.0.2.1"


def test_waiting_for_ports_gives_up_with_the_busy_ones(supervisor: Supervisor) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        child = spec("s1", http=int(holder.getsockname()[1]))
        with pytest.raises(PortsInUse):
            wait_ports_free([child], timeout=0.3)
        with pytest.raises(PortsInUse):
            supervisor.start(child)
        assert len(supervisor) == 0  # nothing added, nothing started


# ---- one child ----------------------------------------------------------------------------------


def test_signals_give_their_exit_statuses(supervisor: Supervisor) -> None:
    killed, terminated, interrupted = (supervisor.add(spec(n, READY)) for n in "kti")
    for child in (killed, terminated, interrupted):
        child.start()
        assert child.running and child.pid is not None
    for child in (killed, terminated, interrupted):  # Python's SIGINT handler is in place
        supervisor.eventually(lambda c=child: "up now" in c.log_text(), "start-up", 10.0)
    assert killed.kill() == -signal.SIGKILL
    assert terminated.terminate() == -signal.SIGTERM
    assert interrupted.interrupt() in (1, -signal.SIGINT)
    assert "KeyboardInterrupt" in interrupted.log_text()
    assert [c.exit_description() for c in (killed, terminated)] == [
        "killed by SIGKILL",
        "killed by SIGTERM",
    ]
    assert not any(c.running for c in supervisor)
    supervisor.check_running()  # deliberate stops are no crash


def test_a_child_ignoring_its_signal_is_killed_after_the_timeout(supervisor: Supervisor) -> None:
    child = supervisor.add(spec("stubborn", STUBBORN))
    child.start()
    supervisor.eventually(lambda: "handler set" in child.log_text(), "the handler", 10.0)
    assert child.terminate(timeout=0.3) == -signal.SIGKILL


def test_restart_keeps_the_log_and_records_every_run(supervisor: Supervisor) -> None:
    child = supervisor.add(spec("r", ("-c", "print('first run')")))
    child.start()
    assert child.wait(10.0) == 0
    second = ("-c", "print('second run'); import time; time.sleep(60)")
    assert child.restart(second) == 0
    assert child.argv == second
    assert child.restart() == -signal.SIGTERM  # a running one is stopped first
    log = child.log_text()
    assert log.count("===== start: ") == 3
    assert log.index("first run") < log.index("second run")
    assert [run.argv for run in child.runs] == [("-c", "print('first run')"), second, second]
    assert [run.returncode for run in child.runs][:2] == [0, -signal.SIGTERM]
    with pytest.raises(SupervisorError, match="already running"):
        child.start()


def test_a_crash_fails_waits_at_once_with_the_log_tail(supervisor: Supervisor) -> None:
    child = supervisor.add(spec("crash", ("-c", "print('boom'); raise SystemExit(3)")))
    child.start()
    with pytest.raises(AgentExited) as error:
        supervisor.wait_healthy(timeout=30.0)
    assert "crash exited before it was healthy (exit status 3)" in str(error.value)
    assert "| boom" in str(error.value)
    with pytest.raises(AgentExited, match="unexpectedly"):
        supervisor.check_running()
    with pytest.raises(AgentExited):
        supervisor.eventually(lambda: False, "never", 30.0)


def test_no_answer_is_not_ready_after_the_deadline(supervisor: Supervisor) -> None:
    child = supervisor.add(spec("mute"))
    child.start()
    with pytest.raises(NotReady, match="mute: no answer"):
        child.wait_http(timeout=0.3)
    with pytest.raises(NotReady, match="waiting for something; last seen: 0"):
        supervisor.eventually(lambda: 0, "something", 0.3, poll=0.05)


def test_http_waits_and_leave_refuses_an_agent_that_would_not_leave(
    supervisor: Supervisor,
) -> None:
    port = free_port()
    child = supervisor.add(spec("tiny", ("-c", TINY_AGENT, str(port)), http=port))
    child.start()
    assert child.http == f"http://{HOST}:{port}"
    supervisor.wait_healthy(timeout=30.0)
    answer = child.health()
    assert answer is not None and answer.ok
    with pytest.raises(SupervisorError, match="would not leave"):
        child.leave()
    assert child.running  # refused before any signal


# ---- teardown -----------------------------------------------------------------------------------


def test_leaving_the_block_by_an_exception_kills_every_child(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="test failed"), Supervisor(tmp_path) as agents:
        children = agents.start(spec("a"), spec("b"))
        pids = [c.pid for c in children]
        raise RuntimeError("test failed")
    assert all(pid is not None and gone(pid) for pid in pids)
    assert "run 1: pid" in agents.report() and "exit -9" in agents.report()


def test_graceful_stop_reports_who_had_to_be_killed(supervisor: Supervisor) -> None:
    polite, rude = supervisor.add(spec("polite")), supervisor.add(spec("rude", STUBBORN))
    polite.start()
    rude.start()
    supervisor.eventually(lambda: "handler set" in rude.log_text(), "the handler", 10.0)
    stopped = supervisor.stop(signal.SIGTERM, grace=0.5)
    assert stopped.killed == ("rude",) and not stopped.abandoned
    assert (polite.returncode, rude.returncode) == (-signal.SIGTERM, -signal.SIGKILL)


def test_children_left_running_die_when_the_interpreter_exits(tmp_path: Path) -> None:
    """No `with`, no `close()`, and no death signal either: only the atexit hook is left."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from agent.processes.supervisor import ChildSpec, Ports, Supervisor
        agents = Supervisor(Path({str(tmp_path)!r}), death_signal=0)
        child = agents.add(ChildSpec("left", "127.0.0.1", {SLEEPER!r},
                                     ports=Ports(serf=None), program=(sys.executable,)))
        child.start()
        print(child.pid, flush=True)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    pid = int(out.stdout.strip())
    assert gone(pid), f"pid {pid} outlived its parent"


def test_agents_run_this_checkout_and_none_of_the_callers_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOSSIP_AGENT_LOG_LEVEL", "TRACE")
    monkeypatch.setenv("NOMAD_ADDR", "http://elsewhere:4646")
    command, env = sup._agent_command()
    assert command == (sys.executable, "-P", "-m", "agent")
    root = str(Path(agent.__file__).resolve().parents[1])
    assert env["PYTHONPATH"].split(os.pathsep)[0] == root
    assert not any(k.startswith(("GOSSIP_AGENT_", "NOMAD_")) for k in env)
