"""What a core asks its driver to send: datagrams and stream exchanges.

The core never touches a socket. After every input the driver pulls these and carries them
out; a stream's reply (or None on failure) comes back through `handle_stream_result`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gossip.types import Address


@dataclass(frozen=True, slots=True)
class Datagram:
    dst: Address
    data: bytes


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """Open a TCP stream to `dst`, write `data`, read one reply within `timeout` seconds.

    `expect_reply` False means write-and-close (no reply is read, the result is still reported).
    """

    token: int
    dst: Address
    data: bytes
    timeout: float
    expect_reply: bool = True
