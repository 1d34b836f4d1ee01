"""The transmit-limited broadcast queue (memberlist 0.2.2 `queue.go: TransmitLimitedQueue`).

Why: SWIM spreads membership changes by piggybacking them on messages it sends anyway
(probes, acks, gossip rounds) instead of flooding. Each change must travel far enough to
reach everyone with high probability, yet not forever: memberlist sends each broadcast
`RetransmitMult * ceil(log10(n + 1))` times (`timing.retransmit_limit`), which the caller
passes in as `transmit_limit` on every call, since n changes while items wait.

Theory of operation (the rules are memberlist's, so packets pack the same way):

- Order. Items are ranked by (transmits ascending, message length descending, id
  descending): least-sent first, so fresh news overtakes old; then biggest first, to pack
  packets well; then newest first. `id` is a counter stamped at `queue` time.
- `get_broadcasts(overhead, limit, transmit_limit)` walks the transmit tiers from the lowest
  count. In a tier it takes the first item, in rank order, whose length fits the free space
  `limit - used - overhead`, adds `overhead + len` to `used`, and searches the same tier again;
  when nothing in the tier fits it moves to the next tier (space only shrinks, so a skipped
  tier never fits later). It stops when the free space is gone. A taken item is retired
  (finished) when `transmits + 1 >= transmit_limit`, so even a limit of 0 (n = 0) sends it
  once; otherwise its count is bumped and it is re-filed only after the walk, so one call
  never sends the same item twice. An item larger than `limit - overhead` is never sent; it
  waits until pruned, invalidated or reset, as in memberlist.
- Invalidation. A broadcast queued with a `name` (memberlist's own messages are named after
  the node they are about) drops and finishes any queued item with the same name: only the
  newest news about a node is worth sending. Unnamed broadcasts (serf's intents, events and
  queries) are unique and never invalidated. memberlist's third kind, invalidation by linear
  `Invalidates()` scan, has no user here and is not offered.
- `prune(max_retain)` drops the most-sent items (the rank order's tail) until `max_retain`
  remain: serf uses it to bound its queues.
- Finishing. memberlist calls `Broadcast.Finished()` (serf uses it to learn that its leave
  intent went out). Here each item may carry an opaque `notify` token; tokens of items that
  were retired, invalidated, pruned or reset collect in order, and `take_finished()` hands
  them over once. Items queued without a token finish silently.

Data layout, for speed (a joining 1,000-node cluster queues ~1,000 items at every node and
every node reads batches several times a second): one list per transmit count, sorted
ascending by `(len, id)`, i.e. the reverse of the rank order within the tier. An entry is that
pair as one int, `len << ID_BITS | id`, because every transmission re-files its item one tier
up and a bisection over plain ints costs half one over tuples; a dict finds the item by key.
The first fitting item is then found with one bisection (the last entry with `len <= free`),
and when everything fits it is the list's last entry, so taking it is an O(1) `pop()`. The
shortest message of a tier is its first entry, which lets a walk skip a tier, or stop, in O(1).
A dict by name finds an item to invalidate; its tier and key locate it by bisection. No call
re-sorts the queue.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort

ID_BITS = 48
"""Bits of an entry key that hold the item's id: ids stay below 2**48 (a queue would have to
take a million broadcasts a second for nine years to overflow them)."""


class _Item:
    """One queued broadcast."""

    __slots__ = ("key", "msg", "name", "notify", "transmits")

    def __init__(self, item_id: int, msg: bytes, name: str | None, notify: object | None) -> None:
        self.key = len(msg) << ID_BITS | item_id
        """Its tier entry: sorts as (len, id) does."""
        self.msg = msg
        self.name = name
        self.notify = notify
        self.transmits = 0


class TransmitLimitedQueue:
    """Broadcasts waiting to be piggybacked, each sent a limited number of times."""

    __slots__ = (
        "_by_key",
        "_by_name",
        "_finished",
        "_ids",
        "_tiers",
        "count",
        "queued_total",
        "sent_total",
    )

    def __init__(self) -> None:
        self._tiers: dict[int, list[int]] = {}
        self._by_key: dict[int, _Item] = {}
        self._by_name: dict[str, _Item] = {}
        self.count = 0
        """How many broadcasts are queued (read it; only the queue changes it)."""
        self.queued_total = 0
        """Broadcasts ever queued, and transmissions ever taken (for metrics)."""
        self.sent_total = 0
        self._finished: list[object] = []
        self._ids = itertools.count(1)

    def queue(self, msg: bytes, *, name: str | None = None, notify: object | None = None) -> None:
        """Add a broadcast; a `name` replaces (and finishes) a queued one with that name.

        `notify` is surfaced by `take_finished()` once the broadcast leaves the queue.
        """
        if name is not None:
            old = self._by_name.get(name)
            if old is not None:
                self._remove(old)
                self._finish(old)
        item = _Item(next(self._ids), msg, name, notify)
        self._insert(item)
        self.queued_total += 1

    def get_broadcasts(self, overhead: int, limit: int, transmit_limit: int) -> list[bytes]:
        """Take broadcasts for one packet: the batch's `len(msg) + overhead` sum to <= `limit`.

        See the module docstring for the order and the retirement rule (memberlist
        `GetBroadcasts`); `transmit_limit` is `timing.retransmit_limit(mult, n)`.
        """
        tiers = self._tiers
        if not tiers:
            return []
        order = sorted(tiers)
        # Items only leave during the walk, so the shortest length now is a lower bound.
        shortest = min([tiers[t][0] for t in order]) >> ID_BITS
        by_key = self._by_key
        used = 0
        out: list[bytes] = []
        moved: list[tuple[int, list[int], list[_Item]]] = []  # re-filed after the walk
        for transmits in order:
            tier = tiers[transmits]
            free = limit - used - overhead
            if free <= 0 or free < shortest:
                break
            taken: list[int] = []
            while free > 0 and tier and tier[0] >> ID_BITS <= free:
                if tier[-1] >> ID_BITS <= free:  # the last fits: the first in rank order is last
                    # ... and so may the ones before it, each then the biggest that fits: take
                    # that whole tail in one slice.
                    start = len(tier)
                    while start and free > 0 and tier[start - 1] >> ID_BITS <= free:
                        start -= 1
                        used += overhead + (tier[start] >> ID_BITS)
                        free = limit - used - overhead
                    run = tier[start:]
                    del tier[start:]
                    run.reverse()
                    taken += run
                else:  # the last entry with len <= free: biggest that fits, newest on ties
                    key = tier.pop(bisect_left(tier, (free + 1) << ID_BITS) - 1)
                    used += overhead + (key >> ID_BITS)
                    free = limit - used - overhead
                    taken.append(key)
            if not tier:
                del tiers[transmits]
            items = [by_key[key] for key in taken]
            out += [item.msg for item in items]
            if transmits + 1 >= transmit_limit:
                for item in items:
                    self._forget(item)
                    self._finish(item)
            elif taken:
                moved.append((transmits + 1, taken, items))
        for up, taken, items in moved:  # as memberlist: each moves up a tier after the walk
            for item in items:
                item.transmits = up
            higher = tiers.get(up)
            if higher is None:
                taken.sort()
                tiers[up] = taken
            else:
                for key in taken:
                    insort(higher, key)
        self.sent_total += len(out)
        return out

    def prune(self, max_retain: int) -> None:
        """Drop (and finish) the most-transmitted items until at most `max_retain` remain.

        Within the highest tier the shortest, then oldest, goes first: memberlist removes the
        btree's maximum one at a time.
        """
        tiers = self._tiers
        excess = self.count - max(0, max_retain)
        while excess > 0:
            top = max(tiers)
            tier = tiers[top]
            take = min(excess, len(tier))
            dropped = tier[:take]
            del tier[:take]
            if not tier:
                del tiers[top]
            for key in dropped:
                item = self._by_key[key]
                self._forget(item)
                self._finish(item)
            excess -= take

    def take_finished(self) -> list[object]:
        """Notify tokens of items retired, invalidated, pruned or reset since the last call."""
        finished = self._finished
        if finished:  # asked after every input: keep the usual empty answer allocation-free
            self._finished = []
        return finished

    def reset(self) -> None:
        """Drop (and finish) everything, in rank order, as memberlist `Reset`."""
        for transmits in sorted(self._tiers):
            for key in reversed(self._tiers[transmits]):
                self._finish(self._by_key[key])
        self._tiers.clear()
        self._by_key.clear()
        self._by_name.clear()
        self.count = 0
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        sizes = {t: len(self._tiers[t]) for t in sorted(self._tiers)}
        return f"TransmitLimitedQueue(queued={self.count}, tiers={sizes})"

    def _insert(self, item: _Item) -> None:
        self._file(item)
        self._by_key[item.key] = item
        self.count += 1
        if item.name is not None:
            self._by_name[item.name] = item

    def _file(self, item: _Item) -> None:
        """Put `item` into its transmit tier, keeping the tier sorted by (len, id)."""
        tier = self._tiers.get(item.transmits)
        if tier is None:
            self._tiers[item.transmits] = [item.key]
        else:
            insort(tier, item.key)

    def _remove(self, item: _Item) -> None:
        """Unlink a queued `item` from its tier and the indexes."""
        tier = self._tiers[item.transmits]
        del tier[bisect_left(tier, item.key)]
        if not tier:
            del self._tiers[item.transmits]
        self._forget(item)

    def _forget(self, item: _Item) -> None:
        """Drop the indexes of an item already unlinked from its tier."""
        del self._by_key[item.key]
        self.count -= 1
        if item.name is not None:
            del self._by_name[item.name]

    def _finish(self, item: _Item) -> None:
        if item.notify is not None:
            self._finished.append(item.notify)
