"""ACL policy rules: a strict parser for the subset of Nomad's policy language the agent uses.

Nomad policies are HCL (or HCL's JSON form). The agent endpoints only ever check the `agent`
and `node` capabilities (Nomad's acl/acl.go `AllowAgentRead`, `AllowNodeRead`, ...), and
`operator` is accepted because Nomad 0.7 has it;
`namespace "<name>" { policy = ..., capabilities = [...] }` blocks are parsed and validated so
that a policy written for a real Nomad loads here, but nothing in this agent consults them.

HCL subset (comments `#`, `//` and `/* */` allowed anywhere between tokens):

    agent    { policy = "deny" | "read" | "write" }
    node     { policy = ... }
    operator { policy = ... }
    namespace "default" { policy = ...  capabilities = ["read-job", ...] }

JSON form: `{"agent": {"policy": "read"}}`, a block may also be a one-element list (HCL-JSON).
Anything else (an unknown block or key, a bare word, a number, a repeated block) is an error,
never silently ignored: a typo in a security policy must not widen or narrow it unnoticed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

DENY, READ, WRITE = "deny", "read", "write"
POLICY_VALUES = (DENY, READ, WRITE)
SIMPLE_BLOCKS = ("agent", "node", "operator")
_GO_TYPES = {"agent": "AgentPolicy", "node": "NodePolicy", "operator": "OperatorPolicy"}


class PolicyParseError(ValueError):
    """The rules are not valid; the message is what Nomad would say (or close to it)."""


@dataclass(frozen=True, slots=True)
class NamespaceRule:
    policy: str = ""
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """Parsed rules: "" for a block that is absent."""

    agent: str = ""
    node: str = ""
    operator: str = ""
    namespaces: dict[str, NamespaceRule] = field(default_factory=dict)


def max_privilege(a: str, b: str) -> str:
    """Nomad's acl.maxPrivilege: deny beats everything, then write, then read."""
    for level in (DENY, WRITE, READ):
        if level in (a, b):
            return level
    return ""


# ---- the HCL subset ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<punct>[{}\[\]=,])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    line: int
    col: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            col = pos - line_start + 1
            raise PolicyParseError(f"At {line}:{col}: illegal character {text[pos]!r}")
        kind = match.lastgroup or ""
        chunk = match.group()
        if kind in ("string", "ident", "punct"):
            tokens.append(_Tok(kind, chunk, line, pos - line_start + 1))
        newlines = chunk.count("\n")
        if newlines:
            line += newlines
            line_start = pos + chunk.rindex("\n") + 1
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def _peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self, kind: str, text: str | None = None) -> _Tok:
        tok = self._peek()
        want = repr(text) if text else kind
        if tok is None:
            raise PolicyParseError(f"unexpected end of rules, expected {want}")
        if tok.kind != kind or (text is not None and tok.text != text):
            raise PolicyParseError(f"At {tok.line}:{tok.col}: expected {want}, got {tok.text!r}")
        self.i += 1
        return tok

    def _string(self) -> str:
        tok = self._next("string")
        try:
            value = json.loads(tok.text)
        except json.JSONDecodeError:
            raise PolicyParseError(f"At {tok.line}:{tok.col}: invalid string {tok.text}") from None
        assert isinstance(value, str)
        return value

    def _value(self) -> str | list[str]:
        tok = self._peek()
        if tok is not None and tok.kind == "punct" and tok.text == "[":
            self.i += 1
            items: list[str] = []
            while True:
                tok = self._peek()
                if tok is not None and tok.text == "]" and tok.kind == "punct":
                    self.i += 1
                    return items
                items.append(self._string())
                tok = self._peek()
                if tok is not None and tok.kind == "punct" and tok.text == ",":
                    self.i += 1
        return self._string()

    def _body(self) -> dict[str, Any]:
        self._next("punct", "{")
        attrs: dict[str, Any] = {}
        while True:
            tok = self._peek()
            if tok is not None and tok.kind == "punct" and tok.text == "}":
                self.i += 1
                return attrs
            key = self._next("ident")
            if key.text in attrs:
                raise PolicyParseError(f"At {key.line}:{key.col}: {key.text!r} given twice")
            self._next("punct", "=")
            attrs[key.text] = self._value()
            tok = self._peek()
            if tok is not None and tok.kind == "punct" and tok.text == ",":
                self.i += 1

    def parse(self) -> dict[str, Any]:
        """Blocks as plain data: {"agent": {...}, "namespace": {"default": {...}}}."""
        out: dict[str, Any] = {}
        while self._peek() is not None:
            head = self._next("ident")
            if head.text == "namespace":
                label = self._string()
                spaces = out.setdefault("namespace", {})
                if label in spaces:
                    raise PolicyParseError(f"namespace {label!r} given twice")
                spaces[label] = self._body()
            elif head.text in SIMPLE_BLOCKS:
                if head.text in out:
                    raise PolicyParseError(f"At {head.line}:{head.col}: {head.text} given twice")
                out[head.text] = self._body()
            else:
                raise PolicyParseError(
                    f"At {head.line}:{head.col}: unsupported block {head.text!r} "
                    "(expected agent, node, operator or namespace)"
                )
        return out


