"""This daemon's membership of the feeds group: one thread, one consumer of ``<prefix>.feeds``.

kafka-python's consumer is blocking and not thread-safe: this thread alone touches it
(a :class:`~monitor.bus.kafka_member.GroupMember`: joining the group, with backoff, is
the bus's; the steps below are the feeds role's).

* Assigned: the listener (on kafka-python's IO thread) only notes the partitions; this
  thread pauses them (the member fetches nothing: it polls only to stay in the group),
  reads each with a second consumer in no group (untouched by rebalances) from its
  beginning to its end offset (the last record of each key: the feeds' states), and
  hands them to the event loop (``assigned``).
* Revoked (eager rebalancing: every member gives everything up before anyone is given
  anything): the listener hands the partitions to the event loop (``revoked``) and
  waits until it has stopped polling their feeds and written their states, so that
  their next owner is given them only after that: a feed is never polled by two daemons
  at once. The listener is kafka-python's async kind, waiting in kafka-python's own IO
  loop (its sleep), so heartbeats go on meanwhile (a sync listener blocks them and the
  session could end); the wait is bounded (``revoke_wait``, under the rebalance timeout,
  ``max_poll_interval``: the group waits for this member that long) and the loop side
  bounds its own work within it.
* Lost (the daemon was evicted: its session ran out): handed over as lost: another
  member may own them already, so the loop cancels the polls in flight at once.
* A rebalance during a restore abandons it; the next assignment restores again.
* The lease (:meth:`FeedsGroup.lease_ok`): no poll starts while the coordinator has not
  answered a heartbeat (nor a join) for ``lease`` seconds (the session timeout less one
  heartbeat interval): by then it may have given the partitions to another member, and
  this daemon learns it only at its next successful exchange (a paused VM, a network
  split, a broker restart). The feeds stay owned; their polls wait.
* The thread outlives any error (logged once; ``error`` meanwhile). A consumer that keeps
  failing ``REBUILD_AFTER`` seconds while the broker answers is closed (its partitions
  handed over as lost first) and a new one joins in its place.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from kafka import AsyncConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from monitor.bus.kafka_member import (
    REBUILD_AFTER,
    ConsumerSettings,
    GroupMember,
    close_quietly,
    finish_dropped_join,
)

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]
Assigned = Callable[[frozenset[int], dict[str, bytes], float], Work]
Revoked = Callable[[frozenset[int], bool], Work]  # partitions, lost
HANDOVER_WAIT = 60.0  # seconds the thread waits for the loop to take an assignment
READ_TIMEOUT = 10.0  # seconds one offset lookup of a restore may take (then tried again)


class FeedsGroup(GroupMember):
    def __init__(
        self, topic: str, settings: ConsumerSettings, loop: asyncio.AbstractEventLoop, *,
        assigned: Assigned, revoked: Revoked, revoke_wait: float, lease: float,
    ) -> None:  # fmt: skip
        super().__init__("newsmon-feeds-group", topic, settings)
        self.error: str | None = None
        self.assignment: frozenset[int] = frozenset()  # what the event loop owns now
        self.restoring: frozenset[int] | None = None  # partitions being read
        self.joined = False  # an assignment (maybe empty) came and was handed over
        self._loop, self._assigned, self._revoked = loop, assigned, revoked
        self._revoke_wait, self._lease = revoke_wait, lease
        self._joined_at = -math.inf  # when the last assignment came (a join answered)
        self._lapsed = False  # the lease lapsed (logged once)
        # self._consumer, the group's member, fetches nothing
        self._reader: Any = None  # reads the partitions assigned, in no group
        self._generation = 0  # assignments and revocations the listener saw
        self._pending: tuple[int, frozenset[int], float] | None = None  # to restore
        self._failing_since: float | None = None

    def _listener(self) -> _Listener:
        return _Listener(self)

    def _steps(self) -> None:
        while not self._stopping.is_set():
            try:
                self._consumer.poll(timeout_ms=200)  # paused partitions: nothing comes
                finish_dropped_join(self._consumer)
                if (pending := self._pending) is not None:
                    self._restore(*pending)
            except Exception as exc:  # KafkaError, or a bug: logged once, tried again
                self._failing(exc)
                self._stopping.wait(1.0)
                if self._rebuild_due():
                    self._rebuild()
                    return
                continue
            if self.error is not None:
                log.info("feeds_group_recovered topic=%s", self.topic)
            self.error = self._failing_since = None

    def _restore(self, generation: int, partitions: frozenset[int], at: float) -> None:
        """Read ``partitions`` to their end offsets (with a consumer of no group: the
        group's rebalances leave it alone), hand the last record of each key to the event
        loop. A rebalance meanwhile abandons this one; an error is retried by the caller."""
        self.restoring = partitions
        self._consumer.pause(*self._consumer.assignment())  # the group's: membership only
        latest: dict[str, bytes | None] = {}
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if tps and not self._read(tps, generation, latest):
            return
        if self._generation != generation:
            return
        self._pending = None
        records = {key: value for key, value in latest.items() if value is not None}
        self._hand_over(self._assigned(partitions, records, at), HANDOVER_WAIT)
        self.assignment, self.restoring, self.joined = partitions, None, True

    def _read(
        self, tps: list[TopicPartition], generation: int, latest: dict[str, bytes | None]
    ) -> bool:
        """The last value of each key of ``tps`` into ``latest`` (None: a tombstone);
        False if a rebalance or the stop came first."""
        if self._reader is None:
            self._reader = KafkaConsumer(**{**self.settings.kafka, "group_id": None})
        reader, wait = self._reader, int(READ_TIMEOUT * 1000)
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps, timeout_ms=wait)
        todo = set(tps)
        while todo := {tp for tp in todo if (reader.position(tp, timeout_ms=wait) or 0) < ends[tp]}:
            self._consumer.poll(timeout_ms=0)  # the group's membership: a rebalance shows
            finish_dropped_join(self._consumer)
            if self._stopping.is_set() or self._generation != generation:
                return False
            for tp, records in reader.poll(timeout_ms=200, max_records=2000).items():
                for record in records:
                    if record.offset < ends[tp] and record.key:
                        latest[record.key.decode("utf-8", "replace")] = record.value
        return True

    def _hand_over(self, work: Work, wait: float) -> None:
        """Run ``work`` on the event loop and wait for it, at most ``wait`` seconds."""
        if (future := self._start(work)) is None:
            return
        try:
            future.result(timeout=wait)
        except concurrent.futures.TimeoutError:
            log.warning("feeds_handover_slow topic=%s waited=%.1fs (going on)", self.topic, wait)
        except Exception as exc:
            log.error("feeds_handover_failed topic=%s error=%s", self.topic, exc, exc_info=exc)

    def _start(self, work: Work) -> concurrent.futures.Future[None] | None:
        try:
            return asyncio.run_coroutine_threadsafe(work, self._loop)
        except RuntimeError:  # the loop is closed: the daemon is going away
            work.close()
            return None

    # -- the listener's side: kafka-python's IO thread, inside this thread's poll ----------

    def assigned_to(self, partitions: frozenset[int]) -> None:
        self._joined_at = time.monotonic()
        self._generation += 1
        self._pending = (self._generation, partitions, time.monotonic())
        log.info("partitions_assigned topic=%s partitions=%s", self.topic, sorted(partitions))

    async def revoked_async(self, lost: bool) -> None:
        """Hand what the loop owns over and wait for it, in kafka-python's loop, so its
        heartbeats go on."""
        future = self._revoking(lost)
        if future is None:
            return
        wait = self._revoke_wait
        sleep = _io_sleep(self._consumer)
        if sleep is None:  # not the kafka-python this was written for: block instead
            with contextlib.suppress(Exception):
                future.result(timeout=wait)
            return
        deadline = time.monotonic() + wait
        while not future.done() and time.monotonic() < deadline:
            await sleep(0.02)
        if not future.done():
            log.warning("feeds_handover_slow topic=%s waited=%.1fs (going on)", self.topic, wait)
        elif not future.cancelled() and (exc := future.exception()) is not None:
            log.error("feeds_handover_failed topic=%s error=%s", self.topic, exc, exc_info=exc)

    def _revoking(self, lost: bool) -> concurrent.futures.Future[None] | None:
        self._generation += 1
        self._pending, self.restoring, self.joined = None, None, False
        held, self.assignment = self.assignment, frozenset()
        if not held or self._stopping.is_set():
            return None
        return self._start(self._revoked(held, lost))

    def revoked(self, lost: bool) -> None:
        """:meth:`revoked_async` from this thread (a rebuild), waiting here."""
        if (future := self._revoking(lost)) is not None:
            with contextlib.suppress(Exception):
                future.result(timeout=self._revoke_wait)

    def lease_ok(self) -> bool:
        """Whether the coordinator answered this member (a heartbeat, a join) within the
        lease: if not, it may count it gone already (see the module docstring)."""
        heartbeat = getattr(getattr(self._consumer, "_coordinator", None), "heartbeat", None)
        answered = max(getattr(heartbeat, "last_receive", -math.inf), self._joined_at)
        ok = time.monotonic() - answered < self._lease
        if ok == self._lapsed:
            self._lapsed = not ok
            log.log(logging.INFO if ok else logging.WARNING,
                    "feeds_lease_%s topic=%s (%s)", "renewed" if ok else "lapsed", self.topic,
                    "polls go on" if ok else "no poll starts until the group answers")  # fmt: skip
        return ok

    # -- errors ----------------------------------------------------------------------

    def _failing(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.error:
            traced = exc if not isinstance(exc, KafkaError) else None
            log.warning("feeds_group_error topic=%s error=%s", self.topic, text, exc_info=traced)
        self.error = text
        if not self.settings.reachable():
            self._failing_since = None  # the broker is away: counted once it is back
        elif self._failing_since is None:
            self._failing_since = time.monotonic()

    def _rebuild_due(self) -> bool:
        since = self._failing_since
        return since is not None and time.monotonic() - since >= REBUILD_AFTER

    def _rebuild(self) -> None:
        log.warning("consumer_rebuild topic=%s reason=%s", self.topic, self.error)
        self.revoked(lost=True)
        self._close()
        self._failing_since = None
        if self.settings.on_rebuild is not None:
            self.settings.on_rebuild("consumer")

    def _close(self) -> None:
        for consumer in (self._consumer, self._reader):
            if consumer is not None:
                close_quietly(consumer)
        self._consumer = self._reader = None


def _io_sleep(consumer: Any) -> Callable[[float], Any] | None:
    """kafka-python 3's sleep for coroutines on its IO loop (the coordinator's)."""
    net = getattr(getattr(consumer, "_coordinator", None), "_net", None)
    sleep = getattr(net, "sleep", None)
    return sleep if callable(sleep) else None


class _Listener(AsyncConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group: FeedsGroup) -> None:
        self._group = group

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._group.revoked_async(lost=False)

    async def on_partitions_lost(self, lost: Any) -> None:
        await self._group.revoked_async(lost=True)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._group.assigned_to(frozenset(tp.partition for tp in assigned))
