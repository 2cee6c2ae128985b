"""A consumer group's member on its own thread: what every kafka-python group consumer shares.

* :class:`GroupMember`: a thread that alone touches its ``KafkaConsumer`` (blocking, not
  thread-safe). It joins the group (:meth:`GroupMember.connect`: subscribed with the
  subclass's rebalance listener, retried with backoff until stopped), runs the subclass's
  steps until they return (the client must be rebuilt) or the thread is stopped, and
  closes. The stage consumers (:mod:`monitor.bus.kafka_consumer`) and the feeds group
  (:mod:`monitor.cluster.feeds_group`) are members.
* :class:`Listener`: the rebalance listener that hands revoked and assigned partitions to
  two callbacks, on kafka-python's IO thread, inside the member's ``poll``.
* :func:`finish_dropped_join`: a workaround every member's poll needs.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

MAX_BACKOFF = 10.0
CLOSE_TIMEOUT = 2.0  # seconds closing the client may take (leaving the group)
REBUILD_AFTER = 30.0  # seconds of failed steps, the broker answering, before a rebuild

Partitions = Callable[[frozenset[TopicPartition]], None]


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """What a member runs with (a stage consumer, the feeds group)."""

    kafka: dict[str, Any]  # KafkaConsumer keyword arguments (servers, group, timeouts)
    commit_interval: float
    max_in_flight: int = 2000
    max_records: int = 500
    reachable: Callable[[], bool] = lambda: True  # whether the broker answers (the probe)
    on_rebuild: Callable[[str], None] | None = None  # told "consumer" at each rebuild


class GroupMember(threading.Thread, abc.ABC):
    """Subclasses give the listener, the steps, what a failure does and how to close."""

    def __init__(self, name: str, topic: str, settings: ConsumerSettings) -> None:
        super().__init__(name=name, daemon=True)
        self.topic = topic
        self.settings = settings
        self._stopping = threading.Event()
        self._consumer: Any = None

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                self.connect()
                self._steps()
        finally:
            self._close()

    def connect(self) -> None:
        """A consumer subscribed to the topic (retried with backoff until stopped)."""
        delay = 0.2
        while not self._stopping.is_set() and self._consumer is None:
            consumer = None
            try:
                consumer = KafkaConsumer(**self.settings.kafka)
                consumer.subscribe([self.topic], listener=self._listener())
                # kafka-python joins the group without waiting for the topic's metadata
                # (it waits only for pattern subscriptions): on Apache Kafka the first
                # assignment was then empty, a rebalance followed, and meanwhile drain()
                # took the empty assignment for "other members hold these partitions"
                # (`run --once` could exit before handling its items). Fetched here,
                # after subscribe, the metadata is known to the first join and to the
                # coordinator's snapshot of it, so no second rebalance follows either.
                consumer.partitions_for_topic(self.topic)
                self._consumer = consumer
            except Exception as exc:  # KafkaError, or anything else: try again
                if consumer is not None:
                    close_quietly(consumer)
                self._failing(exc)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    @abc.abstractmethod
    def _listener(self) -> ConsumerRebalanceListener:
        raise NotImplementedError

    @abc.abstractmethod
    def _steps(self) -> None:
        """Steps until stopped, or until the client must be rebuilt (closed, then None)."""
        raise NotImplementedError

    @abc.abstractmethod
    def _failing(self, exc: Exception) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def _close(self) -> None:
        raise NotImplementedError


def close_quietly(consumer: Any, timeout: float = CLOSE_TIMEOUT) -> None:
    """Close without committing, waiting ``timeout`` seconds at most; errors ignored."""
    with contextlib.suppress(Exception):
        consumer.close(autocommit=False, timeout_ms=int(timeout * 1000))


def finish_dropped_join(consumer: Any) -> None:
    """Work around kafka-python 3.0.12 losing a rejoin. A rejoin that a metadata change
    starts (on Apache Kafka the first join often precedes the topic's metadata: an empty
    assignment, then a rejoin once the partitions are known) and whose JoinGroup/SyncGroup
    outlasts ``poll``'s timeout is never finished: once the leader has computed the new
    assignment, ``need_rejoin()`` is False, no later poll awaits the join, and the consumer
    keeps no partition until the next rebalance. Asking for a rejoin makes the next poll
    finish (or redo) it. A no-op when the client has no such join in flight."""
    coordinator: Any = getattr(consumer, "_coordinator", None)
    if getattr(coordinator, "_join_task", None) is not None and not coordinator.need_rejoin():
        coordinator.request_rejoin()


class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands the partitions revoked and assigned to ``revoked`` and ``assigned``."""

    def __init__(self, revoked: Partitions, assigned: Partitions) -> None:
        self._revoked, self._assigned = revoked, assigned

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._revoked(frozenset(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._assigned(frozenset(assigned))
