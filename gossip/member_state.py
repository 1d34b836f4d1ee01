"""serf's per-member record (memberState): the Member plus the bookkeeping serf keeps."""

from __future__ import annotations

from collections.abc import Mapping

from gossip.flyweights import versions_of
from gossip.types import ZERO_VERSIONS, Member, MemberStatus


class MemberState:
    """Mutable, owned by one SerfCore; `snapshot()` gives the frozen Member users see."""

    __slots__ = ("addr", "leave_time", "name", "port", "status", "status_ltime", "tags", "versions")

    def __init__(self, name: str, addr: str, port: int, tags: Mapping[str, str]) -> None:
        self.name = name
        self.addr = addr
        self.port = port
        self.tags = tags
        self.status = MemberStatus.ALIVE
        self.versions = ZERO_VERSIONS
        self.status_ltime = 0
        """LTime of the last intent applied to this member; older intents are ignored."""
        self.leave_time = 0.0
        """When the member went failed or left: reaping counts from here."""

    def set_versions(self, vsn: bytes) -> None:
        if len(vsn) >= 6:
            self.versions = versions_of(vsn)

    def snapshot(self) -> Member:
        return Member(self.name, self.addr, self.port, dict(self.tags), self.status, self.versions)
