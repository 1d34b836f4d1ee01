"""Agents run as child processes: by `gossip-agent cluster`, the end-to-end tests and the
benches (ours and real serf agents alike).

A parent that dies without its teardown (SIGKILL, a crashed test run) must not leave agents
holding their ports, or the next run cannot bind them; Linux can signal a child when its
parent dies (PR_SET_PDEATHSIG), armed between fork and exec. A parent that exits normally
without its teardown (an exception past every `finally`, `sys.exit` in a library) kills every
child still running at exit (`atexit`), so no caller has to keep its own list for that.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1

_LIVE: set[subprocess.Popen[bytes]] = set()
"""Every child `spawn` started and nobody has reaped yet (pruned at each spawn)."""


def die_with_parent(sig: int) -> Callable[[], None] | None:
    """A `subprocess.Popen` `preexec_fn` that has Linux send `sig` to the child when this
    process dies; None elsewhere. Spawn from one thread only (preexec_fn is not thread-safe)."""
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:  # pragma: no cover - runs in the child between fork and exec
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return arm


def spawn(
    argv: Sequence[str],
    log: IO[bytes],
    *,
    death_signal: int,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start one agent: output (both streams) to `log`, in its own process group (a Ctrl-C
    in the terminal reaches only the parent, which stops its agents itself; the group is
    the agent's PID, for `signal_group`), `death_signal` if the parent dies, SIGKILL if the
    parent exits with it still running. `log` may be closed once this returns: the child
    holds its own copy of the descriptor."""
    _LIVE.difference_update([proc for proc in _LIVE if proc.returncode is not None])
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=None if env is None else dict(env),
        process_group=0,
        preexec_fn=die_with_parent(death_signal),
    )
    _LIVE.add(proc)
    return proc


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send `sig` to the child's process group (anything the agent started goes with it).

    Only while the child is unreaped: until then its PID, and so its group ID, cannot be
    reused by an unrelated process."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


@atexit.register
def kill_children_left_running() -> None:
    """SIGKILL (and reap) every spawned child still running; idempotent."""
    for proc in list(_LIVE):
        signal_group(proc, signal.SIGKILL)
    for proc in list(_LIVE):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        _LIVE.discard(proc)


def log_tail(path: Path, lines: int, prefix: str = "") -> str:
    """The last `lines` lines of a child's log, each after `prefix`; "" if it is unreadable."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(prefix + line for line in text.splitlines()[-lines:])
