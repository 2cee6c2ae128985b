"""What this process published to the Kafka bus and has not yet seen acked.

``KafkaBus.drain(topic)`` waits until what *this process* published to ``topic`` was
acked by this process's consumer, for the partitions it holds; the rest is left to
Kafka (the group members holding those partitions, or the next start). What
:class:`Published` tracks for that (and the bus reports as ``depth``) is pruned to what
this process can see acked: records on partitions another member holds, and records
below where this process took a partition over (the group processed those), are
dropped. Everything here runs on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from typing import Protocol

PRUNE_INTERVAL = 1.0  # seconds: how often publishing prunes what drain and depth track

At = tuple[int, int]  # (partition, offset)


class Consumer(Protocol):
    """What pruning reads of a consumer thread (``ConsumerThread``)."""

    topic: str
    assigned: frozenset[int]
    assignment_known: bool
    starts: dict[int, int]


class Published:
    def __init__(self, consumers: Sequence[Consumer]) -> None:
        self.pending: dict[str, set[At]] = {}  # published here, not yet acked
        self._consumers = consumers  # the bus's consumer threads (the list, kept up to date)
        self._early: dict[str, set[At]] = {}  # acked before publish returned
        self._publishing: dict[str, int] = {}  # publish_many calls under way, per topic
        self._pruned: dict[str, float] = {}  # when pending was last pruned, per topic
        self._changed = asyncio.Event()

    async def send(self, name: str, sending: Awaitable[list[At]]) -> None:
        """Await ``sending`` (records to topic ``name``) and track where they landed."""
        self._publishing[name] = self._publishing.get(name, 0) + 1
        try:
            sent = await sending
        finally:
            self._publishing[name] -= 1
        pending = self.pending.setdefault(name, set())
        early = self._early.get(name)
        for at in sent:
            if early is not None and at in early:
                early.discard(at)  # its consumer acked it before the broker's answer came
            else:
                pending.add(at)
        if not self._publishing[name]:
            self._early.pop(name, None)  # no publish left for an early ack to match
        if time.monotonic() - self._pruned.get(name, 0.0) >= PRUNE_INTERVAL:
            self.prune(name)

    def acked(self, name: str, at: At) -> None:
        """This process's consumer acked a record this process published to ``name``."""
        pending = self.pending.get(name)
        if pending is not None and at in pending:
            pending.discard(at)
            self._changed.set()
        elif self._publishing.get(name):  # its publish may not have returned yet
            self._early.setdefault(name, set()).add(at)

    def prune(self, name: str) -> set[At]:
        """What this process published to ``name`` and will see acked: once every
        consumer of it knows its assignment, records on partitions held by other
        members of the group, or below the offset this process took a partition
        over at (processed before), are dropped. Unconsumed topics keep all."""
        self._pruned[name] = time.monotonic()
        pending = self.pending.setdefault(name, set())
        threads = [t for t in self._consumers if t.topic == name]
        if not pending or not threads or not all(t.assignment_known for t in threads):
            return pending
        held: set[int] = set().union(*(t.assigned for t in threads))
        starts: dict[int, int] = {}
        for thread in threads:
            starts.update(thread.starts)
        gone = {at for at in pending if at[0] not in held or at[1] < starts.get(at[0], -1)}
        if gone:
            pending -= gone
            self._changed.set()
        return pending

    async def drain(self, name: str) -> None:
        snapshot = set(self.pending.get(name, ()))
        while snapshot:
            snapshot &= self.prune(name)  # the rest is for other members to process
            if not snapshot or not any(t.topic == name for t in self._consumers):
                return
            self._changed.clear()
            try:
                async with asyncio.timeout(0.1):
                    await self._changed.wait()
            except TimeoutError:
                pass
