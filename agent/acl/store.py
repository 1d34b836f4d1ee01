"""AclStore: the agent's ACL tokens and policies, their checks, and their file on disk.

One store per Agent (no module state). It answers the capability checks of the agent
endpoints and implements the `/v1/acl/*` operations with Nomad 0.7's rules:

- bootstrap once: a management token named "Bootstrap Token"; later calls are 400
  `ACL bootstrap already done (reset index: N)` (N = the index the bootstrap happened at);
- policies and tokens are managed with a management token only (0.7; later Nomad also lets a
  token read its own policies);
- no token means the anonymous token, whose only policy is the one named `anonymous`;
- a secret that matches no token is 403 `ACL token not found` (Nomad 0.7's nomad/acl.go
  `ResolveToken`; current Nomad says `Permission denied`);
- policies merge with deny > write > read, and a token's missing policies are skipped.

With a data dir, every change is written to `<data-dir>/server/acl.json` atomically (temp file,
fsync, rename) before it becomes visible, so tokens and policies survive a restart. Without one
(the dev default) the state lives in memory only, as a Nomad dev agent's does.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.acl.policy import (
    READ,
    WRITE,
    Policy,
    PolicyParseError,
    max_privilege,
    parse_rules,
)
from agent.agent_api import AclPolicyInfo, AclTokenInfo, Capability
from agent.errors import (
    ACL_TOKEN_NOT_FOUND,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from agent.state.data_dir import ACL_STATE, DataDir, DataDirError, write_atomic
from gossip import format_multierror

STATE_VERSION = 1
ANONYMOUS_POLICY = "anonymous"
MANAGEMENT, CLIENT = "management", "client"
BOOTSTRAP_TOKEN_NAME = "Bootstrap Token"
MAX_TOKEN_NAME = 256
MAX_POLICY_DESCRIPTION = 256
_POLICY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")


class AclStateError(DataDirError, ValueError):
    """The state file exists but cannot be read; the message names the file.

    A DataDirError, so the CLI (agent/cli/main.py) reports it like any other data dir
    problem. Also a ValueError, like the agent's other decode errors (PolicyParseError, the
    serf snapshot's); no agent code catches it by that name, tests/unit/agent/test_data_dir.py
    asserts both bases.
    """


def go_time(wall: float) -> str:
    """Go's time.RFC3339Nano for a UTC time (fraction without trailing zeros)."""
    moment = datetime.fromtimestamp(wall, UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _token_from_json(data: Mapping[str, Any]) -> AclTokenInfo:
    policies = data.get("Policies")
    return AclTokenInfo(
        accessor_id=str(data["AccessorID"]),
        secret_id=str(data["SecretID"]),
        name=str(data["Name"]),
        type=str(data["Type"]),
        policies=None if policies is None else tuple(str(p) for p in policies),
        global_=bool(data["Global"]),
        create_time=str(data["CreateTime"]),
        create_index=int(data["CreateIndex"]),
        modify_index=int(data["ModifyIndex"]),
    )


@dataclass(frozen=True, slots=True)
class Grants:
    """What one caller may do: the merged levels of its policies, or management."""

    management: bool = False
    agent: str = ""
    node: str = ""
    operator: str = ""

    def allows(self, capability: Capability) -> bool:
        if self.management:
            return True
        if capability is Capability.AGENT_READ:
            return self.agent in (READ, WRITE)
        if capability is Capability.AGENT_WRITE:
            return self.agent == WRITE
        if capability is Capability.NODE_READ:
            return self.node in (READ, WRITE)
        if capability is Capability.OPERATOR_READ:
            return self.operator in (READ, WRITE)
        if capability is Capability.OPERATOR_WRITE:
            return self.operator == WRITE
        return False


@dataclass(slots=True)
class _State:
    index: int = 0
    bootstrap_index: int = 0
    policies: dict[str, AclPolicyInfo] = field(default_factory=dict)
    parsed: dict[str, Policy] = field(default_factory=dict)
    tokens: dict[str, AclTokenInfo] = field(default_factory=dict)  # by accessor

    def copy(self) -> _State:
        return _State(
            self.index,
            self.bootstrap_index,
            dict(self.policies),
            dict(self.parsed),
            dict(self.tokens),
        )

    def dump(self) -> bytes:
        data = {
            "Version": STATE_VERSION,
            "Index": self.index,
            "BootstrapIndex": self.bootstrap_index,
            "Policies": [p.to_json() for p in self.policies.values()],
            "Tokens": [t.to_json() for t in self.tokens.values()],
        }
        return json.dumps(data, indent=1).encode() + b"\n"

    @classmethod
    def load(cls, raw: bytes) -> _State:
        data = json.loads(raw)
        if data.get("Version") != STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('Version')!r}")
        state = cls(int(data["Index"]), int(data["BootstrapIndex"]))
        for p in data["Policies"]:
            policy = AclPolicyInfo(
                str(p["Name"]),
                str(p["Description"]),
                str(p["Rules"]),
                int(p["CreateIndex"]),
                int(p["ModifyIndex"]),
            )
            state.policies[policy.name] = policy
            state.parsed[policy.name] = parse_rules(policy.rules)
        for t in data["Tokens"]:
            token = _token_from_json(t)
            state.tokens[token.accessor_id] = token
        return state


