"""DataDir: layout, the foreign/corrupt checks and their messages, and atomic writes that
survive a crash between writing the temp file and renaming it (including a real kill -9)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.acl import store as acl_store_module
from agent.acl.store import AclStateError, AclStore
from agent.state.data_dir import (
    ACL_STATE,
    CLIENT_ID,
    MARKER,
    RAFT_STATE,
    SERF_SNAPSHOT,
    DataDir,
    DataDirError,
    write_atomic,
)
from agent.state.serf_snapshot import SerfSnapshot

Damage = Callable[[bytes], bytes]
ROOT = Path(__file__).resolve().parents[3]
SNAP = SerfSnapshot(
    alive=(("b", "10.0.0.2:4648"), ("c", "[fd00::3]:4648")),
    clock=41,
    event_clock=3,
    query_clock=2,
    incarnation=7,
)


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def wall() -> float:
    return 1_700_000_000.0


# ---- opening: new, adopted, foreign -------------------------------------------------------------


def test_first_use_creates_the_directory_and_writes_the_marker(tmp_path: Path) -> None:
    root = tmp_path / "a" / "data"
    DataDir(root)
    assert files(root) == [MARKER]
    assert json.loads((root / MARKER).read_text()) == {"format": 1}
    DataDir(root)  # and opens again
    assert files(root) == [MARKER]


def test_an_empty_directory_is_taken(tmp_path: Path) -> None:
    DataDir(tmp_path)
    assert files(tmp_path) == [MARKER]


def test_an_unmarked_directory_holding_only_our_files_is_adopted(tmp_path: Path) -> None:
    """A data dir written before the marker existed (it held only server/acl.json)."""
    (tmp_path / "server").mkdir()
    (tmp_path / ACL_STATE).write_text("{}")
    (tmp_path / "client").mkdir()
    DataDir(tmp_path)
    assert files(tmp_path) == [MARKER, ACL_STATE]


@pytest.mark.parametrize(
    ("entries", "found"),
    [
        pytest.param(["raft/raft.db"], "raft/raft.db", id="a-file-below"),
        pytest.param(
            ["server/raft/raft.db", "server/serf/local.keyring", "client/state.db", "alloc/"],
            "alloc/ and 3 more",
            id="a-nomad-data-dir",
        ),
        pytest.param(["notes.txt"], "notes.txt", id="a-stray-file"),
        pytest.param(["server/raft/"], "server/raft/", id="an-empty-unknown-dir"),
        pytest.param([".bashrc", ACL_STATE], ".bashrc", id="ours-and-someone-elses"),
    ],
)
def test_a_foreign_directory_is_refused_naming_what_was_found(
    tmp_path: Path, entries: list[str], found: str
) -> None:
    for entry in entries:
        path = tmp_path / entry
        if entry.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    before = files(tmp_path)
    with pytest.raises(DataDirError) as caught:
        DataDir(tmp_path)
    assert str(caught.value) == (
        f"data dir {tmp_path}: not a gossip-agent data dir (found {found}); use an empty directory"
    )
    assert files(tmp_path) == before  # nothing written into someone else's directory


def test_a_marked_directory_may_hold_other_files(tmp_path: Path) -> None:
    DataDir(tmp_path)
    (tmp_path / "README").write_text("the operator's notes")
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "notes.txt").write_text("more notes")
    marker = (tmp_path / MARKER).read_bytes()
    again = DataDir(tmp_path)  # no DataDirError: the marker vouches for the directory
    again.save_serf_snapshot(SNAP)  # and it is used as usual
    assert DataDir(tmp_path).load_serf_snapshot() == SNAP
    assert files(tmp_path) == sorted([MARKER, "README", "server/notes.txt", SERF_SNAPSHOT])
    assert (tmp_path / "README").read_text() == "the operator's notes"  # left alone
    assert (tmp_path / "server" / "notes.txt").read_text() == "more notes"
    assert (tmp_path / MARKER).read_bytes() == marker


def test_a_file_is_not_a_data_dir(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("")
    with pytest.raises(DataDirError, match=rf"^data dir {path}: not a directory$"):
        DataDir(path)


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "data"
    with pytest.raises(DataDirError, match=rf"^data dir {path}: cannot use it: "):
        DataDir(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{nope", "corrupt gossip-agent.json: Expecting", id="garbled"),
        pytest.param(b"", "corrupt gossip-agent.json: Expecting value", id="empty"),
        pytest.param(b"\xff\xfe", "corrupt gossip-agent.json: ", id="not-utf8"),
        pytest.param(
            b"[1]", 'corrupt gossip-agent.json: want an object with a "format"', id="list"
        ),
        pytest.param(
            b'{"format": 2}',
            "unsupported format 2 in gossip-agent.json (this agent reads format 1)",
            id="newer-format",
        ),
        pytest.param(b'{"format": true}', "unsupported format True", id="bool-is-not-1"),
    ],
)
def test_a_bad_marker_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / MARKER).write_bytes(content)
    with pytest.raises(DataDirError) as caught:
        DataDir(tmp_path)
    assert str(caught.value).startswith(f"data dir {tmp_path}: {message}")
    assert "\n" not in str(caught.value)


# ---- serf snapshot, raft state, client ID -------------------------------------------------------


def test_serf_snapshot_round_trip(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    assert dd.load_serf_snapshot() is None
    dd.save_serf_snapshot(SNAP)
    assert DataDir(tmp_path).load_serf_snapshot() == SNAP
    assert dd.serf_snapshot_path == tmp_path / SERF_SNAPSHOT
    assert (tmp_path / SERF_SNAPSHOT).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], "not JSON: ", id="truncated"),
        pytest.param(lambda raw: b"", "not JSON: Expecting value", id="empty"),
        pytest.param(lambda raw: b"\x00\xff garbage", "not ", id="garbage"),
        pytest.param(
            lambda raw: raw.replace(b'"clock": 41', b'"clock": -41'),
            "clock must be",
            id="bad-value",
        ),
    ],
)
def test_a_damaged_serf_snapshot_is_a_clear_error(
    tmp_path: Path, damage: Damage, reason: str
) -> None:
    dd = DataDir(tmp_path)
    dd.save_serf_snapshot(SNAP)
    path = tmp_path / SERF_SNAPSHOT
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataDirError) as caught:
        dd.load_serf_snapshot()
    message = str(caught.value)
    assert message.startswith(f"data dir {tmp_path}: corrupt server/serf.json: {reason}")
    assert "\n" not in message


def test_raft_state_round_trip_is_opaque_bytes(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    assert dd.read_raft_state() is None
    payload = bytes(range(256)) * 3
    dd.write_raft_state(payload)
    assert DataDir(tmp_path).read_raft_state() == payload
    dd.write_raft_state(b"")
    assert dd.read_raft_state() == b""


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(
            lambda raw: raw[:-1], "checksum mismatch (truncated or damaged)", id="truncated"
        ),
        pytest.param(lambda raw: raw[:3], "3 bytes is shorter than the 8-byte header", id="stub"),
        pytest.param(lambda raw: b"XXXX" + raw[4:], "bad magic b'XXXX'", id="magic"),
        pytest.param(
            lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "checksum mismatch", id="bitflip"
        ),
    ],
)
def test_damaged_raft_state_is_a_clear_error(tmp_path: Path, damage: Damage, reason: str) -> None:
    dd = DataDir(tmp_path)
    dd.write_raft_state(b"term=3 vote=n2")
    path = tmp_path / RAFT_STATE
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataDirError) as caught:
        dd.read_raft_state()
    assert str(caught.value).startswith(f"data dir {tmp_path}: corrupt server/raft.bin: {reason}")


def test_client_node_id_is_made_once_from_the_rng_then_kept(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    first = dd.client_node_id(random.Random(7))
    assert first == dd.client_node_id(random.Random(99))  # saved: the rng is not used again
    assert uuid.UUID(first).version == 4 and str(uuid.UUID(first)) == first
    assert (tmp_path / CLIENT_ID).read_text() == first  # as Nomad: the bare ID, no newline
    assert DataDir(tmp_path / "other").client_node_id(random.Random(7)) == first  # seeded


def test_a_client_id_written_by_hand_with_a_newline_is_accepted(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    (tmp_path / "client").mkdir()
    (tmp_path / CLIENT_ID).write_text("5A1B3C4D-0000-4000-8000-00000000000F\n")
    assert dd.client_node_id(random.Random(1)) == "5a1b3c4d-0000-4000-8000-00000000000f"


@pytest.mark.parametrize(
    "content", [b"", b"not-a-uuid", b"\xff\xfe", b"5a1b3c4d00004000800000000000000f"]
)
def test_a_damaged_client_id_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    dd = DataDir(tmp_path)
    (tmp_path / "client").mkdir()
    (tmp_path / CLIENT_ID).write_bytes(content)
    with pytest.raises(DataDirError, match=rf"^data dir {tmp_path}: corrupt client/client-id: "):
        dd.client_node_id(random.Random(1))


# ---- atomic writes ------------------------------------------------------------------------------


def test_a_crash_between_temp_write_and_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dd = DataDir(tmp_path)
    dd.save_serf_snapshot(SNAP)
    old = (tmp_path / SERF_SNAPSHOT).read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(DataDirError, match=r"cannot write server/serf.json: No space left"):
        dd.save_serf_snapshot(SerfSnapshot(clock=99))
    monkeypatch.undo()
    assert (tmp_path / SERF_SNAPSHOT).read_bytes() == old
    assert files(tmp_path) == [MARKER, SERF_SNAPSHOT]  # the temp file was removed
    assert dd.load_serf_snapshot() == SNAP


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from agent.state.data_dir import write_atomic
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
write_atomic(Path(sys.argv[1]), b"new content that must never be seen half-written")
"""


