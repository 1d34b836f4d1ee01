"""The bodies of `/v1/agent/members` and `/v1/agent/self`, rendered once per change.

Both the FastAPI routes and the ASGI fast path (agent.api.fast) answer these two endpoints
through one `AgentViews` per app, so the two paths cannot render different bytes.

- members: the body is cached per `?pretty` on `agent.members_version()`, read before the
  view so a change in between only costs a re-render (1,000 members are ~290 kB of JSON);
- self: `agent.self_info()` is asked on every request, so stats stay live; but the `config`
  block (fixed after start), the agent's own member record and each `stats` block (most of
  them seldom change) are re-encoded only when they differ from the last ones seen: comparing
  a dict is several times cheaper than encoding it.

Compact bodies are assembled from the parts; they equal `SelfResponse.model_dump_json()`
byte for byte (tests/api/test_api_fast_path.py). `?pretty` bodies, rare, take the model path.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from typing import Any

from pydantic import TypeAdapter

from agent.agent_api import AgentAPI, MemberInfo, SelfInfo
from agent.api.encoding import encode
from agent.api.models import MemberModel, MembersResponse, SelfResponse

_CONFIG: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
_NAME: TypeAdapter[str] = TypeAdapter(str)
_BLOCK: TypeAdapter[dict[str, str]] = TypeAdapter(dict[str, str])


class AgentViews:
    """Rendered members/self bodies for one agent; the caches live as long as the app."""

    def __init__(self, agent: AgentAPI) -> None:
        self.agent = agent
        self._members: dict[bool, tuple[Hashable, bytes]] = {}
        self._config: tuple[dict[str, Any], bytes] | None = None
        self._member: tuple[MemberInfo, bytes] | None = None
        self._stats: dict[str, tuple[dict[str, str], bytes]] = {}

    async def members_body(self, *, pretty: bool) -> bytes:
        """The members body; raises what `agent.members()` raises (a client without servers)."""
        agent = self.agent
        version = agent.members_version()
        hit = self._members.get(pretty)
        if version is not None and hit is not None and hit[0] == version:
            return hit[1]
        view = await agent.members()
        body = encode(MembersResponse.from_view(view), pretty=pretty)
        if version is not None:
            self._members[pretty] = (version, body)
        return body

    def self_body(self, *, pretty: bool) -> bytes:
        return self.render_self(self.agent.self_info(), pretty=pretty)

    def render_self(self, info: SelfInfo, *, pretty: bool) -> bytes:
        """`encode(SelfResponse.from_info(info))`, with the invariant parts reused."""
        if pretty:
            return encode(SelfResponse.from_info(info), pretty=True)
        return b"".join(
            (
                b'{"config":',
                self._config_json(info.config),
                b',"member":',
                self._member_json(info.member),
                b',"stats":{',
                b",".join([self._stats_json(name, block) for name, block in info.stats.items()]),
                b"}}",
            )
        )

    def _config_json(self, config: dict[str, Any]) -> bytes:
        cached = self._config
        if cached is not None and cached[0] == config:
            return cached[1]
        body = _CONFIG.dump_json(_CONFIG.validate_python(config))
        # A copy, so that an agent that hands out (and later changes) one dict is still seen.
        self._config = (copy.deepcopy(config), body)
        return body

    def _stats_json(self, name: str, block: dict[str, str]) -> bytes:
        """`"name":{...}` for one stats block; most blocks (serf, nomad, runtime) seldom change."""
        cached = self._stats.get(name)
        if cached is not None and cached[0] == block:
            return cached[1]
        body = b"%b:%b" % (
            _NAME.dump_json(_NAME.validate_python(name)),
            _BLOCK.dump_json(_BLOCK.validate_python(block)),
        )
        self._stats[name] = (dict(block), body)
        return body

    def _member_json(self, member: MemberInfo) -> bytes:
        cached = self._member
        if cached is not None and cached[0] == member:
            return cached[1]
        body = MemberModel.from_info(member).model_dump_json().encode()
        self._member = (copy.deepcopy(member), body)
        return body
