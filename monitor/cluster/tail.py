"""A compacted topic followed whole into this daemon's state file (blocking thread).

Every daemon reads some topics whole, whoever owns their partitions: the silences (the
delivery loop honours them) and the stories changelog (the web desk shows them). A
:class:`Tail` assigns itself every partition (no group), reads from the start, hands
each batch to :meth:`Tail.apply` and, once it reached the end offsets it found, calls
:meth:`Tail.loaded` (``caught_up``). It outlives any error (the broker away, a bug):
logged once, read again from the start after a pause.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from monitor.config import BusConfig
from monitor.errors import BusError

log = logging.getLogger(__name__)


class Tail(threading.Thread):
    """Follows ``topic`` until stopped; ``name`` names the thread and its log lines."""

    def __init__(self, config: BusConfig, topic: str, name: str, **kafka: Any) -> None:
        super().__init__(name=f"newsmon-{name}", daemon=True)
        self.config, self.topic, self.label = config, topic, name
        self.caught_up = False  # the topic read to where it ended when we started
        self.error: str | None = None
        self._kafka = kafka
        self._stop = threading.Event()

    def apply(self, records: Sequence[Any]) -> None:
        """One partition's records, in order (``value`` None: a tombstone)."""
        raise NotImplementedError

    def begin(self) -> None:
        """A read from the start begins (the first, or again after an error)."""

    def loaded(self) -> None:
        """The topic read to its end (each time it is read again from the start)."""

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as exc:  # the broker away, a bug: said once, tried again
                text = f"{type(exc).__name__}: {exc}"
                if text != self.error:
                    log.warning("%s_unavailable error=%s", self.label, text)
                self.error = text
                self._stop.wait(2.0)

    def _follow(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=list(self.config.bootstrap_servers),
                                 client_id=f"newsmon-{self.label}", group_id=None,
                                 enable_auto_commit=False, **self._kafka)  # fmt: skip
        try:
            found = consumer.partitions_for_topic(self.topic) or ()
            parts = [TopicPartition(self.topic, p) for p in sorted(found)]
            if not parts:
                raise BusError(f"topic {self.topic} not found")
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            self.begin()
            ends = consumer.end_offsets(parts)
            done = False
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    self.apply(records)
                if not done and all(consumer.position(tp) >= ends[tp] for tp in parts):
                    done = self.caught_up = True
                    self.loaded()
                if self.error is not None:
                    log.info("%s_recovered", self.label)
                    self.error = None
        finally:
            with contextlib.suppress(Exception):
                consumer.close(autocommit=False)