def _invalid(what: str, errors: list[str]) -> BadRequestError:
    return BadRequestError(f"{what} invalid: {format_multierror(errors)}")


class AclStore:
    """See the module docstring. `wall` gives CreateTime; `new_id` makes IDs (UUIDv4)."""

    def __init__(
        self,
        path: Path | None,
        *,
        wall: Callable[[], float],
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.path = path
        self._wall = wall
        self._new_id = new_id
        self._lock = asyncio.Lock()
        self._state = _State()
        if path is not None and path.exists():
            try:
                self._state = _State.load(path.read_bytes())
            except (OSError, ValueError, KeyError, TypeError, PolicyParseError) as exc:
                raise AclStateError(f"ACL state {path}: cannot load: {exc}") from None
        self._by_secret = {t.secret_id: t for t in self._state.tokens.values()}

    @classmethod
    def for_data_dir(cls, data_dir: str | DataDir, **kwargs: Any) -> AclStore:
        """The store kept in `data_dir` (in memory only when it is "", as in -dev)."""
        if isinstance(data_dir, DataDir):
            return cls(data_dir.acl_state_path, **kwargs)
        path = Path(data_dir) / ACL_STATE if data_dir else None
        return cls(path, **kwargs)

    # ---- checks ---------------------------------------------------------------------------

    def grants(self, secret: str | None) -> Grants:
        """The caller's grants. Raises PermissionDeniedError(`ACL token not found`)."""
        if secret is None:
            names: Iterable[str] = (ANONYMOUS_POLICY,)
        else:
            token = self._by_secret.get(secret)
            if token is None:
                raise PermissionDeniedError(ACL_TOKEN_NOT_FOUND)
            if token.type == MANAGEMENT:
                return Grants(management=True)
            names = token.policies or ()
        levels = {"agent": "", "node": "", "operator": ""}
        for name in names:
            parsed = self._state.parsed.get(name)
            if parsed is None:
                continue
            for block in levels:
                levels[block] = max_privilege(levels[block], getattr(parsed, block))
        return Grants(agent=levels["agent"], node=levels["node"], operator=levels["operator"])

    def authorize(self, secret: str | None, capability: Capability) -> None:
        if not self.grants(secret).allows(capability):
            raise PermissionDeniedError()

    def _require_management(self, secret: str | None) -> None:
        if not self.grants(secret).management:
            raise PermissionDeniedError()

    # ---- reads ----------------------------------------------------------------------------

    @property
    def index(self) -> int:
        return self._state.index

    def get_policy(self, secret: str | None, name: str) -> AclPolicyInfo:
        self._require_management(secret)
        policy = self._state.policies.get(name)
        if policy is None:
            raise NotFoundError("ACL policy not found")
        return policy

    def list_policies(self, secret: str | None) -> list[AclPolicyInfo]:
        self._require_management(secret)
        return sorted(self._state.policies.values(), key=lambda p: p.name)

    def self_token(self, secret: str | None) -> AclTokenInfo:
        """`/v1/acl/token/self`: 404 `ACL token not found` without a (known) token."""
        token = self._by_secret.get(secret) if secret is not None else None
        if token is None:
            raise NotFoundError(ACL_TOKEN_NOT_FOUND)
        return token

    def get_token(self, secret: str | None, accessor: str) -> AclTokenInfo:
        self._require_management(secret)
        token = self._state.tokens.get(accessor)
        if token is None:
            raise NotFoundError(ACL_TOKEN_NOT_FOUND)
        return token

    def list_tokens(self, secret: str | None) -> list[AclTokenInfo]:
        self._require_management(secret)
        return sorted(self._state.tokens.values(), key=lambda t: t.create_index)

    # ---- writes ---------------------------------------------------------------------------

    async def _commit(self, state: _State) -> None:
        """Persist `state` (if there is a file), then make it the visible state."""
        if self.path is not None:
            await asyncio.to_thread(write_atomic, self.path, state.dump())
        self._state = state
        self._by_secret = {t.secret_id: t for t in state.tokens.values()}

    async def bootstrap(self) -> AclTokenInfo:
        async with self._lock:
            if self._state.bootstrap_index:
                raise BadRequestError(
                    f"ACL bootstrap already done (reset index: {self._state.bootstrap_index})"
                )
            state = self._state.copy()
            state.index += 1
            token = AclTokenInfo(
                accessor_id=self._new_id(),
                secret_id=self._new_id(),
                name=BOOTSTRAP_TOKEN_NAME,
                type=MANAGEMENT,
                policies=None,
                global_=True,
                create_time=go_time(self._wall()),
                create_index=state.index,
                modify_index=state.index,
            )
            state.tokens[token.accessor_id] = token
            state.bootstrap_index = state.index
            await self._commit(state)
            return token

    async def upsert_policy(
        self, secret: str | None, *, name: str, description: str, rules: str
    ) -> int:
        """Create or replace a policy; returns the index of the change."""
        async with self._lock:
            self._require_management(secret)
            errors: list[str] = []
            if not _POLICY_NAME.match(name):
                errors.append(f"invalid name '{name}'")
            if len(description) > MAX_POLICY_DESCRIPTION:
                errors.append(f"description longer than {MAX_POLICY_DESCRIPTION}")
            parsed = Policy()
            try:
                parsed = parse_rules(rules)
            except PolicyParseError as exc:
                errors.append(f"failed to parse rules: {exc}")
            if errors:
                raise _invalid("policy 0", errors)
            state = self._state.copy()
            state.index += 1
            old = state.policies.get(name)
            created = old.create_index if old is not None else state.index
            state.policies[name] = AclPolicyInfo(name, description, rules, created, state.index)
            state.parsed[name] = parsed
            await self._commit(state)
            return state.index

    async def delete_policy(self, secret: str | None, name: str) -> int:
        async with self._lock:
            self._require_management(secret)
            if name not in self._state.policies:
                raise NotFoundError("ACL policy not found")
            state = self._state.copy()
            state.index += 1
            del state.policies[name]
            del state.parsed[name]
            await self._commit(state)
            return state.index

    async def upsert_token(
        self,
        secret: str | None,
        *,
        accessor: str = "",
        name: str = "",
        type: str = "",
        policies: list[str] | None = None,
        global_: bool = False,
    ) -> AclTokenInfo:
        """Create a token (no accessor) or update one; secrets and CreateTime never change."""
        async with self._lock:
            self._require_management(secret)
            errors: list[str] = []
            if len(name) > MAX_TOKEN_NAME:
                errors.append("token name too long")
            if type == CLIENT:
                if not policies:
                    errors.append("client token missing policies")
            elif type == MANAGEMENT:
                if policies:
                    errors.append("management token cannot be associated with policies")
            else:
                errors.append("token type must be client or management")
            if errors:
                raise _invalid("token 0", errors)
            state = self._state.copy()
            state.index += 1
            if accessor:
                old = state.tokens.get(accessor)
                if old is None:
                    raise BadRequestError(f"cannot find token {accessor}")
                token = replace(
                    old,
                    name=name,
                    type=type,
                    policies=tuple(policies) if policies else None,
                    global_=global_,
                    modify_index=state.index,
                )
            else:
                token = AclTokenInfo(
                    accessor_id=self._new_id(),
                    secret_id=self._new_id(),
                    name=name,
                    type=type,
                    policies=tuple(policies) if policies else None,
                    global_=global_,
                    create_time=go_time(self._wall()),
                    create_index=state.index,
                    modify_index=state.index,
                )
            state.tokens[token.accessor_id] = token
            await self._commit(state)
            return token

    async def delete_token(self, secret: str | None, accessor: str) -> int:
        async with self._lock:
            self._require_management(secret)
            if accessor not in self._state.tokens:
                raise NotFoundError(ACL_TOKEN_NOT_FOUND)
            state = self._state.copy()
            state.index += 1
            del state.tokens[accessor]
            await self._commit(state)
            return state.index
