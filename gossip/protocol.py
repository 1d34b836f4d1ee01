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
    """The error text memberlist gives for an incompatible table, or None if compatible."""
    local, remote = list(local), list(remote)
    max_pmin = max_dmin = 0
    min_pmax = min_dmax = 255
    for entry in (*remote, *local):
        if entry.state != NodeState.ALIVE or len(entry.vsn) < 6:
            continue
        vsn = entry.vsn
        max_pmin, min_pmax = max(max_pmin, vsn[0]), min(min_pmax, vsn[1])
        max_dmin, min_dmax = max(max_dmin, vsn[3]), min(min_dmax, vsn[4])
    for entry in (*remote, *local):
        pcur, dcur = (entry.vsn[2], entry.vsn[5]) if len(entry.vsn) >= 6 else (0, 0)
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
    return None
