"""DataDir: what an agent keeps under `-data-dir`, and how it writes it without tearing.

Layout (paths relative to the data dir; Nomad's names where Nomad has the same thing):

    gossip-agent.json     marker {"format": 1}: written on first use, checked on every start
    server/serf.json      serf snapshot (agent.state.serf_snapshot.SerfSnapshot as JSON)
    server/raft.bin       raft state: opaque bytes, framed with a magic and a CRC32
    server/acl.json       ACL state (agent.acl.store; our name: Nomad keeps ACLs in raft)
    server/serf.keyring   the gossip keys, a JSON array of base64 strings, primary first
                          (Nomad's and serf's keyring file)
    client/client-id      the client's node ID, a UUID (Nomad's file name)

Why a marker: `-data-dir` is easy to point at the wrong place (a real Nomad agent's data dir,
a home directory). We refuse a non-empty directory that is neither marked as ours nor holds
only the files above, instead of writing next to (or over) someone else's state. A directory
holding nothing but those files and no marker is taken as ours, and the marker is written.

Why atomic writes: every file is replaced whole by `write_atomic` (temp file in the same
directory, fsync, rename, fsync of the directory), so after a kill -9 or a power cut a reader
finds the old file or the new one, never a torn mix. A crash can leave a temp file behind
(`.<name>.<random>.tmp`); opening the data dir deletes those. Serf's own snapshot is an
append-only log compacted now and then; we rewrite one small JSON document instead, because
ours is tiny (a few hundred bytes per member) and a whole-file replace needs no replay rules
for a torn last line.

Every problem is a `DataDirError` whose message is one line naming the data dir and what is
wrong with it, e.g. `data dir /x: corrupt server/serf.json: <reason>`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import struct
import tempfile
import uuid
import zlib
from pathlib import Path

from agent.state.serf_snapshot import SerfSnapshot
from gossip import KEY_SIZES

FORMAT = 1
"""Version of the layout above; bump it when a file changes incompatibly."""
MARKER = "gossip-agent.json"
SERF_SNAPSHOT = "server/serf.json"
RAFT_STATE = "server/raft.bin"
ACL_STATE = "server/acl.json"
CLIENT_ID = "client/client-id"
KEYRING = "server/serf.keyring"
KNOWN_FILES = (MARKER, SERF_SNAPSHOT, RAFT_STATE, ACL_STATE, CLIENT_ID, KEYRING)
KNOWN_DIRS = ("server", "client")

RAFT_MAGIC = b"GAR1"
"""First bytes of server/raft.bin; followed by a big-endian CRC32 of the payload."""
_RAFT_HEADER = struct.Struct(">4sI")
_TEMP_FILE = re.compile(
    "^\\.(" + "|".join(re.escape(Path(f).name) for f in KNOWN_FILES) + r")\.[a-z0-9_]+\.tmp$"
)
"""The temp files `write_atomic` leaves when killed: `.<our file name>.<mkstemp chars>.tmp`."""


class DataDirError(Exception):
    """The data dir cannot be used (foreign, corrupt, unknown format, unreadable); one line."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old or the new file, never a torn one.

    The temp file lives in the target's directory (a rename is only atomic within one file
    system) and is fsynced before the rename; the directory is fsynced after it, so the
    rename itself survives a power cut. On any error the temp file is removed and `path` is
    left as it was.

    Raises:
        OSError: the file could not be written (the old content is intact).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def frame_raft_state(payload: bytes) -> bytes:
    """server/raft.bin's bytes: magic, CRC32, payload (so a damaged file is detected)."""
    return _RAFT_HEADER.pack(RAFT_MAGIC, zlib.crc32(payload)) + payload


