"""The changelog writer of one owned receiver partition: every change, in order, in
Kafka transactions of its own thread.

:meth:`Writer.submit` queues records (and, for the outbox consumer, the offsets that
must commit with them) and returns a future; the thread takes everything queued, in
the order it was queued, and commits it as one transaction through the partition's
:class:`~monitor.bus.kafka_txn.TxnProducer` (``<group_id>.delivery.<partition>``, which
fenced the last owner when this one opened). An aborted transaction is tried again, the
same records in the same order (the local view already holds them: Kafka must catch
up), unless the producer had to be made again and another owner committed to the
partition meanwhile (:class:`~monitor.bus.kafka_txn.TxnProducer`: the view is behind,
taken for a fence). A fenced one fails every future queued with :class:`Fenced`: the
partition has another owner, this daemon stops serving it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from monitor.bus.kafka_txn import Aborted, Fenced, Out, TxnProducer
from monitor.errors import BusError

log = logging.getLogger(__name__)


@dataclass
class _Job:
    records: Sequence[Out]
    offsets: dict[Any, Any] | None
    group: Any
    done: Future[None]


class Writer(threading.Thread):
    def __init__(self, partition: int, producer: TxnProducer, on_abort: Callable[[], None],
                 on_fenced: Callable[[Writer], None]) -> None:  # fmt: skip
        super().__init__(name=f"newsmon-deliveries-{partition}", daemon=True)
        self.partition, self.producer = partition, producer
        self._on_abort, self._on_fenced = on_abort, on_fenced
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._current: list[_Job] = []  # what the commit under way carries
        self.fenced = False

    def submit(
        self, records: Sequence[Out], offsets: dict[Any, Any] | None = None, group: Any = None
    ) -> Future[None]:
        """Queue ``records`` (and ``offsets`` for ``group``); done once committed."""
        job = _Job(records, offsets, group, Future())
        with self._cond:
            if self.fenced or self._closing:
                job.done.set_exception(Fenced(f"partition {self.partition}: not ours any more"))
                return job.done
            self._jobs.append(job)
            self._cond.notify()
        return job.done

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()

    def abandon(self) -> None:
        """The daemon stops and the broker does not answer: what waits on this writer
        (a send waiting for its attempt to commit, an ingest) fails now, the commit under
        way is given up; the partition's next owner redoes what did not commit."""
        self.close()
        with self._cond:
            jobs = [*self._current, *self._jobs]
            self._jobs.clear()
            self.fenced = True
        self.producer.abandon()
        for job in jobs:
            _settle(job, Fenced(f"partition {self.partition}: given up while stopping"))

    def run(self) -> None:
        try:
            while (jobs := self._take()) is not None:
                self._commit(jobs)
        finally:
            self._fail_all(Fenced(f"partition {self.partition}: writer closed"))
            self.producer.close()

    def _take(self) -> list[_Job] | None:
        with self._cond:
            while not self._jobs and not self._closing:
                self._cond.wait()
            if not self._jobs:
                return None
            jobs = list(self._jobs)
            self._jobs.clear()
            self._current = jobs
            return jobs

    def _commit(self, jobs: list[_Job]) -> None:
        records = [r for job in jobs for r in job.records]
        offsets: dict[Any, Any] = {}
        group = None
        for job in jobs:
            if job.offsets:
                offsets.update(job.offsets)
                group = job.group
        delay = 0.2
        while records or offsets:
            try:
                self.producer.commit(records, offsets or None, group)
                break
            except Fenced as exc:
                self._fence(jobs, exc)
                return
            except (Aborted, BusError) as exc:
                self._on_abort()
                log.warning("deliveries_txn_retry partition=%d records=%d error=%s",
                            self.partition, len(records), exc)  # fmt: skip
                with self._cond:
                    if self._closing:
                        self._fence(jobs, exc)
                        return
                    self._cond.wait(delay)
                delay = min(delay * 2, 5.0)
        for job in jobs:
            _settle(job)

    def _fence(self, jobs: list[_Job], exc: BusError) -> None:
        with self._cond:
            self.fenced = True
            queued = list(self._jobs)
            self._jobs.clear()
        for job in [*jobs, *queued]:
            _settle(job, exc if isinstance(exc, Fenced) else Fenced(str(exc)))
        if isinstance(exc, Fenced):
            log.warning("deliveries_fenced partition=%d (another daemon owns it now)",
                        self.partition)  # fmt: skip
            self._on_fenced(self)

    def _fail_all(self, exc: Fenced) -> None:
        with self._cond:
            queued = list(self._jobs)
            self._jobs.clear()
            self.fenced = True
        for job in queued:
            _settle(job, exc)


def _settle(job: _Job, exc: BaseException | None = None) -> None:
    """Complete ``job`` (failed with ``exc``) unless another thread did (abandon)."""
    with contextlib.suppress(InvalidStateError):
        if exc is None:
            job.done.set_result(None)
        else:
            job.done.set_exception(exc)
