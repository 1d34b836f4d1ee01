"""memberlist's protocol-version gate (state.go: verifyProtocol), run on every push-pull merge.

Over all alive entries, local and remote, the cluster can only speak versions every alive
node understands: [max of the minimums, min of the maximums]. Every entry's current version
must fall in that range, for memberlist (PMin/PMax/PCur) and for the delegate (serf,
DMin/DMax/DCur), or the whole exchange is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gossip.types import NodeState


class _Versioned(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> NodeState: ...
    @property
    def vsn(self) -> bytes: ...


def verify_protocol(local: Iterable[_Versioned], remote: Iterable[_Versioned]) -> str | None:
    """The error text memberlist gives for an incompatible table, or None if compatible.

    The verdict depends only on the distinct (alive, Vsn) pairs, a handful in any cluster, so
    it is reached on those; the entries are walked again only to name an offender.
    """
    local, remote = list(local), list(remote)
    alive = NodeState.ALIVE
    versions = {(e.state == alive, e.vsn) for e in remote}
    versions.update((e.state == alive, e.vsn) for e in local)
    max_pmin = max_dmin = 0
    min_pmax = min_dmax = 255
    for is_alive, vsn in versions:
        if is_alive and len(vsn) >= 6:
            max_pmin, min_pmax = max(max_pmin, vsn[0]), min(min_pmax, vsn[1])
            max_dmin, min_dmax = max(max_dmin, vsn[3]), min(min_dmax, vsn[4])
    if all(
        max_pmin <= _current(vsn)[0] <= min_pmax and max_dmin <= _current(vsn)[1] <= min_dmax
        for _, vsn in versions
    ):
        return None
    for entry in (*remote, *local):
        pcur, dcur = _current(entry.vsn)
        if not max_pmin <= pcur <= min_pmax:
            return (
                f"Node '{entry.name}' protocol version ({pcur}) is incompatible: "
                f"[{max_pmin}, {min_pmax}]"
            )
        if not max_dmin <= dcur <= min_dmax:
            return (
                f"Node '{entry.name}' delegate protocol version ({dcur}) is incompatible: "
                f"[{max_dmin}, {min_dmax}]"
            )
    raise AssertionError("an incompatible version belongs to some entry")


def _current(vsn: bytes) -> tuple[int, int]:
    """(protocol, delegate) version in use; 0 for an entry without a Vsn."""
    return (vsn[2], vsn[5]) if len(vsn) >= 6 else (0, 0)
