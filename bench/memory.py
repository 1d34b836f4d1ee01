"""Memory of one real agent per role, before and after, and what each import costs.

Why: issue 14 asks for an agent's RSS near serf's (14 MiB): "under 35 MiB idle and under
40 MiB after 200 members reads, with the HTTP API and raft in the process", measuring what
each import costs first. ``bench/cluster.py`` gives the cluster's RSS rows; this says where
the megabytes come from.

What it does, in one invocation:

1. **agents**: for each checkout (``--before`` if given, e.g. ``../before``, then this one) and
   each role, start real agents as ``bench/cluster.py`` does (``agent.processes.supervisor``,
   ``python -P -m agent agent ...`` with ``-gossip-profile lan -log-level WARN``): a
   ``server`` (``-server -bootstrap-expect 1``: raft leads alone), a ``client`` (``-client
   -servers`` that server's RPC address) and a ``dev`` agent (``-dev``, both halves), each on
   its own loopback address (``--base-ip``, Nomad's ports 4646-4648). Wait until each is
   healthy, ``--idle-seconds`` of quiet, read ``VmRSS``/``VmHWM`` (and the thread count) from
   ``/proc/<pid>/status``; then ``--load-requests`` (200) ``GET /v1/agent/members`` over 4
   keep-alive connections (``bench/cluster.py``'s client) and read them again.
2. **imports of the running agent**: a server agent of each checkout again, under
   ``python -X importtime``, until healthy and after one members read: which top-level
   packages it holds, and the summed import time.
3. **import costs**: each module in a fresh interpreter (``python -P -c``, this checkout):
   VmRSS before and after ``import <module>``, alone (what it costs by itself, with
   everything it pulls in) and in the agent's order (what it adds to those before it; the
   last row of the chain is about the import part of an agent). And **the floor**: the RSS
   of a process serving a one-route FastAPI app with uvicorn, nothing else.

RSS counts shared file-backed pages too (``libpython``, OpenSSL, pydantic_core's extension),
as ``bench/cluster.py``'s does. Loopback addresses from 127.0.2.1; Linux only (``/proc``).

Usage::

    python bench/memory.py
    python bench/memory.py --roles server --idle-seconds 5 --skip-imports
    python bench/memory.py --before ''          # this checkout only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# As bench/cluster.py: the repo root first, bench/ last (bench/http.py must not shadow the
# standard library's http package, which agent.processes.supervisor needs).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))
sys.path.append(str(_HERE))

from cluster import HTTPConn, memory_mib  # noqa: E402

from agent.processes.supervisor import (  # noqa: E402
    AgentProcess,
    ChildSpec,
    Ports,
    Supervisor,
    wait_ports_free,
)

ROOT = _HERE.parent
ROLES = ("server", "client", "dev")
GOAL_IDLE_MIB = 35.0
GOAL_LOADED_MIB = 40.0

IMPORTS_ALONE = (
    "asyncio",
    "ssl",
    "uvicorn",
    "pydantic",
    "pydantic_settings",
    "starlette.applications",
    "fastapi",
    "anyio",
    "msgpack",
    "cryptography.hazmat.primitives.ciphers.aead",
    "prometheus_client",
    "rich",
    "hypothesis",
    "yaml",
    "uvloop",
    "httptools",
    "websockets",
    "watchfiles",
    "email_validator",
    "python_multipart",
    "gossip",
    "raft_stub",
    "agent.rpc",
    "agent.config.settings",
    "agent.agent",
    "agent.api.app",
    "agent.cli.main",
    "agent.sim",
    "agent.demo.server",
    "agent.testing.strategies",
)
"""Each alone in a fresh interpreter: what it costs with everything it pulls in."""

IMPORTS_CHAIN = (
    "asyncio",
    "uvicorn",
    "pydantic",
    "pydantic_settings",
    "msgpack",
    "gossip",
    "raft_stub",
    "agent.rpc",
    "agent.runtime",
    "agent.config.settings",
    "agent.agent",
    "agent.launch.real",
    "fastapi",
    "agent.api.app",
    "agent.cli.main",
)
"""One interpreter, in about the order the agent imports them, FastAPI late (nothing before
`agent.api.app` imports it): what each adds, and the agent without its HTTP API."""

_RSS = r"""
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
"""
"""`rss()`, VmRSS in MiB: the start of the two probe programs below."""

_PROBE = r"""
import importlib, sys
print("base", rss())
for name in sys.argv[1:]:
    before = rss()
    try:
        importlib.import_module(name)
    except ImportError:
        print(name, "missing")
        continue
    print(name, rss() - before)
