"""`gossip-agent demo [flags]`: a live simulated cluster to watch and break in a browser.

Flags, Nomad-style with one dash (two work too): -servers N -clients N -nodes N -seed S
-profile lan|wan|local -speed X -scenario NAME -bind ADDR -http-port PORT -no-agent-apis
-paused -list-scenarios. A scenario suggests its own speed and gossip-only node count unless
`-speed` or `-nodes` is given. Bad flags are one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from agent.cli.go_flags import BOOLEAN, GoFlagParser
from agent.demo.errors import DemoInputError
from agent.demo.scenarios import SCENARIOS, scenario_named
from agent.demo.server import run_demo
from agent.demo.settings import DemoSettings, Profile
from agent.launch.sim_http import BindError

PROG = "gossip-agent demo"


class DemoCliError(Exception):
    """A usage problem: one line on stderr, exit status 1."""


class _Parser(GoFlagParser):
    usage_error = DemoCliError


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="A simulated cluster of real agents, paced to the wall clock, at /ui.",
    )

    def flag(name: str, **kwargs: Any) -> None:
        parser.add_argument(f"-{name}", f"--{name}", **kwargs)

    boolean = BOOLEAN
    flag("servers", type=int, default=3, metavar="N", help="servers with raft (default 3)")
    flag("clients", type=int, default=2, metavar="N", help="clients with heartbeats (default 2)")
    flag("nodes", type=int, metavar="N", help="gossip-only serf members (default 0)")
    flag("seed", type=int, default=1, metavar="S", help="the run is a function of it (default 1)")
    flag("profile", default="lan", choices=[p.value for p in Profile], help="memberlist timings")
    flag("speed", type=float, metavar="X", help="virtual seconds per wall second (default 1)")
    flag("scenario", default="", metavar="NAME", help="a scripted demo (see -list-scenarios)")
    flag("bind", default="127.0.0.1", metavar="ADDR", help="the page's address")
    flag("http-port", type=int, default=4646, metavar="PORT", help="the page's port (4646)")
    flag("no-agent-apis", help="do not serve each node's Nomad API", **boolean)
    flag("paused", help="start with the clock stopped", **boolean)
    flag("list-scenarios", help="list the scenarios and exit", **boolean)
    return parser


def settings_from(argv: Sequence[str]) -> DemoSettings | None:
    """The settings the flags ask for; None for `-list-scenarios` (printed here).

    Raises:
        DemoCliError: a bad flag or value.
    """
    args = build_parser().parse_args(list(argv))
    if args.list_scenarios:
        width = max(len(s.name) for s in SCENARIOS)
        for s in SCENARIOS:
            print(f"{s.name.ljust(width)}  {s.title} (speed {s.speed:g}x)")
            print(f"{' ' * width}  {s.explanation}")
        return None
    try:
        scenario = scenario_named(args.scenario)
        nodes = args.nodes
        if nodes is None:
            nodes = scenario.suggested_nodes if scenario is not None else 0
        speed = args.speed
        if speed is None:
            speed = scenario.speed if scenario is not None else 1.0
        return DemoSettings(
            servers=args.servers,
            clients=args.clients,
            nodes=nodes,
            seed=args.seed,
            profile=Profile(args.profile),
            speed=speed,
            scenario=args.scenario,
            bind=args.bind,
            http_port=args.http_port,
            agent_apis=not args.no_agent_apis,
            start_paused=bool(args.paused),
        )
    except DemoInputError as exc:
        raise DemoCliError(str(exc)) from None


def main(argv: Sequence[str]) -> int:
    try:
        settings = settings_from(argv)
        if settings is None:
            return 0
        return asyncio.run(run_demo(settings))
    except DemoCliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BindError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
