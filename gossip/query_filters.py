"""Which queries this node processes: serf's query filters (serf query.go: shouldProcessQuery).

A query may carry filters; every one must match for a node to process it. A node filter
names the nodes that should; a tag filter holds a tag name and a regexp the node's value of
that tag must match (a missing tag reads as ""). A node that does not match neither acks,
answers nor delivers the query, but it still re-gossips it, since the others may match.
A filter that cannot be decoded, of an unknown type, or whose regexp does not compile,
also means "do not process" (serf logs a warning and returns false).

Regexps. serf uses Go's `regexp.MatchString(expr, value)`: RE2 syntax, unanchored (a match
anywhere counts, so "^" and "$" matter). We use Python's `re.search` with `re.ASCII`, which
agrees on the usual patterns (literals, classes, anchors, alternation, repetition) and, as
RE2 does, keeps `\\d`, `\\w`, `\\s` and `\\b` to ASCII. Known differences:
- Go-only syntax fails to compile here, so the node does not process the query where a Go
  node would: `\\pL`/`\\p{Greek}` Unicode classes, `\\z`, `[[:alpha:]]` POSIX classes, the
  `(?U)` flag.
- Python-only syntax compiles here where Go refuses it, so the node processes the query
  where a Go node would not: backreferences (`\\1`), lookarounds (`(?=`, `(?<!`), possessive
  and atomic forms.
- `$` without `(?m)` also matches before a final newline in Python (Go's `$` is `\\z`), `\\s`
  includes `\\v` in Python and not in Go, and `(?i)` folds only ASCII letters here.
- RE2 runs in linear time; Python's `re` backtracks, so a pathological pattern from a peer
  (`(a+)+$`) can take exponential time on the (at most 512-byte) tag value. Only a cluster
  member able to send queries can supply one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from gossip.serf_codec import NodeFilter, decode_filter

REGEXP_CACHE_SIZE = 64
"""Compiled filter regexps kept; clusters reuse a handful of patterns."""


@lru_cache(maxsize=REGEXP_CACHE_SIZE)
def _compile(expr: str) -> re.Pattern[str] | None:
    try:
        return re.compile(expr, re.ASCII)
    except (re.error, RecursionError, OverflowError):
        return None


def matches_filters(filters: Sequence[bytes] | None, name: str, tags: Mapping[str, str]) -> bool:
    """serf shouldProcessQuery: True when every filter matches this node (none: True).

    Raises:
        DecodeError: a filter is malformed or of an unknown type; the caller counts it and
            treats the query as not for us, as serf does.
    """
    for raw in filters or ():
        f = decode_filter(raw)
        if isinstance(f, NodeFilter):
            if name not in f.names:
                return False
        else:
            pattern = _compile(f.expr)
            if pattern is None or pattern.search(tags.get(f.tag, "")) is None:
                return False
    return True