def unframe_raft_state(raw: bytes) -> bytes:
    """The payload of server/raft.bin.

    Raises:
        ValueError: wrong magic, too short, or a checksum mismatch (the reason says which).
    """
    if len(raw) < _RAFT_HEADER.size:
        raise ValueError(f"{len(raw)} bytes is shorter than the {_RAFT_HEADER.size}-byte header")
    magic, crc = _RAFT_HEADER.unpack_from(raw)
    if magic != RAFT_MAGIC:
        raise ValueError(f"bad magic {magic!r} (want {RAFT_MAGIC!r})")
    payload = raw[_RAFT_HEADER.size :]
    if zlib.crc32(payload) != crc:
        raise ValueError("checksum mismatch (truncated or damaged)")
    return payload


def new_node_id(rng: random.Random) -> str:
    """A UUIDv4 string drawn from `rng` (deterministic under the simulator's seeds)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class DataDir:
    """One agent's data dir; see the module docstring.

    Creating it checks (and, on first use, marks) the directory, so a wrong `-data-dir`
    fails at startup with a clear message rather than on the first write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (creating if needed) the data dir at `path`.

        Raises:
            DataDirError: not a directory, unreadable, foreign, or a marker with an unknown
                format or garbled content.
        """
        self.path = Path(path)
        try:
            self._open()
        except OSError as exc:
            raise self.error(f"cannot use it: {exc.strerror or exc}") from None

    # ---- paths ----------------------------------------------------------------------------

    @property
    def serf_snapshot_path(self) -> Path:
        return self.path / SERF_SNAPSHOT

    @property
    def acl_state_path(self) -> Path:
        """Where AclStore keeps tokens and policies (`AclStore(data_dir.acl_state_path)`)."""
        return self.path / ACL_STATE

    def error(self, what: str) -> DataDirError:
        """A DataDirError about this data dir: `data dir <path>: <what>`."""
        return DataDirError(f"data dir {self.path}: {what}")

    # ---- opening --------------------------------------------------------------------------

    def _open(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise self.error("not a directory")
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / MARKER
        if marker.exists():
            self._check_marker(marker.read_bytes())
        else:
            unknown = self._unknown_entries()
            if unknown:
                more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
                raise self.error(
                    f"not a gossip-agent data dir (found {unknown[0]}{more}); "
                    "use an empty directory"
                )
            write_atomic(marker, json.dumps({"format": FORMAT}).encode() + b"\n")
        self._remove_temp_files()

    def _check_marker(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.error(f"corrupt {MARKER}: {exc}") from None
        if not isinstance(data, dict) or "format" not in data:
            raise self.error(f'corrupt {MARKER}: want an object with a "format" number')
        found = data["format"]
        if found != FORMAT or isinstance(found, bool):
            raise self.error(
                f"unsupported format {found!r} in {MARKER} (this agent reads format {FORMAT})"
            )

    def _unknown_entries(self) -> list[str]:
        """Entries (relative, sorted) that would make an unmarked directory foreign."""
        unknown: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.path):
            rel_dir = Path(dirpath).relative_to(self.path)
            empty = not dirnames and not filenames
            if empty and rel_dir.parts and rel_dir.as_posix() not in KNOWN_DIRS:
                unknown.append(f"{rel_dir.as_posix()}/")
            for name in dirnames:
                if (Path(dirpath) / name).is_symlink():  # os.walk lists but does not enter it
                    unknown.append((rel_dir / name).as_posix())
            for name in filenames:
                rel = (rel_dir / name).as_posix()
                if rel not in KNOWN_FILES and not _TEMP_FILE.match(name):
                    unknown.append(rel)
        return sorted(unknown)

    def _remove_temp_files(self) -> None:
        """Delete what a write cut short by a crash left behind (never a live file)."""
        for folder in (self.path, *(self.path / d for d in KNOWN_DIRS)):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if _TEMP_FILE.match(entry.name) and entry.is_file():
                    with contextlib.suppress(OSError):
                        entry.unlink()

    # ---- files ----------------------------------------------------------------------------

    def _read(self, rel: str) -> bytes | None:
        try:
            return (self.path / rel).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error(f"cannot read {rel}: {exc.strerror or exc}") from None

    def _write(self, rel: str, data: bytes) -> None:
        try:
            write_atomic(self.path / rel, data)
        except OSError as exc:
            raise self.error(f"cannot write {rel}: {exc.strerror or exc}") from None

    def load_serf_snapshot(self) -> SerfSnapshot | None:
        """The saved serf snapshot, or None when this server never saved one.

        Raises:
            DataDirError: the file cannot be read or is not a valid snapshot.
        """
        raw = self._read(SERF_SNAPSHOT)
        if raw is None:
            return None
        try:
            return SerfSnapshot.from_json(raw)
        except ValueError as exc:
            raise self.error(f"corrupt {SERF_SNAPSHOT}: {exc}") from None

    def save_serf_snapshot(self, snapshot: SerfSnapshot) -> None:
        """Replace the serf snapshot atomically.

        Raises:
            DataDirError: the write failed (the previous snapshot is intact).
        """
        self._write(SERF_SNAPSHOT, snapshot.to_json().encode())

    def load_keyring(self) -> list[bytes] | None:
        """The saved gossip keys, primary first, or None when there is no keyring file.

        Raises:
            DataDirError: unreadable, or not a JSON array of base64 strings.
        """
        raw = self._read(KEYRING)
        if raw is None:
            return None
        try:
            encoded = json.loads(raw)
            if not isinstance(encoded, list) or not all(isinstance(k, str) for k in encoded):
                raise ValueError("want a JSON array of base64 strings")
            keys = [base64.b64decode(k, validate=True) for k in encoded]
            if any(len(k) not in KEY_SIZES for k in keys):
                raise ValueError("key size must be 16, 24 or 32 bytes")
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.error(f"corrupt {KEYRING}: {exc}") from None
        return keys

    def save_keyring(self, keys: list[bytes]) -> None:
        """Replace the keyring file atomically (serf writeKeyringFile: indented JSON).

        Raises:
            DataDirError: the write failed (the previous file is intact).
        """
        encoded = [base64.b64encode(k).decode() for k in keys]
        self._write(KEYRING, json.dumps(encoded, indent=2).encode() + b"\n")

    def read_raft_state(self) -> bytes | None:
        """The raft state bytes last written, or None when there are none.

        Raises:
            DataDirError: unreadable, or the frame's magic/checksum is wrong.
        """
        raw = self._read(RAFT_STATE)
        if raw is None:
            return None
        try:
            return unframe_raft_state(raw)
        except ValueError as exc:
            raise self.error(f"corrupt {RAFT_STATE}: {exc}") from None

    def write_raft_state(self, payload: bytes) -> None:
        """Replace the raft state atomically.

        Raises:
            DataDirError: the write failed (the previous state is intact).
        """
        self._write(RAFT_STATE, frame_raft_state(payload))

    def client_node_id(self, rng: random.Random) -> str:
        """The client's node ID: the saved one, or a new UUIDv4 from `rng`, saved first.

        Nomad keeps it in `client/client-id` so a restarted client is the same node to the
        servers (its allocations and drain state stay attached to it).

        Raises:
            DataDirError: the file is unreadable or does not hold a UUID, or it cannot be
                written.
        """
        raw = self._read(CLIENT_ID)
        if raw is None:
            node_id = new_node_id(rng)
            self._write(CLIENT_ID, node_id.encode())
            return node_id
        try:
            text = raw.decode("ascii").strip()
            parsed = uuid.UUID(text)
        except (UnicodeDecodeError, ValueError):
            raise self.error(f"corrupt {CLIENT_ID}: not a UUID: {raw[:64]!r}") from None
        if str(parsed) != text.lower():
            raise self.error(f"corrupt {CLIENT_ID}: not a UUID in 8-4-4-4-12 form: {text!r}")
        return text.lower()
