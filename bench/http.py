"""HTTP API throughput: the agent's members/self endpoints against a bare uvicorn app.

    python bench/http.py [--requests 20000] [--rounds 3] [--connections 16] [--clients 2]
                         [--members 1 1000]

For each member count, one process serves the real app (`create_app(agent)`) on one uvicorn
worker; the agent is a simulated dev agent (`agent.launch.simulated.SimAgents`) that joined
`members - 1` other simulated agents through the real serf push-pull, so every record in
`/v1/agent/members` is a real gossip member (that process also holds the other agents, which
a real agent would not). A second process serves a bare ASGI app (no framework) on one
uvicorn worker that returns the bytes the agent returned for the same path, with the same
Content-Type. Both run in the same invocation, on loopback only; `--clients` load processes
keep `--connections` keep-alive connections busy in total, for `--requests` timed requests per
round (after a warm-up of a tenth of that). Agent and bare rounds alternate, `--rounds` of
each (the first server of a pair swaps every round), so drift in the machine's load hits both.

Reported per case: requests/s (median of the rounds), p50 and p99 latency (over every round's
requests), the server process's CPU time per request (Linux; median of the rounds), and the
agent / bare throughput ratio. The issue's goal: a ratio of at least 0.7 on every row (members
and self, with 1 and with 1,000 members); the last line says whether it was met.
"""
# ruff: noqa: E402

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's `http` package, which uvicorn and starlette
# import: take the script's own directory off the path before anything imports them.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import tempfile
import time

HOST = "127.0.0.31"
PATHS = ("/v1/agent/members", "/v1/agent/self")
ROOT = Path(__file__).resolve().parents[1]


# ---- servers (run as subprocesses of this script) -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def _serve_agent(members: int, port: int) -> None:
    import uvicorn

    from agent.api import create_app
    from agent.launch.simulated import SimAgents

    world = SimAgents(seed=1)
    agent = await world.add("bench", dev=True)
    others = [f"n{i}" for i in range(members - 1)]
    for i, name in enumerate(others):
        await world.add(name, bind_addr=f"127.2.{i // 250}.{i % 250 + 1}")
    if others:
        result = await agent.join([str(world.serf_addr(n)) for n in others])
        assert result.num_joined == len(others), result.error
    view = await agent.members()
    assert len(view.members) == members and {m.status for m in view.members} == {"alive"}
    config = uvicorn.Config(
        create_app(agent),
        host=HOST,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        workers=1,
    )
    print("READY", flush=True)
    await uvicorn.Server(config).serve()


