"""The layering rules of the brief, checked on the source: protocol cores stay sans-IO.

`gossip` and `raft_stub` must not import `agent`, asyncio, socket, time, threading, or use
the module-level functions of `random` (an injected random.Random is fine).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE_PACKAGES = ("gossip", "raft_stub")
FORBIDDEN_MODULES = {"agent", "asyncio", "socket", "time", "threading", "uuid", "selectors"}
ALLOWED_RANDOM_NAMES = {"Random"}


def _core_files() -> list[Path]:
    return sorted(p for pkg in CORE_PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in FORBIDDEN_MODULES:
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_MODULES:
                found.append(f"from {node.module} import ...")
            if top == "random":
                bad = [a.name for a in node.names if a.name not in ALLOWED_RANDOM_NAMES]
                if bad:
                    found.append(f"from random import {', '.join(bad)}")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr not in ALLOWED_RANDOM_NAMES
        ):
            found.append(f"random.{node.attr} (module-level RNG)")
        elif isinstance(node, ast.Attribute) and node.attr == "urandom":
            found.append("os.urandom")
    return found


def test_core_files_exist() -> None:
    assert any(p.parent.name == "gossip" for p in _core_files())


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_is_sans_io(path: Path) -> None:
    assert _violations(path) == []


def test_checker_catches_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nimport random\nx = random.random()\nfrom agent import cli\n")
    assert len(_violations(bad)) == 3
