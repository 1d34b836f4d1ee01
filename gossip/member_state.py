"""serf's per-member record (memberState): the Member plus the bookkeeping serf keeps."""

from __future__ import annotations

from collections.abc import Mapping

from gossip.flyweights import versions_of
from gossip.types import ZERO_VERSIONS, Address, Member, MemberStatus


class MemberState:
    """Mutable, owned by one SerfCore; `snapshot()` gives the frozen Member users see."""

    __slots__ = ("address", "leave_time", "name", "status", "status_ltime", "tags", "versions")

    def __init__(self, name: str, address: Address, tags: Mapping[str, str]) -> None:
        self.name = name
        self.address = address
        """Shared with memberlist's entry (one object per distinct address in a process)."""
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
        host, port = self.address
        return Member(self.name, host, port, dict(self.tags), self.status, self.versions)
