"""The stories role: one owner per desk, its decisions made exactly once.

``<prefix>.matches`` is keyed by desk (the story's desk: its first hit's ``desk`` label,
else "all"), so one desk's matches are in one partition and the consumer group
``<group_id>.alerts`` gives each partition one owner. For each partition it holds, the
owner keeps a :class:`~monitor.cluster.stories_partition.PartitionStories` (the memory
bus's stories stage on a local ``:memory:`` view) and a transactional producer whose id,
``<group_id>.stories.<partition>``, fences the partition's last owner.

* **On assignment**: ``init_transactions`` (the last owner's open transaction is aborted,
  and it can commit nothing more), then the changelog partition ``<prefix>.stories`` is
  read ``read_committed`` into the local view, then the consumer resumes at the offset
  the last committed transaction left. Only then are matches handled. The time from the
  assignment to serving is ``newsmon_cluster_takeover_seconds{role="stories"}``.
* **Per batch** of a partition's matches: begin; each match through the stage; its story
  and member records to the changelog, one ``<prefix>.outbox`` record per receiver
  concerned, dead letters; the matches' offsets (with the consumer's group metadata, so a
  zombie member is fenced too); commit. So a story's decision (post it to receiver R) is
  made once per desk, whatever crashes: a decision is visible only with its offsets.
* **On an abort**: the local view is dropped, the consumer goes back to the committed
  offset, and the view is rebuilt from the changelog before the next match.
* **On revocation** nothing is lost (every batch committed before the next poll); the
  view is kept in case the partition comes back (under eager rebalancing every
  rebalance revokes all): if another owner wrote meanwhile, it fenced this producer,
  and the next commit fails and rebuilds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from monitor.bus.kafka_group import GroupLoop
from monitor.bus.kafka_message import classify
from monitor.bus.kafka_txn import (
    CALL_WAIT_MS,
    Aborted,
    Fenced,
    OffsetAndMetadata,
    Out,
    TopicPartition,
    TxnProducer,
)
from monitor.bus.kafka_txn import read_changelog as read
from monitor.cluster.stories_partition import PartitionStories, Topics
from monitor.config import Settings
from monitor.errors import BusError
from monitor.metrics import Metrics
from monitor.model import Match

log = logging.getLogger(__name__)

ROLE = "stories"


def desk(match: Match) -> str:
    """The key of a match in ``<prefix>.matches``: its story's desk."""
    first = match.hits[0] if match.hits else None
    return dict(first.labels).get("desk", "all") if first else "all"


