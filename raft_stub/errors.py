"""Errors raised by the raft core.

RaftError
└── DecodeError   bytes from a peer or a data dir that we cannot use: the sender's (or the
                  disk's) fault. Also a ValueError, so `except ValueError` callers keep working.

Caller misuse (time going backwards, an impossible configuration) raises plain `ValueError`.
"""


class RaftError(Exception):
    """Base of the errors the raft package defines."""


class DecodeError(RaftError, ValueError):
    """Malformed raft wire or persisted data."""
