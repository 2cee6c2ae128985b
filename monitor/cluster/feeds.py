"""Role 1, feeds: N daemons with one config share its feeds through a consumer group.

Topic ``<prefix>.feeds`` (compacted, ``bus.partitions`` partitions), keyed by each feed's
identity URL, holds each feed's state record (:mod:`monitor.cluster.feeds_record`). The
group ``<group_id>.feeds`` (:mod:`monitor.cluster.feeds_group`) assigns its partitions;
this daemon polls exactly the configured feeds whose key falls in a partition it holds:

* assigned: the partitions' records are read to their end; each of those feeds is given
  to the poller with its state (validators, schedule, the ids of its last body) unless
  this daemon's own state file has a newer one, so a takeover polls conditionally, on
  the feed's schedule, and republishes nothing the last owner saw;
* after each poll: the feed's new state goes to the topic, to the feed's own partition,
  at once (one send at a time, so a key's records stay in order; the states of the polls
  that end while one is under way go together in the next);
* revoked: no poll of those feeds starts; those in flight get ``POLL_GRACE`` (at most a
  quarter of ``max_poll_interval``, the time the group waits for a member) to finish
  (then cancelled: their items not marked seen, so published again by the next owner,
  never lost) and their last states are written before the group is told, within
  ``WRITE_GRACE``: the next owner reads them. A feed is never polled by two daemons at
  once;
* lost (evicted: its session ran out, as after a broker restart longer than it): the
  polls in flight are cancelled at once (another daemon may own the feeds already) and
  the states not yet written are written all the same, at once: they are newer than what
  is in the topic, and a record of the new owner's comes after them within a poll;
* stopping (after the poller stopped): every feed's last state is written, then the
  group is left, so the others take over at once rather than after a session timeout.

What a takeover can repeat: the polls and seen marks of the last owner that had not
reached the topic when it died or was evicted (the time of one send): those feeds are
fetched again and those items published again (at least once, never lost); so are the
items of a poll cancelled while publishing them; an item that left a feed's body and came
back is published again by a new owner (only the last body's ids travel).

Metrics: ``newsmon_cluster_feeds_owned`` (the poller's),
``newsmon_cluster_partitions_owned{role="feeds"}``, ``..._takeovers_total``,
``..._takeover_seconds`` (assigned -> the feeds' states restored and polled again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from monitor.bus.kafka import KafkaBus
from monitor.bus.kafka_producer import Record
from monitor.cluster.feeds_group import FeedsGroup
from monitor.cluster.feeds_record import decode_record, encode_record, feed_partition
from monitor.config import FeedConfig
from monitor.metrics import Metrics
from monitor.store import FeedState

log = logging.getLogger(__name__)

FEEDS = "feeds"  # the topic's short name, and the role's
STOP_FLUSH = 5.0  # seconds the last states may take to be written on the way out
POLL_GRACE = 15.0  # seconds polls in flight may take to finish on a revocation, at most
WRITE_GRACE = 5.0  # seconds the released feeds' states may take to be written, at most

Restored = Mapping[str, tuple[FeedState, bytes]]  # feed url -> its state and known ids


class FeedOwner(Protocol):
    """What the role needs of the poller (:class:`monitor.sources.poller.Poller`)."""

    def own(self, urls: Iterable[str], restored: Restored) -> int: ...

    async def release(self, urls: Iterable[str], grace: float) -> Restored: ...

    def owned(self) -> list[str]: ...


class FeedsRole:
    def __init__(self, bus: KafkaBus, feeds: Sequence[FeedConfig], metrics: Metrics) -> None:
        self._bus, self._metrics = bus, metrics
        count = bus.config.partitions
        self.topic = bus.topic(FEEDS)
        self._partition = {feed.url: feed_partition(feed.url, count) for feed in feeds}
        wait = bus.config.max_poll_interval  # the rebalance timeout
        self._grace, self._write_grace = min(POLL_GRACE, wait / 4), min(WRITE_GRACE, wait / 8)
        self._owner: FeedOwner | None = None
        self._group: FeedsGroup | None = None
        self._staged: dict[str, tuple[FeedState, bytes]] = {}  # states not yet written
        self._dirty: asyncio.Event | None = None
        self._sending: asyncio.Lock | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._previous: frozenset[int] = frozenset()  # the last assignment
        self._closing = False
        self._bad: set[str] = set()  # feeds whose record could not be read (logged once)

    def attach(self, owner: FeedOwner) -> None:
        self._owner = owner

    async def __aenter__(self) -> FeedsRole:
        assert self._owner is not None, "attach() the poller first"
        await self._bus.add_topics([self._bus.spec(FEEDS, compact=True)])
        self._dirty, self._sending = asyncio.Event(), asyncio.Lock()
        self._flusher = asyncio.create_task(self._flush_loop(), name="feeds-state")
        self._metrics.cluster_partitions_owned.labels(FEEDS).set(0)
        self._group = FeedsGroup(
            self.topic, self._bus.consumer_settings(FEEDS), asyncio.get_running_loop(),
            assigned=self._assigned, revoked=self._revoked,
            revoke_wait=self._grace + self._write_grace + 1.0,
            lease=self._bus.config.session_timeout - self._bus.config.heartbeat_interval,
        )  # fmt: skip
        self._group.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """The poller has stopped: write every feed's last state, then leave the group."""
        self._closing = True
        assert self._owner is not None and self._group is not None
        self._staged.update(await self._owner.release(self._owner.owned(), 0.0))
        try:
            await asyncio.wait_for(self._flush(), STOP_FLUSH)
        except TimeoutError:
            log.warning("feeds_state_not_written feeds=%d (the broker did not take them in"
                        " time: their next owner polls them again)", len(self._staged))  # fmt: skip
        self._group.stop()
        await asyncio.to_thread(self._group.join, STOP_FLUSH)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._metrics.cluster_partitions_owned.labels(FEEDS).set(0)

    def state_changed(self, state: FeedState, known: bytes) -> None:
        """The poller's hook after each poll: stage the feed's state for the topic."""
        self._staged[state.url] = (state, known)
        if self._dirty is not None:
            self._dirty.set()

    def may_poll(self) -> bool:
        """The poller's hook before it starts polls: only while the group's lease holds."""
        return self._group is None or self._group.lease_ok()

    async def ready(self) -> bool:
        return self.waiting() is None

    def waiting(self) -> str | None:
        """What the role waits on (None: serving), for readiness."""
        group = self._group
        if group is None or not group.is_alive():
            return "not started"
        if group.restoring is not None:
            return f"restoring the feeds of partitions {sorted(group.restoring)}"
        return None if group.joined else "joining the group"

    # -- the group's hand-overs (on the event loop) -----------------------------------

    async def _assigned(
        self, partitions: frozenset[int], records: dict[str, bytes], at: float
    ) -> None:
        if self._closing or self._owner is None:
            return
        urls = [url for url, p in self._partition.items() if p in partitions]
        restored = {}
        for url in urls:
            if (value := records.get(url)) is None:
                continue
            try:
                restored[url] = decode_record(url, value)
            except ValueError as exc:
                if url not in self._bad:
                    self._bad.add(url)
                    log.warning("feed_state_unreadable feed_url=%s error=%s (polled as new)",
                                url, exc)  # fmt: skip
        added = self._owner.own(urls, restored)
        taken = self._assigned_metrics(partitions, time.monotonic() - at)
        log.info(
            "feeds_assigned partitions=%s feeds=%d restored=%d taken_over=%d seconds=%.3f",
            sorted(partitions), added, len(restored), taken, time.monotonic() - at,
        )  # fmt: skip

    def _assigned_metrics(self, partitions: frozenset[int], seconds: float) -> int:
        m, taken = self._metrics, len(partitions - self._previous)
        self._previous = partitions
        m.cluster_partitions_owned.labels(FEEDS).set(len(partitions))
        if taken:
            m.cluster_takeovers.labels(FEEDS).inc(taken)
            m.cluster_takeover_seconds.labels(FEEDS).observe(seconds)
        return taken

    async def _revoked(self, partitions: frozenset[int], lost: bool) -> None:
        if self._owner is None:
            return
        started = time.monotonic()
        urls = [url for url, p in self._partition.items() if p in partitions]
        states = await self._owner.release(urls, 0.0 if lost else self._grace)
        self._metrics.cluster_partitions_owned.labels(FEEDS).set(0)
        if lost:  # the polls were cancelled: what they left is staged already, or not at all
            self._previous = frozenset()
            log.warning("feeds_lost partitions=%s feeds=%d (evicted from the group)",
                        sorted(partitions), len(states))  # fmt: skip
        else:
            self._staged.update(states)
        try:
            await asyncio.wait_for(self._flush(), self._write_grace)
        except TimeoutError:
            for url in urls:
                self._staged.pop(url, None)
            log.warning("feeds_state_not_written feeds=%d (the broker did not take them in"
                        " time: their next owner may poll them again)", len(urls))  # fmt: skip
        if not lost:
            log.info("feeds_revoked partitions=%s feeds=%d seconds=%.3f", sorted(partitions),
                     len(states), time.monotonic() - started)  # fmt: skip

    # -- writing the states ----------------------------------------------------------

    async def _flush_loop(self) -> None:
        assert self._dirty is not None
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Write what is staged; one write at a time, so a feed's records keep their order."""
        assert self._sending is not None
        async with self._sending:
            batch, self._staged = self._staged, {}
            urls = [url for url in batch if url in self._partition]
            if not urls:
                return
            records: list[Record] = [(url.encode(), encode_record(*batch[url]), []) for url in urls]
            partitions: list[int | None] = [self._partition[url] for url in urls]
            try:
                await self._bus.producer.send_many(self.topic, records, partitions)
            except asyncio.CancelledError:
                for url in urls:  # unless a newer state came meanwhile
                    self._staged.setdefault(url, batch[url])
                raise
