"""`gossip-agent agent [flags]`: Nomad's agent command, with Nomad's single-dash flags.

Flags (a double dash works too): -dev -server -client -bootstrap-expect N -node NAME
-region R -dc DC -bind ADDR -data-dir DIR -config FILE (repeatable) -log-level LEVEL
-acl-enabled -join ADDR -retry-join ADDR -retry-interval D -retry-max N -rejoin -encrypt KEY
-servers A,B, -log-json, and ours: -http-port -rpc-port -serf-port
-gossip-profile wan|lan|local -enable-fault-injection.

The CLI owns the agent's lifecycle (not the ASGI lifespan): it binds the listeners, starts
the agent and uvicorn in one event loop, prints where everything listens, and on SIGINT or
SIGTERM leaves the gossip pool if `leave_on_interrupt` / `leave_on_terminate` say so, then
shuts down. A second signal skips the graceful part. Any bad flag, config file or value is
one line on stderr naming what is wrong, and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn
from pydantic import ValidationError

from agent.agent import Agent
from agent.api import create_app
from agent.cli.go_flags import BOOLEAN, GoFlagParser
from agent.config.files import ConfigFileError, load_config_files
from agent.config.listeners import Listeners
from agent.config.settings import Settings, deep_merge, format_validation_error
from agent.errors import AgentError
from agent.launch.http_server import EmbeddedServer
from agent.launch.real import ListenError, bind_http, start_agent
from agent.state.data_dir import DataDirError
from agent.telemetry.log_format import LogFormat, formatter_for
from agent.version import NOMAD_VERSION

PROG = "gossip-agent"
log = logging.getLogger("gossip_agent")
NOMAD_COMMAND_WORDS = frozenset({"server", "agent-info", "node", "operator", "monitor", "status"})
"""First words of Nomad's CLI commands (agent/cli/nomad_commands), kept here so `agent` and
`cluster` start without importing them; tests/unit/cli/test_dispatch.py checks the list."""
NOMAD_COMMANDS_HELP = (
    f"{PROG} server members|join|force-leave, agent-info, node status, operator raft "
    "list-peers|remove-peer, monitor, status leader: Nomad's CLI, over HTTP, so against "
    "a real Nomad too (-address, -region, -token, -json; -help on each)"
)


class CliError(Exception):
    """A usage or configuration problem: printed as one line, exit status 1."""


class _Parser(GoFlagParser):
    usage_error = CliError


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="A Nomad-style gossip agent.",
        epilog=NOMAD_COMMANDS_HELP,
    )
    commands = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    agent = commands.add_parser("agent", help="run an agent", allow_abbrev=False)

    def flag(name: str, **kwargs: Any) -> None:
        agent.add_argument(f"-{name}", f"--{name}", **kwargs)

    boolean = BOOLEAN
    flag("dev", help="dev mode: server + client on 127.0.0.1", **boolean)
    flag("server", help="run the server half", **boolean)
    flag("client", help="run the client half", **boolean)
    flag("bootstrap-expect", type=int, metavar="N", help="servers to wait for (1: alone)")
    flag("node", metavar="NAME", help="node name (default: host name)")
    flag("region", help="region (default: global)")
    flag("dc", help="datacenter (default: dc1)")
    flag("bind", metavar="ADDR", help="address for all listeners")
    flag("data-dir", metavar="DIR", help="state directory (ACL tokens and policies)")
    flag("acl-enabled", help="enforce ACLs (bootstrap with POST /v1/acl/bootstrap)", **boolean)
    flag("config", action="append", metavar="FILE", help="JSON config file or directory")
    flag("log-level", metavar="LEVEL", help="TRACE, DEBUG, INFO, WARN or ERR")
    flag("log-json", help="write each log line as one JSON object", **boolean)
    flag("http-port", type=int, metavar="PORT", help="HTTP API port (default 4646)")
    flag("rpc-port", type=int, metavar="PORT", help="RPC port (default 4647)")
    flag("serf-port", type=int, metavar="PORT", help="gossip port, UDP+TCP (default 4648)")
    flag("gossip-profile", metavar="NAME", help="memberlist timings: wan (default), lan, local")
    flag("join", action="append", metavar="ADDR", help="server: serf address to join at start")
    flag("retry-join", action="append", metavar="ADDR", help="server: join, retrying until ok")
    flag("retry-interval", metavar="DURATION", help="server: time between join attempts (30s)")
    flag("retry-max", type=int, metavar="N", help="server: retries before exiting, 0: forever")
    flag("rejoin", help="server: rejoin the known peers even after a leave", **boolean)
    flag("encrypt", metavar="KEY", help="server: gossip key, base64 of 16, 24 or 32 bytes")
    flag("servers", metavar="ADDRS", help="client: comma-separated server RPC addresses")
    flag(
        "enable-fault-injection",
        help="serve /v1/agent/fault: drop and delay this agent's serf and RPC traffic",
        **boolean,
    )
    return parser


def _split_list(text: str | None) -> list[str] | None:
    """Nomad's `-servers a,b` (empty items dropped)."""
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


