"""Agents run as child processes: by `gossip-agent cluster`, the end-to-end tests and the
benches (ours and real serf agents alike).

A parent that dies without its teardown (SIGKILL, a crashed test run) must not leave agents
holding their ports, or the next run cannot bind them; Linux can signal a child when its
parent dies (PR_SET_PDEATHSIG), armed between fork and exec.
"""

from __future__ import annotations

import contextlib
import ctypes
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


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
    the agent's PID, for `os.killpg`), and `death_signal` if the parent dies."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=None if env is None else dict(env),
        process_group=0,
        preexec_fn=die_with_parent(death_signal),
    )


def log_tail(path: Path, lines: int, prefix: str = "") -> str:
    """The last `lines` lines of a child's log, each after `prefix`; "" if it is unreadable."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(prefix + line for line in text.splitlines()[-lines:])