print("total", rss())
"""

_FLOOR = r"""
import asyncio, sys
import uvicorn
from fastapi import FastAPI

app = FastAPI()

@app.get("/v1/agent/members")
def members() -> dict[str, list[str]]:
    return {"Members": []}

async def main():
    config = uvicorn.Config(app, host=sys.argv[1], port=4646, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    await asyncio.sleep(float(sys.argv[2]))
    print(rss())
    server.should_exit = True
    await serving

asyncio.run(main())
"""
"""The floor: a one-route FastAPI app served by uvicorn in asyncio, and nothing else."""


# ----------------------------------------------------------------------------- agents


@dataclass(frozen=True)
class Reading:
    checkout: str
    role: str
    idle: dict[str, float]
    loaded: dict[str, float]
    threads: int


def nth_ip(base: str, k: int) -> str:
    return str(ipaddress.ip_address(base) + k)


def agent_program(root: Path, *python_flags: str) -> tuple[str, ...]:
    """`python -P -m agent` of the checkout at `root` (the supervisor runs this one's)."""
    return ("env", f"PYTHONPATH={root}", sys.executable, *python_flags, "-P", "-m", "agent")


def role_specs(
    root: Path, base_ip: str, first: int, workdir: Path, roles: Sequence[str]
) -> list[ChildSpec]:
    """One agent per role; the client's server is the server of the same checkout (or a
    server started for it when the roles leave the server out)."""
    common = ("-gossip-profile", "lan", "-log-level", "WARN")
    specs: list[ChildSpec] = []
    server_ip = nth_ip(base_ip, first)
    wanted = [r for r in ROLES if r in roles or (r == "server" and "client" in roles)]
    for k, role in enumerate(wanted):
        ip = nth_ip(base_ip, first + k)
        data_dir = workdir / f"{root.name}-{role}"
        argv: tuple[str, ...]
        if role == "server":
            argv = ("agent", "-server", "-bootstrap-expect", "1", "-node", f"{role}-{ip}")
            ports = Ports()
        elif role == "client":
            argv = ("agent", "-client", "-servers", f"{server_ip}:4647", "-node", f"{role}-{ip}")
            ports = Ports(serf=None)
        else:
            argv = ("agent", "-dev", "-node", f"{role}-{ip}")
            ports = Ports()
        argv = (*argv, "-bind", ip, "-data-dir", str(data_dir), *common)
        specs.append(
            ChildSpec(
                f"{root.name}-{role}",
                ip,
                argv,
                ports=ports,
                data_dir=data_dir,
                program=agent_program(root),
            )
        )
    return specs


def memory(pid: int) -> dict[str, float]:
    """`bench/cluster.py`'s VmRSS and VmHWM, plus RssAnon (the process's own heap) and
    RssFile (mapped files: libpython, OpenSSL, extension modules) from /proc/<pid>/status,
    and Pss from smaps_rollup (shared pages divided among the processes sharing them)."""
    out = memory_mib(pid, ("VmRSS", "VmHWM", "RssAnon", "RssFile"))
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) / 1024
    return out


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


async def members_burst(agent: AgentProcess, requests: int, connections: int = 4) -> None:
    """`requests` GETs of /v1/agent/members over `connections` keep-alive connections."""
    conns = [
        HTTPConn(agent.address, agent.spec.ports.http, timeout=30.0) for _ in range(connections)
    ]
    share = [requests // connections + (i < requests % connections) for i in range(connections)]

    async def worker(conn: HTTPConn, count: int) -> None:
        for _ in range(count):
            status, _ = await conn.request("GET", "/v1/agent/members")
            if status != 200:
                raise RuntimeError(f"{agent.name}: members answered {status}")

    try:
        await asyncio.gather(*(worker(c, k) for c, k in zip(conns, share, strict=True)))
    finally:
        for conn in conns:
            conn.close()


def measure_roles(root: Path, args: argparse.Namespace, first: int, workdir: Path) -> list[Reading]:
    specs = role_specs(root, args.base_ip, first, workdir, args.roles)
    wait_ports_free(specs, 15.0)
    out: list[Reading] = []
    with Supervisor(workdir / "logs", run_banners=False) as supervisor:
        supervisor.start(*specs)
        supervisor.wait_healthy(timeout=60.0)
        time.sleep(args.idle_seconds)
        agents = [a for a in supervisor if a.name.rsplit("-", 1)[1] in args.roles]
        idle = {a.name: memory(a.pid or 0) for a in agents}
        for agent in agents:
            asyncio.run(members_burst(agent, args.load_requests))
        for agent in agents:
            assert agent.pid is not None
            out.append(
                Reading(
                    str(root),
                    agent.name.rsplit("-", 1)[1],
                    idle[agent.name],
                    memory(agent.pid),
                    threads(agent.pid),
                )
            )
        supervisor.stop()
    return out


# ----------------------------------------------------------------------------- imports


def running_imports(root: Path, ip: str, workdir: Path) -> tuple[set[str], float]:
    """The modules a healthy server agent of `root` imported (after one members read), and
    the import time summed over the top-level entries of `-X importtime`, in seconds."""
    data_dir = workdir / f"{root.name}-importtime"
    argv = ("agent", "-server", "-bootstrap-expect", "1", "-bind", ip, "-data-dir", str(data_dir))
    spec = ChildSpec(
        f"{root.name}-importtime",
        ip,
        (*argv, "-gossip-profile", "lan", "-log-level", "WARN"),
        data_dir=data_dir,
        program=agent_program(root, "-X", "importtime"),
    )
    wait_ports_free([spec], 15.0)
    with Supervisor(workdir / "logs", run_banners=False) as supervisor:
        agent = supervisor.start(spec)[0]
        supervisor.wait_healthy(timeout=60.0)
        agent.get("/v1/agent/members")
        supervisor.stop()
        text = agent.log_text()
    modules: set[str] = set()
    total_us = 0
    for line in text.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m is None:
            continue
        modules.add(m.group(4))
        if len(m.group(3)) == 1:  # a top-level entry: its cumulative time
            total_us += int(m.group(2))
    return modules, total_us / 1e6


def probe(modules: Sequence[str], root: Path) -> tuple[float, dict[str, float | None]]:
    """Base RSS of a fresh `python -P` and what importing each of `modules` adds, in order."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-P", "-c", _RSS + _PROBE, *modules],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    base = 0.0
    costs: dict[str, float | None] = {}
    for line in out.splitlines():
        name, value = line.split()
        if name == "base":
            base = float(value)
        elif name != "total":
            costs[name] = None if value == "missing" else float(value)
    return base, costs


def floor_mib(ip: str, seconds: float) -> float:
    """VmRSS of `_FLOOR` after `seconds` of serving."""
    out = subprocess.run(
        [sys.executable, "-P", "-c", _RSS + _FLOOR, ip, str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.split()[-1])


def top(module: str) -> str:
    return module.split(".")[0] if not module.startswith("agent.") else module


# ----------------------------------------------------------------------------- report


def fmt_mem(m: dict[str, float]) -> str:
    return f"{m['VmRSS']:.1f} (peak {m['VmHWM']:.1f})"


def fmt_parts(m: dict[str, float]) -> str:
    pss = f"{m['Pss']:.1f}" if "Pss" in m else "-"
    return f"{m.get('RssAnon', 0.0):.1f} / {m.get('RssFile', 0.0):.1f} / {pss}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--before", default="", help="another checkout, measured first (e.g. ../before)")
    p.add_argument("--roles", type=lambda s: s.split(","), default=list(ROLES))
    p.add_argument("--idle-seconds", type=float, default=10.0)
    p.add_argument("--load-requests", type=int, default=200)
    p.add_argument("--base-ip", default="127.0.2.1")
    p.add_argument("--skip-imports", action="store_true", help="agents' RSS only")
    args = p.parse_args(argv)
    if unknown := set(args.roles) - set(ROLES):
        p.error(f"unknown roles {sorted(unknown)}; choose from {ROLES}")
    checkouts = [Path(args.before).resolve()] if args.before else []
    checkouts.append(ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        readings: list[Reading] = []
        for i, root in enumerate(checkouts):
            readings += measure_roles(root, args, 4 * i, workdir)
        label = {str(c): ("before" if c != ROOT else "after") for c in checkouts}
        print(
            f"| role | checkout | VmRSS idle, MiB | after {args.load_requests} members reads "
            "| of which anon / file; Pss | threads | goal |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in readings:
            ok = r.idle["VmRSS"] < GOAL_IDLE_MIB and r.loaded["VmRSS"] < GOAL_LOADED_MIB
            print(
                f"| {r.role} | {label[r.checkout]} | {fmt_mem(r.idle)} | {fmt_mem(r.loaded)} "
                f"| {fmt_parts(r.loaded)} | {r.threads} "
                f"| < {GOAL_IDLE_MIB:.0f} / {GOAL_LOADED_MIB:.0f}: {'ok' if ok else 'MISSED'} |"
            )
        if args.skip_imports:
            return 0
        loaded = {}
        for i, root in enumerate(checkouts):
            modules, seconds = running_imports(root, nth_ip(args.base_ip, 12 + i), workdir)
            loaded[label[str(root)]] = modules
            print(
                f"\nserver agent, {label[str(root)]}: {len(modules)} modules imported, "
                f"-X importtime total {seconds:.2f} s"
            )
        alone: dict[str, float | None] = {}
        for name in IMPORTS_ALONE:
            base, costs = probe([name], ROOT)
            alone.update(costs)
        print(f"\nimport costs, this checkout; a fresh `python -P` is {base:.1f} MiB")
        print(
            "| module | RSS it adds alone, MiB | in the server agent: " + " / ".join(loaded) + " |"
        )
        print("|---|---|---|")
        for name, alone_cost in alone.items():
            tried = [
                any(m == top(name) or m.startswith(top(name) + ".") for m in mods)
                for mods in loaded.values()
            ]
            if alone_cost is None:  # -X importtime lists a failed attempt too
                held = " / ".join("tried" if t else "no" for t in tried)
            else:
                held = " / ".join("yes" if t else "no" for t in tried)
            shown = "not installed" if alone_cost is None else f"{alone_cost:.1f}"
            print(f"| {name} | {shown} | {held} |")
        floor = floor_mib(nth_ip(args.base_ip, 14), 2.0)
        print(f"\nthe floor: a one-route FastAPI app under uvicorn, nothing else: {floor:.1f} MiB")
        base, chain = probe(IMPORTS_CHAIN, ROOT)
        print(f"\nimports in the agent's order (fresh `python -P`: {base:.1f} MiB)")
        print("| module | adds, MiB | running total |")
        print("|---|---|---|")
        total = base
        for name, added in chain.items():
            total += added or 0.0
            print(f"| {name} | {added or 0.0:.1f} | {total:.1f} |")
        return 0
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)


if __name__ == "__main__":
    sys.exit(main())
