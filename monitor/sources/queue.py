"""Which feed is polled next (pure bookkeeping, no I/O, no asyncio).

One heap holds every feed's next due time, so a wake-up costs O(log n) whatever
the number of feeds sleeping (one task per feed, each waiting on a shared stop
event, cost a scan of every sleeper per wake-up). A feed that falls due joins its
host's queue; it starts when its host has a free fetch slot (``per_host``) and a
slot is free in all (``total``). Hosts waiting for a slot in all are served in
turn, one poll each, so a host with 10,000 feeds due gets its ``per_host`` slots
and no more, and never delays another host's polls: a slow host's queue waits
on its own slots only.

    queue = PollQueue(per_host=2, total=100)
    queue.schedule(feed, "example.org:443", due)
    for feed in queue.take(now):   # slots taken; give each back with done(feed)
        ...
    queue.cancel(feed)             # a feed given up (another daemon polls it now)

A cancelled feed leaves the heap lazily: its entry is skipped when it comes up.
"""

from __future__ import annotations

import heapq
from collections import deque

__all__ = ["PollQueue"]


class _Host:
    __slots__ = ("active", "due", "waiting")

    def __init__(self) -> None:
        self.due: deque[int] = deque()  # feeds due, oldest first
        self.active = 0  # polls in flight
        self.waiting = False  # in the queue of hosts waiting for a slot in all


class PollQueue:
    def __init__(self, per_host: int, total: int) -> None:
        self.per_host = max(1, per_host)
        self.total = max(1, total)
        self.active = 0  # polls in flight, all hosts
        self._heap: list[tuple[float, int, int]] = []  # (due, sequence, feed)
        self._live: dict[int, int] = {}  # feed -> the sequence of its live heap entry
        self._seq = 0
        self._hosts: dict[str, _Host] = {}
        self._host_of: dict[int, _Host] = {}
        self._turns: deque[_Host] = deque()  # hosts with a feed due and a free host slot
        self._due_at: dict[int, float] = {}  # feed -> when it fell due (for its slip)

    def schedule(self, feed: int, host: str, due: float) -> None:
        """Poll ``feed`` (fetched from ``host``) at ``due``."""
        if feed not in self._host_of:
            self._host_of[feed] = self._hosts.setdefault(host, _Host())
        heapq.heappush(self._heap, (due, self._seq, feed))
        self._live[feed] = self._seq
        self._seq += 1

    def cancel(self, feed: int) -> None:
        """Poll ``feed`` no more (unless scheduled again); a poll of it already started
        is not affected (its slots come back with :meth:`done`)."""
        self._live.pop(feed, None)
        host = self._host_of.get(feed)
        if host is not None and feed in host.due:
            host.due.remove(feed)
            self._due_at.pop(feed, None)
            if not host.due and host.waiting:
                host.waiting = False
                self._turns.remove(host)

    def next_due(self) -> float | None:
        """When the next feed not yet due falls due (None: none scheduled)."""
        heap = self._heap
        while heap and self._live.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)  # cancelled
        return heap[0][0] if heap else None

    def take(self, now: float) -> list[int]:
        """The feeds that start now: due by ``now``, with a free slot (now taken)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, seq, feed = heapq.heappop(heap)
            if self._live.get(feed) != seq:
                continue  # cancelled
            del self._live[feed]
            host = self._host_of[feed]
            host.due.append(feed)
            self._due_at[feed] = due
            self._offer(host)
        started: list[int] = []
        while self._turns and self.active < self.total:
            host = self._turns.popleft()
            host.waiting = False
            started.append(host.due.popleft())
            host.active += 1
            self.active += 1
            self._offer(host)
        return started

    def due_at(self, feed: int) -> float:
        """When a feed :meth:`take` started fell due."""
        return self._due_at.pop(feed, 0.0)

    def done(self, feed: int) -> None:
        """A poll :meth:`take` started has ended: its slots are free again."""
        host = self._host_of[feed]
        host.active -= 1
        self.active -= 1
        self._offer(host)

    def idle(self) -> bool:
        """Nothing scheduled, due or in flight."""
        return not self._live and not self._turns and self.active == 0

    def waiting(self) -> int:
        """Feeds due that wait for a slot."""
        return sum(len(h.due) for h in self._hosts.values())

    def _offer(self, host: _Host) -> None:
        if host.due and host.active < self.per_host and not host.waiting:
            host.waiting = True
            self._turns.append(host)
