"""Go's standard-library behaviour where it shows through Nomad's API and CLI.

Nomad's answers carry Go's formats and error texts: `strconv.ParseBool` for flags and query
parameters, `time.ParseDuration` and `time.Duration.String()` for waits and raft's
`last_contact`, `net.SplitHostPort`/`net.JoinHostPort` for addresses. One implementation of
each lives here, below every other package: the cores (`raft_stub` formats durations) and the
agent both use it, and it imports nothing of ours.
"""

from gocompat.addresses import (
    AddressError,
    ip_literal,
    join_host_port,
    split_host_port,
    strip_node_name,
)
from gocompat.base64s import Base64Error, decode_std_base64
from gocompat.bools import parse_go_bool
from gocompat.durations import (
    MAX_DURATION_NS,
    format_go_duration,
    parse_go_duration,
    seconds_to_go_duration,
)

__all__ = [
    "MAX_DURATION_NS",
    "AddressError",
    "Base64Error",
    "decode_std_base64",
    "format_go_duration",
    "ip_literal",
    "join_host_port",
    "parse_go_bool",
    "parse_go_duration",
    "seconds_to_go_duration",
    "split_host_port",
    "strip_node_name",
]
