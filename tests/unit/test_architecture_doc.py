"""docs/ARCHITECTURE.md stays true: every path it names exists, and every folder is in it.

A newcomer finds things through that guide, so a moved or added part that it does not
follow is a broken promise; this test fails on both.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
TOP = ("agent", "gocompat", "gossip", "raft_stub", "tests", "bench", "deploy")
NAMED = re.compile(r"`((?:" + "|".join(TOP) + r")/[\w/.]*)`")


def test_every_path_the_guide_names_exists() -> None:
    named = NAMED.findall(GUIDE)
    assert len(named) > 50
    missing = sorted({p for p in named if not (ROOT / p.rstrip("/")).exists()})
    assert missing == []


def test_every_package_folder_is_in_the_guide() -> None:
    folders = sorted(
        str(p.parent.relative_to(ROOT))
        for top in ("agent", "gocompat", "gossip", "raft_stub")
        for p in (ROOT / top).rglob("__init__.py")
    )
    assert "agent/runtime" in folders
    assert [f for f in folders if f"`{f}/" not in GUIDE and f"`{f}`" not in GUIDE] == []