class StoriesOwner:
    """The stories role for a :class:`GroupLoop` (see the module docstring)."""

    def __init__(self, settings: Settings, metrics: Metrics, kafka: dict[str, Any],
                 receivers: list[str]) -> None:  # fmt: skip
        b = settings.bus
        self.settings, self.metrics, self.kafka, self.receivers = (
            settings,
            metrics,
            kafka,
            receivers,
        )
        prefix = b.topic_prefix
        self.topics = Topics(f"{prefix}.stories", f"{prefix}.outbox", f"{prefix}.dead-letter",
                             b.partitions)  # fmt: skip
        self.txn_prefix = f"{b.group_id}.{ROLE}"
        self.owned: frozenset[int] = frozenset()
        self.assigned_once = False
        self.rebalancing = False  # revoked, not yet assigned again: keep what may come back
        self.parts: dict[int, PartitionStories] = {}
        self.producers: dict[int, TxnProducer] = {}
        self.rebuilding: dict[int, tuple[int, int]] = {}  # partition -> (records read, end)
        self._since: dict[int, float] = {}  # partition -> when it was assigned (monotonic)
        self._tombstones: dict[int, list[Out]] = {}  # expired at rebuild: next transaction
        self._lock = threading.Lock()
        self._stop_at = math.inf  # monotonic: the daemon stops, nothing waits past it

    # -- the group's calls (kafka-python's IO thread) ---------------------------------

    def assigned(self, partitions: frozenset[int]) -> None:
        now = time.monotonic()
        with self._lock:
            self.owned, self.assigned_once, self.rebalancing = partitions, True, False
            for p in partitions - set(self.parts):  # the loop's thread waits in poll
                self._since.setdefault(p, now)
        self.metrics.cluster_partitions_owned.labels(ROLE).set(len(partitions))
        log.info("partitions_assigned role=%s partitions=%s", ROLE, sorted(partitions))

    def revoked(self, partitions: frozenset[int]) -> None:
        with self._lock:
            self.owned, self.rebalancing = self.owned - partitions, True

    # -- the loop's thread --------------------------------------------------------------

    def turn(self, loop: GroupLoop) -> None:
        """Drop what is no longer held; build what was assigned, before any match."""
        with self._lock:
            owned, rebalancing = self.owned, self.rebalancing
        for p in [] if rebalancing else [p for p in self.parts if p not in owned]:
            self._drop(p)
        for p in [p for p in self._since if p not in owned]:
            del self._since[p]
        for p in sorted(owned - set(self.parts)):
            if loop.stopping:
                return
            self._build(loop, p)

    def handle(self, loop: GroupLoop, partition: int, records: list[Any]) -> None:
        if partition not in self.owned:
            return  # revoked while polling: its new owner handles these
        if loop.stopping:
            return  # fetched again from the committed offset by the next owner
        if partition not in self.parts and not self._build(loop, partition, records[0].offset):
            return  # the records before the committed offset: fetched again from there
        part, out = self.parts[partition], list(self._tombstones.pop(partition, ()))
        now = time.time()
        for record in records:
            out += self._one(part, record, now)
        offsets = {loop.tp(partition): OffsetAndMetadata(records[-1].offset + 1, "", -1)}
        try:
            self.producers[partition].commit(out, offsets, loop.consumer.group_metadata())
        except (Fenced, Aborted) as exc:
            self.metrics.cluster_transaction_aborts.labels(ROLE).inc()
            log.warning("stories_aborted partition=%d error=%s (rebuilding from the changelog)",
                        partition, exc)  # fmt: skip
            self._drop(partition, producer=isinstance(exc, Fenced))
            if not loop.stopping:  # stopping: the next owner starts from the committed offset
                self._seek(loop, partition)

    def _one(self, part: PartitionStories, record: Any, now: float) -> list[Out]:
        headers = dict(record.headers) if record.headers else {}
        value, reason, detail = classify(record, headers)
        if isinstance(value, Match):
            try:
                return part.handle(value, now)
            except BusError:
                raise
            except Exception as exc:  # a bug on one match: dead-lettered, the stage goes on
                reason, detail = "handler_error", f"{type(exc).__name__}: {exc}"
                log.error("stage_error topic=matches role=stories error=%s", detail, exc_info=exc)
        elif value is not None:
            reason, detail = "undecodable", f"a {type(value).__name__} in the matches topic"
        self.metrics.bus_dead_letters.labels("matches", reason).inc()
        where = f"{record.topic}/{record.partition}/{record.offset}"
        extra = [("newsmon-error", reason.encode()), ("newsmon-error-detail",
                 detail.encode()[:1000]), ("newsmon-source", where.encode())]  # fmt: skip
        return [Out(self.topics.dead_letter, record.key or b"", record.value or b"", None,
                    [*(record.headers or ()), *extra])]  # fmt: skip

    def _build(self, loop: GroupLoop, partition: int, first: int | None = None) -> bool:
        """Fence the last owner, rebuild the view, resume at the committed offset. True
        when the records starting at ``first`` are the ones to handle now."""
        started = time.monotonic()
        own = TopicPartition(self.topics.stories, partition)
        producer = self.producers.get(partition) or TxnProducer(
            self.kafka, f"{self.txn_prefix}.{partition}", [own], [loop.kafka["group_id"]],
            changelog=own,
        )  # fmt: skip
        producer.stop_by(self._stop_at)
        producer.open()  # raises BusError (the loop retries): nothing built meanwhile
        self.producers[partition] = producer
        committed = self._committed(loop, partition)  # only this producer commits it now
        part = PartitionStories(partition, self.settings, self.metrics, self.topics,
                                self.receivers)  # fmt: skip
        self.rebuilding[partition] = (0, 0)
        try:
            records = read(self.kafka, self.topics.stories, partition,
                           lambda n, end: self._progress(partition, n, end),
                           stop=loop.stop_event)  # fmt: skip
            count, tombstones = part.restore(records, time.time())
        except BaseException:
            part.close()
            raise
        finally:
            self.rebuilding.pop(partition, None)
        self.parts[partition], self._tombstones[partition] = part, tombstones
        resume = first is not None and first == committed
        if not resume:
            self._seek(loop, partition, committed)
        since = self._since.pop(partition, None)
        if since is not None:  # a takeover (not a rebuild after an abort)
            self.metrics.cluster_takeovers.labels(ROLE).inc()
            self.metrics.cluster_takeover_seconds.labels(ROLE).observe(time.monotonic() - since)
        log.info("%s role=%s partition=%d stories=%d records=%d rebuild_seconds=%.3f offset=%s",
                 "takeover" if since is not None else "rebuilt", ROLE, partition, count,
                 len(records), time.monotonic() - started, committed)  # fmt: skip
        return resume

    def _progress(self, partition: int, read: int, end: int) -> None:
        self.rebuilding[partition] = (read, end)

    def _committed(self, loop: GroupLoop, partition: int) -> int:
        """Where the last committed transaction left the partition (its start if none)."""
        tp = loop.tp(partition)
        committed: int | None = loop.consumer.committed(tp, timeout_ms=CALL_WAIT_MS)
        if committed is None:
            return int(loop.consumer.beginning_offsets([tp], timeout_ms=CALL_WAIT_MS)[tp])
        return committed

    def _seek(self, loop: GroupLoop, partition: int, offset: int | None = None) -> None:
        offset = self._committed(loop, partition) if offset is None else offset
        loop.consumer.seek(loop.tp(partition), offset)

    def _drop(self, partition: int, producer: bool = False) -> None:
        part = self.parts.pop(partition, None)
        if part is not None:
            part.close()
        self._tombstones.pop(partition, None)
        if producer and (gone := self.producers.pop(partition, None)) is not None:
            gone.close()

    def stop_by(self, deadline: float) -> None:
        """The daemon stops: no transaction waits past ``deadline`` (monotonic); what is
        not committed by then is redone by the partition's next owner."""
        self._stop_at = min(self._stop_at, deadline)
        for producer in list(self.producers.values()):
            producer.stop_by(deadline)

    def close(self) -> None:
        """Give the producers up (at once, even one the loop's thread still waits on),
        then the local views."""
        for producer in list(self.producers.values()):
            producer.abandon()
        self.producers.clear()
        for p in list(self.parts):
            self._drop(p)

    def ready(self) -> bool:
        return self.assigned_once and not self.rebuilding and set(self.owned) <= set(self.parts)

    def waiting_on(self) -> str:
        if not self.assigned_once:
            return "stories (joining the group)"
        if self.rebuilding:
            read, end = (sum(v) for v in zip(*self.rebuilding.values(), strict=True))
            return f"stories (rebuilding {read:,} of {end:,} records)"
        return ""
