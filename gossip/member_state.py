"""serf's per-member record (memberState): the Member plus the bookkeeping serf keeps."""

from __future__ import annotations

from collections.abc import Mapping

from gossip.flyweights import EMPTY_TAGS, safe_tags_of, versions_of
from gossip.membership import NodeInfo
from gossip.types import ZERO_VERSIONS, Address, Member, MemberStatus


class MemberState:
    """Mutable, owned by one SerfCore; `snapshot()` gives the frozen Member users see.

    Name, address and tags come from `info`, memberlist's shared record of the node as serf
    last heard of it (join or update), so a view of a member costs five pointers (72 bytes).
    """

    __slots__ = ("info", "leave_time", "status", "status_ltime", "versions")

    def __init__(self, info: NodeInfo) -> None:
        self.info = info
        self.status = MemberStatus.ALIVE
        self.versions = ZERO_VERSIONS
        self.status_ltime = 0
        """LTime of the last intent applied to this member; older intents are ignored."""
        self.leave_time = 0.0
        """When the member went failed or left: reaping counts from here."""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def address(self) -> Address:
        return self.info.address

    @property
    def tags(self) -> Mapping[str, str]:
        """serf's decodeTags of the meta; empty when it cannot be decoded (counted by the
        member table when it heard of the meta)."""
        tags = safe_tags_of(self.info.meta)
        return EMPTY_TAGS if tags is None else tags

    def set_versions(self, vsn: bytes) -> None:
        if len(vsn) >= 6:
            self.versions = versions_of(vsn)

    def snapshot(self) -> Member:
        host, port = self.info.address
        return Member(self.name, host, port, dict(self.tags), self.status, self.versions)
