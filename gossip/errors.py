"""Errors raised by the gossip cores.

GossipError
├── DecodeError   the remote sent bytes we cannot use (counted and dropped, never raised
│                 out of handle_datagram / handle_stream)
└── UsageError    the caller broke the API (bad arguments, call after shutdown)
"""


class GossipError(Exception):
    """Base of every error the gossip package raises."""


class DecodeError(GossipError):
    """Malformed or unsupported wire data: the remote's fault."""


class UsageError(GossipError):
    """The caller misused the core: raised at once, state left unchanged."""