def _flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The flags actually given, as nested Settings keys."""
    pairs: list[tuple[tuple[str, ...], Any]] = [
        (("dev_mode",), args.dev),
        (("server", "enabled"), args.server),
        (("client", "enabled"), args.client),
        (("server", "bootstrap_expect"), args.bootstrap_expect),
        (("name",), args.node),
        (("region",), args.region),
        (("datacenter",), args.dc),
        (("bind_addr",), args.bind),
        (("data_dir",), args.data_dir),
        (("acl", "enabled"), args.acl_enabled),
        (("log_level",), args.log_level),
        (("ports", "http"), args.http_port),
        (("ports", "rpc"), args.rpc_port),
        (("ports", "serf"), args.serf_port),
        (("gossip_profile",), args.gossip_profile),
        (("server", "start_join"), args.join),
        (("server", "retry_join"), args.retry_join),
        (("server", "retry_interval"), args.retry_interval),
        (("server", "retry_max"), args.retry_max),
        (("server", "rejoin_after_leave"), args.rejoin),
        (("server", "encrypt"), args.encrypt),
        (("client", "servers"), _split_list(args.servers)),
        (("enable_fault_injection",), args.enable_fault_injection),
    ]
    out: dict[str, Any] = {}
    for path, value in pairs:
        if value is None:
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def load_settings(argv: Sequence[str]) -> Settings:
    """Parse `agent` flags and build the Settings.

    Raises:
        CliError: bad flag, unreadable config file, or an invalid value.
    """
    args = build_parser().parse_args(["agent", *argv])
    try:
        file_values = load_config_files(args.config or [])
    except ConfigFileError as exc:
        raise CliError(f"config file {exc}") from None
    try:
        return Settings(**deep_merge(file_values, _flag_values(args)))
    except ValidationError as exc:
        raise CliError(format_validation_error(exc)) from None


# ---- logging ------------------------------------------------------------------------------


def log_format_of(argv: Sequence[str]) -> LogFormat:
    """`-log-json` among the `agent` flags (a flag only: Settings has no key for it).

    Raises:
        CliError: bad flag.
    """
    args = build_parser().parse_args(["agent", *argv])
    return LogFormat.JSON if args.log_json else LogFormat.TEXT


def configure_logging(level: str, fmt: LogFormat = LogFormat.TEXT) -> None:
    """stderr at `level`, in Nomad's text lines or one JSON object per line.

    The level filters on the handler as well as the root logger, so a `/v1/agent/monitor`
    asking for more detail (it lowers the agent's logger while attached) never adds lines
    to stderr.
    """
    numeric = {"TRACE": logging.DEBUG, "WARN": logging.WARNING, "ERR": logging.ERROR}.get(
        level, getattr(logging, level, logging.INFO)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(fmt))
    handler.setLevel(numeric)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)


# ---- running --------------------------------------------------------------------------------


def banner(settings: Settings, listeners: Listeners) -> str:
    serf = listeners.serf
    lines = [
        f"==> Starting {PROG} agent (Nomad {NOMAD_VERSION} API)...",
        "==> Agent configuration:",
        "",
        f"       Advertise Addrs: HTTP: {listeners.http.advertise}; RPC: "
        f"{listeners.rpc.advertise}; Serf: {serf.advertise}",
        f"            Bind Addrs: HTTP: {listeners.http.bind}"
        + (f"; Serf: {serf.bind} (udp+tcp)" if settings.server.enabled else ""),
        f"                Client: {str(settings.client.enabled).lower()}",
        f"             Log Level: {settings.log_level}",
        f"                  Node: {settings.node_name}",
        f"                Region: {settings.region} (DC: {settings.datacenter})",
        f"                Server: {str(settings.server.enabled).lower()}"
        + (f" (gossip profile {settings.gossip_profile})" if settings.server.enabled else ""),
        "",
        "==> Agent started! Log data will stream in below:",
    ]
    return "\n".join(lines)


async def run_agent(settings: Settings, log_format: LogFormat = LogFormat.TEXT) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 1 if a listener cannot be bound or the
    agent gives up on its own (every `retry_max` join attempt failed). `log_format` is how
    `/v1/agent/monitor` streams lines (stderr is set up by `configure_logging`)."""
    loop = asyncio.get_running_loop()
    signals: asyncio.Queue[int] = asyncio.Queue()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    try:
        http_sock = bind_http(settings)
    except ListenError as exc:
        raise CliError(str(exc)) from None
    try:
        agent = await start_agent(settings, http_port=http_sock.getsockname()[1])
    except (ListenError, DataDirError, AgentError) as exc:
        http_sock.close()
        raise CliError(str(exc)) from None
    agent.log_format = log_format
    listeners = agent.listeners
    server = EmbeddedServer(
        uvicorn.Config(
            create_app(agent),
            lifespan="off",
            server_header=False,
            log_config=None,
            access_log=settings.log_level in ("TRACE", "DEBUG"),
        )
    )
    print(banner(settings, listeners), flush=True)
    serving = asyncio.create_task(server.serve(sockets=[http_sock]))
    waiting = asyncio.create_task(signals.get())
    failing = asyncio.create_task(agent.wait_fatal())
    await asyncio.wait([serving, waiting, failing], return_when=asyncio.FIRST_COMPLETED)
    if waiting.done():
        await _graceful_stop(agent, settings, waiting.result(), signals)
    else:
        waiting.cancel()
    status = 1 if failing.done() else 0
    failing.cancel()
    server.stop()
    await serving
    log.info("agent: requesting shutdown")
    if agent.is_server:
        log.info("nomad: shutting down server")
    await agent.shutdown()
    http_sock.close()
    log.info("agent: shutdown complete")
    return status


async def _graceful_stop(
    agent: Agent, settings: Settings, sig: int, signals: asyncio.Queue[int]
) -> None:
    name = signal.Signals(sig).name
    leave = settings.leave_on_interrupt if sig == signal.SIGINT else settings.leave_on_terminate
    log.info("agent: caught signal %s, %s", name, "leaving" if leave else "shutting down")
    if not leave or not agent.is_server:
        return
    leaving = asyncio.create_task(agent.leave())
    again = asyncio.create_task(signals.get())
    await asyncio.wait([leaving, again], return_when=asyncio.FIRST_COMPLETED)
    if again.done():
        log.warning("agent: second signal, skipping graceful leave")
        leaving.cancel()
    else:
        again.cancel()
        log.info("agent: graceful leave complete")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            stream = sys.stdout if argv else sys.stderr
            build_parser().print_help(stream)
            print(
                f"\n{PROG} cluster [-data-dir DIR] [-log-dir DIR]: docker-compose.yml's"
                " 3 servers and 2 clients as processes on 127.0.0.11-15",
                file=stream,
            )
            print(
                f"{PROG} demo [-servers 3] [-clients 2] [-nodes N] [-seed S] [-scenario NAME]"
                " ...: a simulated cluster to watch and break at http://127.0.0.1:4646/ui"
                " (-list-scenarios, -h for every flag)",
                file=stream,
            )
            return 0 if argv else 1
        if argv[0] in NOMAD_COMMAND_WORDS:  # Nomad's CLI: HTTP only, no agent in this process
            from agent.cli.nomad_commands import run as run_nomad_command

            return run_nomad_command(argv)
        if argv[0] == "cluster":
            from agent.cli.cluster_command import (
                main as cluster_main,  # spawns agents; no asyncio here
            )

            return cluster_main(argv[1:])
        if argv[0] == "demo":
            from agent.cli.demo_command import main as demo_main  # imports the simulator

            return demo_main(argv[1:])
        if argv[0] != "agent":
            raise CliError(f"unknown command {argv[0]!r}; try: {PROG} agent -dev")
        settings = load_settings(argv[1:])
        log_format = log_format_of(argv[1:])
        configure_logging(settings.log_level, log_format)
        return asyncio.run(run_agent(settings, log_format))
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
