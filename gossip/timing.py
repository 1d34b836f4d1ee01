"""Pure timing formulas of memberlist 0.2.2 (`util.go`, `suspicion.go`), in float seconds.

Why a module of its own: these numbers decide when a node is declared dead and how far a
rumour travels, so they must match memberlist to the millisecond and be checkable in a table
(as memberlist's `util_test.go` / `suspicion_test.go` do), away from any timer or state.

Go computes on integer nanoseconds (`time.Duration`) and keeps two roundings that matter for
interop: the suspicion scale factor is truncated to 1/1000 and the Lifeguard-accelerated
suspicion timeout is floored to whole milliseconds. Both are reproduced here. Python's
`math.log10` / `math.log2` agree with Go's `math.Log10` / `math.Log2` at every boundary these
formulas round at (exact powers of 10 and 2), so the integer steps land on the same `n`.
"""

from __future__ import annotations

import math

PUSH_PULL_SCALE_THRESHOLD = 32
"""memberlist `pushPullScaleThreshold`: clusters up to this size push-pull at the base interval."""


def suspicion_timeout(suspicion_mult: int, n: int, interval: float) -> float:
    """Minimum suspicion timeout: `mult * max(1, log10(max(1, n))) * interval`.

    As memberlist (`util.go: suspicionTimeout`): the log is of n, not n + 1, and the scale is
    truncated to 1/1000 before multiplying. The maximum timeout is
    `suspicion_max_timeout_mult` times this value.
    """
    node_scale = max(1.0, math.log10(max(1, n)))
    scale_milli = math.floor(node_scale * 1000)
    return suspicion_mult * scale_milli * interval / 1000


def suspicion_k(suspicion_mult: int, n: int) -> int:
    """How many independent confirmations drive a suspicion to its minimum timeout.

    As memberlist (`state.go: suspectNode`): `k = mult - 2`, and 0 when `n - 2 < k` (too few
    other nodes exist to ever confirm). A negative result (mult < 2) is returned as 0: memberlist
    behaves identically for any k < 1 (timer at min, no confirmation ever counts).
    """
    k = suspicion_mult - 2
    if n - 2 < k:
        k = 0
    return max(0, k)


def remaining_suspicion_time(
    confirmations: int, k: int, elapsed: float, min_timeout: float, max_timeout: float
) -> float:
    """Time left before a suspect is declared dead, given `confirmations` of `k` wanted.

    As memberlist (`suspicion.go: remainingSuspicionTime`): the total timeout falls from max
    towards min as `ln(c + 1) / ln(k + 1)`, floored to whole milliseconds, never below min; the
    `elapsed` time since the suspicion started is subtracted. The result may be zero or
    negative, meaning "due now". The total stays within `[min_timeout, max_timeout]`. With
    `k < 1` memberlist never calls this (its timer starts at min and no confirmation counts),
    so the min timeout is used.
    """
    if k < 1:
        timeout = min_timeout
    else:
        frac = math.log(confirmations + 1.0) / math.log(k + 1.0)
        raw = max_timeout - frac * (max_timeout - min_timeout)
        timeout = math.floor(1000.0 * raw) / 1000
        if timeout < min_timeout:
            timeout = min_timeout
        elif timeout > max_timeout:
            # Only float noise gets here (max = 0.5609999999999999 floors to 0.561); Go's
            # integer nanoseconds cannot overshoot, so neither may we.
            timeout = max_timeout
    return timeout - elapsed


def retransmit_limit(retransmit_mult: int, n: int) -> int:
    """How many times a broadcast is sent: `mult * ceil(log10(n + 1))` (`util.go`).

    With n = 0 the limit is 0; the broadcast queue still sends such an item once.

    Raises:
        ValueError: n is negative.
    """
    if n < 0:
        raise ValueError(f"node count must be >= 0, got {n}")
    return retransmit_mult * math.ceil(math.log10(n + 1))


def push_pull_scale(interval: float, n: int) -> float:
    """Push-pull period for a cluster of n nodes (`util.go: pushPullScale`).

    Unchanged up to 32 nodes, then multiplied by `ceil(log2(n) - log2(32)) + 1`: 33..64 -> x2,
    65..128 -> x3, 129..256 -> x4, so full-state exchanges do not swamp a large cluster.
    """
    if n <= PUSH_PULL_SCALE_THRESHOLD:
        return interval
    multiplier = math.ceil(math.log2(n) - math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1
    return multiplier * interval
