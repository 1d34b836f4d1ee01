"""What each stream exchange a SwimNode opens is for, kept by token until its result is back.

Why: the driver runs a stream exchange (memberlist opens a TCP connection and blocks on it)
and later hands back only the token and the reply. The outbox files one of these per token
so the node can route the reply: a TCP fallback ping to the prober, a push-pull or join
exchange to the state sync (with the join's progress). They are values, never keys, so plain
frozen dataclasses serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gossip.push_pull import JoinJob


@dataclass(frozen=True, slots=True)
class TcpPing:
    """The TCP fallback ping of probe `seq` (memberlist probeNode's `sendPingAndWaitForAck`)."""

    seq: int


@dataclass(frozen=True, slots=True)
class PeriodicPushPull:
    """A periodic push-pull with one random peer (memberlist `pushPull`)."""


@dataclass(frozen=True, slots=True)
class JoinPushPull:
    """The push-pull with the seed `job` is trying now (memberlist Join's `pushPullNode`)."""

    job: JoinJob


StateExchange = PeriodicPushPull | JoinPushPull
"""The exchanges the state sync opens and handles the results of."""

StreamPurpose = TcpPing | StateExchange
"""Every reason a SwimNode opens a stream."""
