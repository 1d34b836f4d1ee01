"""Seeds for simulated tests: stable per test, overridable, and replayable from one line.

A simulated test is a function of its seed, so the seed is the whole bug report. By default
it comes from the test's node id through CRC-32 (Python's `hash` is salted per process, so it
would change on every run); `--sim-seed` overrides it for every test of the run, which is
how the printed command line replays one failing test.
"""

from __future__ import annotations

import shlex
import zlib

SEED_OPTION = "--sim-seed"


def seed_for(nodeid: str) -> int:
    """The default seed of the test `nodeid`: the same on every run and every machine."""
    return zlib.crc32(nodeid.encode())


def replay_command(nodeid: str, seed: int) -> str:
    """One shell command that reruns test `nodeid` with `seed`."""
    return f"python -m pytest {shlex.quote(nodeid)} {SEED_OPTION}={seed}"