def test_kill_9_before_the_rename_leaves_the_old_file_and_a_temp_the_next_open_removes(
    tmp_path: Path,
) -> None:
    dd = DataDir(tmp_path)
    dd.save_serf_snapshot(SNAP)
    old = (tmp_path / SERF_SNAPSHOT).read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path / SERF_SNAPSHOT)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (tmp_path / SERF_SNAPSHOT).read_bytes() == old
    [temp] = [f for f in files(tmp_path) if f.endswith(".tmp")]
    assert temp.startswith("server/.serf.json.")
    again = DataDir(tmp_path)  # the restarted agent
    assert files(tmp_path) == [MARKER, SERF_SNAPSHOT]
    assert again.load_serf_snapshot() == SNAP


def test_an_unmarked_directory_with_a_leftover_temp_file_is_still_ours(tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / ".acl.json.k2x_9q1a.tmp").write_text("half")
    DataDir(tmp_path)
    assert files(tmp_path) == [MARKER]


def test_write_atomic_replaces_whole_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "file"
    write_atomic(path, b"one")
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file"]


# ---- ACL state lives in the data dir ------------------------------------------------------------


def test_acl_store_uses_the_data_dir_layout(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    store = AclStore.for_data_dir(dd, wall=wall)
    assert store.path == tmp_path / ACL_STATE == dd.acl_state_path
    assert AclStore.for_data_dir(str(tmp_path), wall=wall).path == tmp_path / ACL_STATE
    assert AclStore.for_data_dir("", wall=wall).path is None


def test_acl_store_writes_through_write_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's commits go through the data dir's crash-safe writer (tested above)."""
    calls: list[Path] = []

    def recording(path: Path, data: bytes) -> None:
        calls.append(path)
        write_atomic(path, data)

    monkeypatch.setattr(acl_store_module, "write_atomic", recording)
    store = AclStore.for_data_dir(DataDir(tmp_path), wall=wall)
    token = asyncio.run(store.bootstrap())
    assert calls == [tmp_path / ACL_STATE]
    reloaded = AclStore.for_data_dir(DataDir(tmp_path), wall=wall)
    assert reloaded.self_token(token.secret_id) == token


def test_a_corrupt_acl_state_is_a_data_dir_error_the_cli_catches(tmp_path: Path) -> None:
    dd = DataDir(tmp_path)
    (tmp_path / "server").mkdir()
    (tmp_path / ACL_STATE).write_text("{nope")
    with pytest.raises(DataDirError) as caught:
        AclStore.for_data_dir(dd, wall=wall)
    assert isinstance(caught.value, AclStateError)
    assert isinstance(caught.value, ValueError)  # what older callers caught
    assert "acl.json: cannot load" in str(caught.value)