def _serve_bare(bodies_file: str, port: int) -> None:
    import uvicorn

    bodies = {k: bytes.fromhex(v) for k, v in json.loads(Path(bodies_file).read_text()).items()}
    starts = {
        path: {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
        for path, body in bodies.items()
    }
    messages = {path: {"type": "http.response.body", "body": body} for path, body in bodies.items()}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        path = scope["path"]
        await send(starts[path])
        await send(messages[path])

    print("READY", flush=True)
    uvicorn.run(
        app,
        host=HOST,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        workers=1,
    )


class Server:
    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if line != "READY":
            self.stop()
            raise RuntimeError(f"server {args} did not start: {line!r}")
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get(self, path: str) -> bytes:
        import httpx

        response = httpx.get(f"http://{HOST}:{self.port}{path}", timeout=10)
        response.raise_for_status()
        return response.content

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---- load generator ------------------------------------------------------------------------


async def _connection(port: int, path: str, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    clock = time.perf_counter
    try:
        for _ in range(count):
            start = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lowered = head.lower()
            if not lowered.startswith(b"http/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            at = lowered.index(b"content-length:") + len(b"content-length:")
            length = int(lowered[at : lowered.index(b"\r\n", at)])
            await reader.readexactly(length)
            latencies.append(clock() - start)
    finally:
        writer.close()


def _client(port: int, path: str, connections: int, count: int, out: mp.Queue) -> None:
    async def run() -> list[float]:
        latencies: list[float] = []
        per = [
            count // connections + (1 if i < count % connections else 0) for i in range(connections)
        ]
        await asyncio.gather(*(_connection(port, path, n, latencies) for n in per if n))
        return latencies

    out.put(asyncio.run(run()))


def load(
    port: int, path: str, requests: int, connections: int, clients: int
) -> tuple[float, list[float]]:
    """Wall-clock seconds for `requests` requests, and every request's latency."""
    per_client = [
        requests // clients + (1 if i < requests % clients else 0) for i in range(clients)
    ]
    conns = max(1, connections // clients)
    queue: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_client, args=(port, path, conns, n, queue)) for n in per_client]
    start = time.perf_counter()
    for p in procs:
        p.start()
    latencies: list[float] = []
    for _ in procs:
        latencies += queue.get()
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return elapsed, latencies


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


GOAL = 0.7


class Side:
    """One server's results for one case: per-round req/s and CPU per request, all latencies."""

    def __init__(self) -> None:
        self.rps: list[float] = []
        self.cpu_us: list[float] = []
        self.latencies: list[float] = []

    def run(self, server: Server, path: str, args: argparse.Namespace) -> None:
        before = cpu_seconds(server.proc.pid)
        elapsed, lat = load(server.port, path, args.requests, args.connections, args.clients)
        after = cpu_seconds(server.proc.pid)
        self.rps.append(len(lat) / elapsed)
        self.latencies += lat
        if before is not None and after is not None:
            self.cpu_us.append((after - before) / len(lat) * 1e6)

    def cells(self) -> str:
        cpu = f"{statistics.median(self.cpu_us):.0f}" if self.cpu_us else "-"
        return (
            f"{statistics.median(self.rps):,.0f} | {statistics.median(self.latencies) * 1e3:.2f} "
            f"| {percentile(self.latencies, 0.99) * 1e3:.2f} | {cpu}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="timed requests per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds per server and case"
    )
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 1000])
    args = parser.parse_args()

    rows = []
    for members in args.members:
        agent = Server("_serve-agent", "--members", str(members))
        try:
            bodies = {path: agent.get(path) for path in PATHS}
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump({k: v.hex() for k, v in bodies.items()}, f)
            bare = Server("_serve-bare", "--bodies", f.name)
            try:
                for path in PATHS:
                    servers = {"agent": agent, "bare": bare}
                    for server in servers.values():
                        load(server.port, path, args.requests // 10, args.connections, args.clients)
                    sides = {"agent": Side(), "bare": Side()}
                    for round_ in range(args.rounds):
                        order = ("agent", "bare") if round_ % 2 == 0 else ("bare", "agent")
                        for label in order:
                            sides[label].run(servers[label], path, args)
                    ratio = statistics.median(sides["agent"].rps) / statistics.median(
                        sides["bare"].rps
                    )
                    rows.append((members, path, len(bodies[path]), sides, ratio))
                    print(f"  done: {members} members {path}: ratio {ratio:.2f}", file=sys.stderr)
            finally:
                bare.stop()
                os.unlink(f.name)
        finally:
            agent.stop()

    print(
        f"\n{args.requests} requests per round, {args.rounds} rounds per server, "
        f"{args.connections} keep-alive connections, {args.clients} client processes, "
        f"one uvicorn worker, {HOST}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n"
    )
    print(
        "| members | path | body bytes | agent req/s | agent p50 ms | agent p99 ms "
        "| agent CPU us/req | bare req/s | bare p50 ms | bare p99 ms | bare CPU us/req "
        "| agent/bare |"
    )
    print("|---" * 12 + "|")
    for members, path, size, sides, ratio in rows:
        print(
            f"| {members} | `{path}` | {size} | {sides['agent'].cells()} "
            f"| {sides['bare'].cells()} | {ratio:.2f} |"
        )
    missed = [f"{m} members {p}" for m, p, _, _, ratio in rows if ratio < GOAL]
    verdict = "met" if not missed else "not met: " + ", ".join(missed)
    print(f"\ngoal (agent/bare >= {GOAL} on every row): {verdict}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_serve-agent", "_serve-bare"):
        sub = argparse.ArgumentParser()
        sub.add_argument("mode")
        sub.add_argument("--port", type=int, required=True)
        sub.add_argument("--members", type=int, default=1)
        sub.add_argument("--bodies")
        a = sub.parse_args()
        if a.mode == "_serve-agent":
            asyncio.run(_serve_agent(a.members, a.port))
        else:
            _serve_bare(a.bodies, a.port)
    else:
        main()
