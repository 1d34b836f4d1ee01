"""The layering rules, checked on the source: which package may import which.

The protocol cores (`gossip`, `raft_stub` and the RPC cores in `agent.rpc`) are sans-IO: no
sockets, clocks, threads or global randomness (an injected `random.Random` is fine), and none
of them imports the agent around it. Above them, layers point one way:

    gocompat                          Go's formats; imports nothing of ours
    gossip, raft_stub                 the cores; gocompat only
    agent.rpc                         the RPC port's cores; the cores above and gocompat
    agent.sim                         the simulated world; never the drivers or the agent
    agent.api                         the HTTP layer; the AgentAPI protocol, never the Agent
    agent (the rest)                  anything below, and the cores only through their facades

Relative imports are resolved before they are judged, so `from ..runtime import x` counts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = frozenset({"asyncio", "socket", "time", "threading", "uuid", "selectors", "os"})
ALLOWED_RANDOM_NAMES = frozenset({"Random"})
CORE_FACADES = frozenset({"gossip", "raft_stub", "gocompat"})


@dataclass(frozen=True)
class Layer:
    """A package prefix, the project packages its modules may import, and whether it is sans-IO."""

    prefix: str
    may_import: tuple[str, ...]
    sans_io: bool = False


LAYERS = (
    Layer("gocompat", ("gocompat",), sans_io=True),
    Layer("gossip", ("gossip", "gocompat"), sans_io=True),
    Layer("raft_stub", ("raft_stub", "gocompat"), sans_io=True),
    Layer("agent.rpc", ("agent.rpc", "gossip", "raft_stub", "gocompat"), sans_io=True),
    Layer("agent.sim", ("agent.sim", "gossip", "raft_stub", "gocompat")),
    Layer(
        "agent.api",
        ("agent.api", "agent.agent_api", "agent.errors", "agent.version", "gocompat"),
    ),
    Layer("agent", ("agent", "gossip", "raft_stub", "gocompat")),
)
OURS = ("agent", "gocompat", "gossip", "raft_stub")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of(module: str) -> Layer:
    """The most specific layer whose prefix names `module` or one of its parents."""
    for layer in LAYERS:
        if module == layer.prefix or module.startswith(layer.prefix + "."):
            return layer
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _imported(path: Path, tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every import, relative ones resolved."""
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((module, names))
    return found


def violations(path: Path) -> list[str]:
    """Every import of `path` that breaks its layer's rules, as readable lines."""
    tree = ast.parse(path.read_text(), filename=str(path))
    layer = _layer_of(_module_name(path))
    found: list[str] = []
    for module, names in _imported(path, tree):
        top = module.split(".")[0]
        if top in OURS and not _within(module, layer.may_import):
            found.append(f"{layer.prefix} imports {module}")
        if top in CORE_FACADES and layer.prefix.startswith("agent") and "." in module:
            found.append(f"{module}: the agent uses the cores through their facades")
        if layer.sans_io:
            if top in IO_MODULES:
                found.append(f"I/O module {module}")
            if top == "random" and set(names) - ALLOWED_RANDOM_NAMES:
                found.append(f"from random import {', '.join(names)}")
    if layer.sans_io:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "random"
                and node.attr not in ALLOWED_RANDOM_NAMES
            ):
                found.append(f"random.{node.attr} (the module-level RNG)")
    return found


def _project_files() -> list[Path]:
    return sorted(p for top in OURS for p in (ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", _project_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_keeps_to_its_layer(path: Path) -> None:
    assert violations(path) == []


def test_every_layer_has_modules() -> None:
    names = [_module_name(p) for p in _project_files()]
    for layer in LAYERS:
        assert any(_within(n, (layer.prefix,)) for n in names), layer.prefix


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("relative", "text", "expected"),
    [
        (
            "gossip/bad.py",
            "import time\nimport random\nx = random.random()\nfrom agent import cli\n",
            ["I/O module time", "gossip imports agent", "random.random (the module-level RNG)"],
        ),
        ("gossip/rel.py", "from ..agent import server\n", ["gossip imports agent"]),
        (
            "agent/rpc/rel.py",
            "from ..runtime import rpc_aio\n",
            ["agent.rpc imports agent.runtime"],
        ),
        ("agent/rpc/io.py", "import asyncio\n", ["I/O module asyncio"]),
        (
            "agent/sim/rel.py",
            "from ..runtime.gossip_sim import x\n",
            ["agent.sim imports agent.runtime.gossip_sim"],
        ),
        ("agent/api/x.py", "from agent.agent import Agent\n", ["agent.api imports agent.agent"]),
        (
            "agent/roles/x.py",
            "from gossip.serf import SerfCore\n",
            ["gossip.serf: the agent uses the cores through their facades"],
        ),
        ("agent/roles/ok.py", "from gossip import SerfCore\nfrom . import client\n", []),
        ("raft_stub/ok.py", "from random import Random\nfrom .log import RaftLog\n", []),
    ],
)
def test_checker_catches_violations(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, relative: str, text: str, expected: list[str]
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert sorted(violations(_write(tmp_path, relative, text))) == sorted(expected)
