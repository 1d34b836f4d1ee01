"""What a SwimNode wants sent, and how each datagram is packed (memberlist net.go, sending).

Every message we send carries as many queued broadcasts as fit in `udp_buffer_size`:
memberlist's own news first, then the delegate's (serf) in the space left, each framed as a
user message. A packet with extras becomes a compound; then it is LZW-compressed if that
makes it smaller and CRC-wrapped for peers that check CRCs; with a keyring it is then sealed
whole (`gossip/security.py`), and every stream message is sealed in its encrypt frame. The
space for broadcasts shrinks by the seal's overhead, as memberlist's does. The driver pulls
the datagrams and stream requests after every input; a stream's purpose is
remembered by token until its result comes back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Protocol

from gossip.broadcasts import TransmitLimitedQueue
from gossip.codec import encode_compound, encode_stream, maybe_compress, wrap_crc
from gossip.config import GossipConfig
from gossip.messages import USER_MSG_PREFIX, StreamMessage
from gossip.outputs import Datagram, StreamRequest
from gossip.security import Encryption
from gossip.stream_purposes import StreamPurpose
from gossip.timing import retransmit_limit
from gossip.types import Address

COMPOUND_HEADER_OVERHEAD = 2
"""Bytes a compound message adds before its parts (type + count)."""
COMPOUND_OVERHEAD = 2
"""Bytes each compound part adds (its u16 length)."""
USER_MSG_OVERHEAD = len(USER_MSG_PREFIX)
"""The userMsg type byte in front of a delegate message."""


class BroadcastSource(Protocol):
    """The delegate's broadcasts (serf's intent, query and event queues)."""

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]: ...
    def has_broadcasts(self) -> bool: ...


class Outbox:
    """Outbound datagrams and stream requests of one node."""

    def __init__(
        self,
        config: GossipConfig,
        broadcasts: TransmitLimitedQueue,
        delegate: BroadcastSource,
        num_nodes: Callable[[], int],
    ) -> None:
        self.config = config
        self.broadcasts = broadcasts
        self.delegate = delegate
        self.num_nodes = num_nodes
        """memberlist's n (every table entry), which sets the retransmit limit."""
        self.datagrams: list[Datagram] = []
        self.streams: list[StreamRequest] = []
        self.purposes: dict[int, StreamPurpose] = {}
        self.encryption: Encryption | None = None
        """Set while a keyring is installed: every datagram and stream leaves sealed."""
        self._tokens = itertools.count(1)

    def has_broadcasts(self) -> bool:
        return self.broadcasts.count > 0 or self.delegate.has_broadcasts()

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """memberlist getBroadcasts: our own news first, then serf's in the space left."""
        to_send: list[bytes] = []
        theirs = self.delegate.has_broadcasts()
        if not self.broadcasts.count:
            if not theirs:
                return to_send  # the usual case in a settled cluster: nothing to piggyback
        else:
            transmit_limit = retransmit_limit(self.config.retransmit_mult, self.num_nodes())
            to_send = self.broadcasts.get_broadcasts(overhead, limit, transmit_limit)
        avail = limit - sum(len(m) + overhead for m in to_send)
        if avail > overhead + USER_MSG_OVERHEAD and theirs:
            for msg in self.delegate.get_broadcasts(overhead + USER_MSG_OVERHEAD, avail):
                to_send.append(USER_MSG_PREFIX + msg)
        return to_send

    def send_msg(self, dst: Address, msg: bytes) -> None:
        """Send one message, piggybacking whatever broadcasts fit (memberlist sendMsg)."""
        avail = self.config.udp_buffer_size - len(msg) - COMPOUND_HEADER_OVERHEAD
        avail -= self.seal_overhead()
        extra = self.get_broadcasts(COMPOUND_OVERHEAD, avail)
        if extra:
            msg = encode_compound([msg, *extra])
        self.raw_send(dst, msg, crc=False)

    def raw_send(self, dst: Address, msg: bytes, *, crc: bool) -> None:
        """Compress if smaller, CRC-wrap for peers that check it (memberlist rawSendMsgPacket)."""
        if self.config.enable_compression:
            msg = maybe_compress(msg)
        if crc:
            msg = wrap_crc(msg)
        if self.encryption is not None:
            msg = self.encryption.seal_packet(msg)
        self.datagrams.append(Datagram(dst, msg))

    def open_stream(
        self, dst: Address, msg: StreamMessage, timeout: float, purpose: StreamPurpose
    ) -> int:
        """Ask the driver for one stream exchange; its result comes back with the token."""
        token = next(self._tokens)
        data = self.seal_stream(encode_stream(msg, compress=self.config.enable_compression))
        self.streams.append(StreamRequest(token, dst, data, timeout))
        self.purposes[token] = purpose
        return token

    def seal_overhead(self) -> int:
        """Bytes sealing adds to a datagram (memberlist encryptOverhead), 0 without a keyring."""
        return 0 if self.encryption is None else self.encryption.overhead

    def seal_stream(self, data: bytes) -> bytes:
        """A stream message as it leaves: sealed in its encrypt frame with a keyring."""
        return data if self.encryption is None else self.encryption.seal_stream(data)

    def take_datagrams(self) -> list[Datagram]:
        out = self.datagrams
        if out:  # drained after every input: the empty case allocates nothing
            self.datagrams = []
        return out

    def take_streams(self) -> list[StreamRequest]:
        out = self.streams
        if out:
            self.streams = []
        return out

    def clear(self) -> None:
        self.datagrams.clear()
        self.streams.clear()
