"""`stats.runtime` of `/v1/agent/self`: this Python process described as Nomad describes Go's."""

from __future__ import annotations

import asyncio
import functools
import os
import platform
import sys
from typing import NamedTuple

_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


RUNTIME_SAMPLE_SECONDS = 1.0
"""How long a `goroutines`/`max_procs` reading is reused (per event loop)."""


class _Reading(NamedTuple):
    """One reading of the counts that change, and the loop and loop time it was taken on."""

    loop: asyncio.AbstractEventLoop
    at: float
    max_procs: str
    goroutines: str


class RuntimeSampler:
    """`stats.runtime`, describing this Python process the way Nomad describes its Go runtime.

    `version` is the Python version, `goroutines` the number of asyncio tasks, `max_procs`
    the CPUs this process may run on. Counting tasks walks every task of the loop (120 us with
    the 1,000 simulated agents of bench/http.py, for one `/v1/agent/self`), so the two counts
    are read at most once per RUNTIME_SAMPLE_SECONDS of loop time; the rest never changes.
    One sampler per agent: the reading belongs to it, not to the module.
    """

    def __init__(self) -> None:
        self._reading: _Reading | None = None

    def stats(self) -> dict[str, str]:
        max_procs, goroutines = self._counts()
        static = _static_runtime()
        return {
            "kernel.name": static["kernel.name"],
            "arch": static["arch"],
            "version": static["version"],
            "max_procs": max_procs,
            "goroutines": goroutines,
            "cpu_count": static["cpu_count"],
        }

    def _counts(self) -> tuple[str, str]:
        """(max_procs, goroutines), read afresh when the reading is old or from another loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no running loop: no tasks
            return _max_procs(), "0"
        now = loop.time()
        reading = self._reading
        if (
            reading is None
            or reading.loop is not loop
            or not 0 <= now - reading.at < (RUNTIME_SAMPLE_SECONDS)
        ):
            reading = _Reading(loop, now, _max_procs(), str(len(asyncio.all_tasks(loop))))
            self._reading = reading
        return reading.max_procs, reading.goroutines


@functools.cache
def _static_runtime() -> dict[str, str]:
    """The parts of `stats.runtime` fixed for the life of the process."""
    machine = platform.machine().lower()
    return {
        "kernel.name": sys.platform.removesuffix("32") if sys.platform != "win32" else "windows",
        "arch": _GO_ARCH.get(machine, machine),
        "version": f"python{platform.python_version()}",
        "cpu_count": str(os.cpu_count() or 1),
    }


def _max_procs() -> str:
    try:
        return str(len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return str(os.cpu_count() or 1)
