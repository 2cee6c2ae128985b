"""The Kafka bus: items and matches through Apache Kafka (kafka-python), at-least-once.

Topics are ``<prefix>.items``, ``<prefix>.matches`` and ``<prefix>.dead-letter``,
created on start when missing and checked from then on (:mod:`monitor.bus.kafka_topics`);
the roles of :mod:`monitor.cluster` add theirs (``add_topics``).

Keys decide partitions, and so what one consumer sees in order:

* items are keyed by the item id: spreads the load, keeps one item's copies
  (a re-publish after a crash) in one partition;
* matches are keyed by the *story* key the rules stage passes
  (``dedup.fingerprint.story_id(item)``: the canonical link), so every copy and
  update of one article lands in one partition and reaches the same
  dedup/alerts consumer, in order, with no cross-process race. Near-duplicate
  copies under *other* links may land elsewhere: with one daemon that changes
  nothing (it holds every partition); with several, each keeps its own story
  window, so such a copy can alert once more from another daemon.

Values are the versioned JSON envelope of :mod:`monitor.model`; headers carry
``newsmon-schema`` (the schema version), ``newsmon-type`` and ``newsmon-origin``
(this process's id, so ``drain`` can tell its own records). A record a stage cannot
read or could not handle goes to the dead-letter topic (:mod:`monitor.bus.kafka_deadletter`).

Each stage consumes as consumer group ``<group_id>.<stage>``; running N daemons
with one ``group_id`` splits each stage's partitions between them. Offsets are
committed only up to what the stage acked (see :mod:`monitor.bus.kafka_consumer`).
``drain(topic)`` waits until what *this process* published to ``topic`` was acked
by this process's consumer, for the partitions it holds; the rest is left to Kafka
(see :mod:`monitor.bus.kafka_drain`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from monitor.bus.base import Turns
from monitor.bus.kafka_admin import BrokerProbe, TopicSpec
from monitor.bus.kafka_consumer import ConsumerSettings, ConsumerThread
from monitor.bus.kafka_deadletter import DeadLetters
from monitor.bus.kafka_drain import Published
from monitor.bus.kafka_message import ORIGIN_HEADER, SCHEMA_HEADER, KafkaMessage
from monitor.bus.kafka_producer import Headers, Producer
from monitor.bus.kafka_topics import TOPIC_CHECK_EVERY, TopicWatch, retrying
from monitor.config import BusConfig
from monitor.errors import DEAD_LETTER_REASONS, BusError
from monitor.model import SCHEMA_VERSION, Record, encode

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

DEAD_LETTER = "dead-letter"
CLOSE_BUDGET = 10.0  # seconds closing the clients may take, the broker gone or not
_TYPE_NAMES = {"Item": b"item", "Match": b"match", "Alert": b"alert"}


def consumer_kwargs(config: BusConfig, group: str | None) -> dict[str, Any]:
    """KafkaConsumer arguments for ``config`` (``group`` None: no group, no commits)."""
    return {
        "bootstrap_servers": list(config.bootstrap_servers),
        "client_id": f"newsmon-{config.group_id}",
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": int(config.session_timeout * 1000),
        "heartbeat_interval_ms": int(config.heartbeat_interval * 1000),
        "max_poll_interval_ms": int(config.max_poll_interval * 1000),
        "request_timeout_ms": max(30_000, int(config.session_timeout * 1000) + 5000),
    }


class KafkaBus:
    def __init__(self, config: BusConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.origin = uuid.uuid4().hex.encode()
        self._schema = str(SCHEMA_VERSION).encode()
        self._topics = TopicWatch(config.bootstrap_servers, config.topic_prefix, metrics)
        self._probe = BrokerProbe(
            config.bootstrap_servers, check=self._topics.check, check_every=TOPIC_CHECK_EVERY
        )
        self._producer = Producer(
            config, on_retry=self._count_retry, reachable=self.reachable,
            on_rebuild=self._count_rebuild,
        )  # fmt: skip
        self._dead_letters = DeadLetters(
            self._producer, self.topic(DEAD_LETTER), send=config.dead_letter, metrics=metrics
        )
        self._consumers: list[ConsumerThread] = []
        self._published = Published(self._consumers)
        self._closed = False

    def topic(self, name: str) -> str:
        return f"{self.config.topic_prefix}.{name}"

    def spec(self, name: str, *, compact: bool = False) -> TopicSpec:
        """Topic ``name`` (short) as the config wants it; ``compact``: a changelog."""
        c = self.config
        retention = -1 if compact else int(c.retention * 1000)
        return TopicSpec(self.topic(name), c.partitions, c.replication_factor, retention, compact)

    @property
    def producer(self) -> Producer:
        """The bus's producer, for the roles' own topics (their state, their changelogs)."""
        return self._producer

    def consumer_settings(self, group: str, **more: Any) -> ConsumerSettings:
        """What a consumer of stage or role ``group`` (``<group_id>.<group>``) runs with."""
        kafka = {**consumer_kwargs(self.config, f"{self.config.group_id}.{group}"), **more}
        return ConsumerSettings(
            kafka=kafka, commit_interval=self.config.commit_interval,
            max_in_flight=max(100, self.config.queue_size), reachable=self.reachable,
            on_rebuild=self._count_rebuild,
        )  # fmt: skip

    def reachable(self) -> bool:
        """Whether the broker answered the last probe (within a couple of seconds)."""
        return self._probe.ok

    async def __aenter__(self) -> KafkaBus:
        await self.add_topics([self.spec(t) for t in ("items", "matches", DEAD_LETTER)])
        await retrying(self._producer.open, list(self._topics.specs))
        self._probe.start()
        if self.metrics is not None:  # labels are the short topic names, as for depth and lag
            for topic in ("items", "matches"):
                self.metrics.bus_publish_retries.labels(topic)
                for reason in DEAD_LETTER_REASONS:
                    self.metrics.bus_dead_letters.labels(topic, reason)
        return self

    async def add_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics missing (retried until the broker answers), report those with
        other settings, and check them from now on (see :mod:`monitor.bus.kafka_topics`)."""
        await self._topics.add(specs)

    def topic_problems(self) -> list[str]:
        """What is wrong with the topics now (empty: as configured)."""
        return self._topics.problems()

    async def __aexit__(self, *exc_info: object) -> None:
        self._closed = True
        deadline = time.monotonic() + CLOSE_BUDGET  # bounded, with the broker gone too
        for thread in self._consumers:
            thread.stop()
        for thread in self._consumers:
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        self._probe.stop()
        left = max(1.0, deadline - time.monotonic()) if self._probe.ok else 1.0  # broker gone
        await asyncio.to_thread(self._producer.close, left)

    async def publish(self, topic: str, key: str, value: Record) -> None:
        await self.publish_many(topic, ((key, value),))

    async def publish_many(self, topic: str, records: Sequence[tuple[str, Record]]) -> None:
        if self._closed:
            raise BusError("bus is closed")
        name = self.topic(topic)
        batch = [(key.encode(), encode(value), self._headers(value)) for key, value in records]
        await self._published.send(name, self._producer.send_many(name, batch))

    def _headers(self, value: Record) -> Headers:
        return [
            (SCHEMA_HEADER, self._schema),
            ("newsmon-type", _TYPE_NAMES[type(value).__name__]),
            (ORIGIN_HEADER, self.origin),
        ]

    async def consume(self, topic: str, group: str) -> AsyncIterator[KafkaMessage]:
        """Messages of ``topic`` for the stage ``group``; commits what is acked."""
        name = self.topic(topic)
        queue: asyncio.Queue[list[KafkaMessage]] = asyncio.Queue()
        thread = ConsumerThread(
            name, self.consumer_settings(group), asyncio.get_running_loop(), queue.put_nowait,
            on_ack=lambda m: self._acked(name, thread, m),
            dead_letter=self._dead_letters.sender(name, topic),
            on_lag=lambda lag: self._lag(topic, group, lag),
            on_partitions=lambda count: self._topics.partitions_seen(name, count),
        )  # fmt: skip
        self._consumers.append(thread)
        thread.start()
        turns = Turns()  # a batch fetched is handed out without waiting
        try:
            while True:
                for message in await queue.get():
                    yield message
                    await turns.take()
        finally:
            thread.stop()
            await asyncio.shield(asyncio.to_thread(thread.join, 15.0))
            self._consumers.remove(thread)

    def _acked(self, name: str, thread: ConsumerThread, message: KafkaMessage) -> None:
        thread.acked(message)
        if message.origin == self.origin:
            self._published.acked(name, (message.partition, message.offset))

    async def drain(self, topic: str) -> None:
        await self._published.drain(self.topic(topic))

    def depth(self, topic: str) -> int:
        return len(self._published.prune(self.topic(topic)))

    async def ready(self) -> bool:
        if self._closed or not self._probe.ok or self._topics.problems():
            return False
        return not any(t.error or not t.is_alive() for t in self._consumers)

    def _lag(self, topic: str, group: str, lag: int) -> None:
        if self.metrics is not None:
            self.metrics.bus_consumer_lag.labels(topic, group).set(lag)

    def _count_retry(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.bus_publish_retries.labels(self._topics.short(name)).inc()

    def _count_rebuild(self, client: str) -> None:
        if self.metrics is not None:
            self.metrics.bus_client_rebuilds.labels(client).inc()