# ---- from plain data to a Policy ---------------------------------------------------------


def _one_block(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        raise PolicyParseError(f"{name} must be an object")
    return value


def _policy_value(where: str, attrs: dict[str, Any], allowed: tuple[str, ...]) -> str:
    for key in attrs:
        if key not in allowed:
            raise PolicyParseError(f"{where}: unsupported key {key!r}")
    value = attrs.get("policy", "")
    if not isinstance(value, str):
        raise PolicyParseError(f"{where}: policy must be a string")
    return value


def _build(data: dict[str, Any]) -> Policy:
    values: dict[str, str] = {}
    spaces: dict[str, NamespaceRule] = {}
    for name, raw in data.items():
        if name in SIMPLE_BLOCKS:
            value = _policy_value(name, _one_block(name, raw), ("policy",))
            if value not in POLICY_VALUES:
                # Nomad prints the Go struct: `Invalid agent policy: &acl.AgentPolicy{...}`
                go = f'&acl.{_GO_TYPES[name]}{{Policy:"{value}"}}'
                raise PolicyParseError(f"Invalid {name} policy: {go}")
            values[name] = value
        elif name == "namespace":
            blocks = _one_block(name, raw)
            for label, body in blocks.items():
                attrs = _one_block(f"namespace {label!r}", body)
                where = f"namespace {label!r}"
                value = _policy_value(where, attrs, ("policy", "capabilities"))
                if value and value not in POLICY_VALUES:
                    raise PolicyParseError(f"Invalid namespace policy: {label} {value!r}")
                caps = attrs.get("capabilities", [])
                if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
                    raise PolicyParseError(f"{where}: capabilities must be a list of strings")
                spaces[label] = NamespaceRule(value, tuple(caps))
        else:
            raise PolicyParseError(
                f"unsupported block {name!r} (expected agent, node, operator or namespace)"
            )
    return Policy(namespaces=spaces, **values)


def parse_rules(rules: str) -> Policy:
    """Parse policy rules in HCL or JSON syntax.

    Raises:
        PolicyParseError: the rules are malformed or use something outside the subset.
    """
    text = rules.strip()
    if not text:
        return Policy()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyParseError(
                f"Failed to parse ACL Policy: invalid JSON at line {exc.lineno} "
                f"column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise PolicyParseError("Failed to parse ACL Policy: not a JSON object")
        return _build(data)
    try:
        data = _Parser(text).parse()
    except PolicyParseError as exc:
        raise PolicyParseError(f"Failed to parse ACL Policy: {exc}") from None
    return _build(data)
