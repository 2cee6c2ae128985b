"""The Kafka bus: items and matches through Apache Kafka (kafka-python), at-least-once.

Topics are ``<prefix>.items``, ``<prefix>.matches`` and ``<prefix>.dead-letter``,
created on start when missing (partitions, replication factor and retention
from config) and reported when they exist with other settings; the roles of
:mod:`monitor.cluster` add theirs (``add_topics``). Every topic is checked again
after each reconnect, every ``TOPIC_CHECK_EVERY`` seconds and whenever a consumer
is assigned partitions: one missing, or with another partition count than
``bus.partitions``, is an error (logged, ``newsmon_cluster_topic_mismatch``, not
ready) until it is as configured again: keys would land in other partitions
than the roles' changelogs expect.

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
(this process's id, so ``drain`` can tell its own records). Dead letters keep
the original key, value and headers, plus ``newsmon-error`` (the reason code:
``undecodable``, ``unknown_schema``, or ``handler_error`` for a record the stage
failed on), ``newsmon-error-detail`` and ``newsmon-source`` (topic/partition/offset).

Each stage consumes as consumer group ``<group_id>.<stage>``; running N daemons
with one ``group_id`` splits each stage's partitions between them. Offsets are
committed only up to what the stage acked (see :mod:`monitor.bus.kafka_consumer`).
``drain(topic)`` waits until what *this process* published to ``topic`` was acked
by this process's consumer, for the partitions it holds; the rest is left to
Kafka (the group members holding those partitions, or the next start). What it
tracks for that (and reports as ``depth``) is pruned to what this process can
see acked: records on partitions another member holds, and records below where
this process took a partition over (the group processed those), are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from monitor.bus.kafka_admin import (
    BrokerProbe,
    TopicSpec,
    check_topics,
    ensure_topics,
    partitions_problem,
)
from monitor.bus.kafka_consumer import ConsumerSettings, ConsumerThread
from monitor.bus.kafka_message import ORIGIN_HEADER, SCHEMA_HEADER, KafkaMessage
from monitor.bus.kafka_producer import Headers, Producer
from monitor.config import BusConfig
from monitor.errors import DEAD_LETTER_REASONS, BusError
from monitor.model import SCHEMA_VERSION, Record, encode

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

DEAD_LETTER = "dead-letter"
PRUNE_INTERVAL = 1.0  # seconds: how often publishing prunes what drain and depth track
TOPIC_CHECK_EVERY = 15.0  # seconds between two checks of the topics' partition counts
CLOSE_BUDGET = 10.0  # seconds closing the clients may take, the broker gone or not
CREATED_WAIT = 10.0  # seconds a topic just created may take to be described
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
        self._probe = BrokerProbe(
            config.bootstrap_servers, check=self._check_topics, check_every=TOPIC_CHECK_EVERY
        )
        self._producer = Producer(
            config, on_retry=self._count_retry, reachable=self.reachable,
            on_rebuild=self._count_rebuild,
        )  # fmt: skip
        self._specs: dict[str, TopicSpec] = {}  # full name -> its spec: the topics checked
        self._topic_problems: dict[str, str] = {}  # full name -> what is wrong with it
        self._problems_lock = threading.Lock()  # the probe's thread and consumers' set them
        self._consumers: list[ConsumerThread] = []
        self._pending: dict[str, set[tuple[int, int]]] = {}  # published here, not yet acked
        self._early: dict[str, set[tuple[int, int]]] = {}  # acked before publish returned
        self._publishing: dict[str, int] = {}  # publish_many calls under way, per topic
        self._pruned: dict[str, float] = {}  # when _pending was last pruned, per topic
        self._changed = asyncio.Event()
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
        await self._retrying(self._producer.open, list(self._specs))
        self._probe.start()
        if self.metrics is not None:  # labels are the short topic names, as for depth and lag
            for topic in ("items", "matches"):
                self.metrics.bus_publish_retries.labels(topic)
                for reason in DEAD_LETTER_REASONS:
                    self.metrics.bus_dead_letters.labels(topic, reason)
        return self

    async def add_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics missing (retried until the broker answers), report those with
        other settings, and check them from now on (see the module docstring)."""
        servers = self.config.bootstrap_servers
        for problem in await self._retrying(
            lambda: ensure_topics(servers, specs, partitions=False)
        ):
            log.warning("topic_mismatch %s", problem)
        deadline = time.monotonic() + CREATED_WAIT
        while time.monotonic() < deadline:  # a topic just created is not described at once
            found = await self._retrying(lambda: check_topics(servers, specs))
            if not any("missing" in problem for problem in found.values()):
                break
            await asyncio.sleep(0.2)
        self._specs.update({s.name: s for s in specs})
        if self.metrics is not None:
            self.metrics.init_roles(self._short(s.name) for s in specs)
        await self._retrying(self._check_topics)

    def _check_topics(self) -> None:
        """Ask the broker how the topics are (blocking: the probe's thread, or a worker)."""
        self._set_problems(check_topics(self.config.bootstrap_servers, list(self._specs.values())))

    def _partitions_seen(self, name: str, count: int) -> None:
        """A consumer of ``name`` was assigned partitions, the topic having ``count``
        (its client's metadata): another count than the config's is an error at once."""
        spec = self._specs.get(name)
        if spec is None or not count or count == spec.partitions:
            return
        with self._problems_lock:
            if name in self._topic_problems:
                return
            problems = {**self._topic_problems, name: partitions_problem(spec, count)}
        self._set_problems(problems)

    def _set_problems(self, problems: dict[str, str]) -> None:
        with self._problems_lock:
            before, self._topic_problems = self._topic_problems, problems
        for name in sorted(set(before) | set(problems)):
            now = problems.get(name)
            if now == before.get(name):
                continue
            if now is None:
                log.info("topic_as_configured topic=%s", name)
            else:
                log.error("topic_mismatch %s (not ready until it is as configured)", now)
            if self.metrics is not None:
                self.metrics.cluster_topic_mismatch.labels(self._short(name)).set(now is not None)

    def topic_problems(self) -> list[str]:
        """What is wrong with the topics now (empty: as configured)."""
        return list(self._topic_problems.values())

    def _short(self, name: str) -> str:
        return name.removeprefix(f"{self.config.topic_prefix}.")

    async def _retrying(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in a thread until the broker answers (logged once)."""
        delay, last = 0.5, ""
        while True:
            try:
                return await asyncio.to_thread(fn, *args)
            except BusError as exc:
                if str(exc) != last:
                    log.warning("bus_unavailable error=%s (retrying)", exc)
                    last = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
        self._publishing[name] = self._publishing.get(name, 0) + 1
        try:
            sent = await self._producer.send_many(name, batch)
        finally:
            self._publishing[name] -= 1
        pending = self._pending.setdefault(name, set())
        early = self._early.get(name)
        for at in sent:
            if early is not None and at in early:
                early.discard(at)  # its consumer acked it before the broker's answer came
            else:
                pending.add(at)
        if not self._publishing[name]:
            self._early.pop(name, None)  # no publish left for an early ack to match
        if time.monotonic() - self._pruned.get(name, 0.0) >= PRUNE_INTERVAL:
            self._prune(name)

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
            dead_letter=self._dead_letter_for(name, topic),
            on_lag=lambda lag: self._lag(topic, group, lag),
            on_partitions=lambda count: self._partitions_seen(name, count),
        )  # fmt: skip
        self._consumers.append(thread)
        thread.start()
        try:
            while True:
                for message in await queue.get():
                    yield message
        finally:
            thread.stop()
            await asyncio.shield(asyncio.to_thread(thread.join, 15.0))
            self._consumers.remove(thread)

    def _acked(self, name: str, thread: ConsumerThread, message: KafkaMessage) -> None:
        thread.acked(message)
        if message.origin != self.origin:
            return
        at = (message.partition, message.offset)
        pending = self._pending.get(name)
        if pending is not None and at in pending:
            pending.discard(at)
            self._changed.set()
        elif self._publishing.get(name):  # its publish may not have returned yet
            self._early.setdefault(name, set()).add(at)

    def _prune(self, name: str) -> set[tuple[int, int]]:
        """What this process published to ``name`` and will see acked: once every
        consumer of it knows its assignment, records on partitions held by other
        members of the group, or below the offset this process took a partition
        over at (processed before), are dropped. Unconsumed topics keep all."""
        self._pruned[name] = time.monotonic()
        pending = self._pending.setdefault(name, set())
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

    async def drain(self, topic: str) -> None:
        name = self.topic(topic)
        snapshot = set(self._pending.get(name, ()))
        while snapshot:
            snapshot &= self._prune(name)  # the rest is for other members to process
            if not snapshot or not any(t.topic == name for t in self._consumers):
                return
            self._changed.clear()
            try:
                async with asyncio.timeout(0.1):
                    await self._changed.wait()
            except TimeoutError:
                pass

    def depth(self, topic: str) -> int:
        return len(self._prune(self.topic(topic)))

    async def ready(self) -> bool:
        if self._closed or not self._probe.ok or self._topic_problems:
            return False
        return not any(t.error or not t.is_alive() for t in self._consumers)

    def _dead_letter_for(self, source: str, topic: str) -> Any:
        """Dead-letter a record of ``source`` (the topic's full name; ``topic`` is
        its short name, the metric label)."""
        target = self.topic(DEAD_LETTER)

        def dead_letter(record: Any, reason: str, detail: str, done: Any) -> None:
            log.warning(
                "dead_letter topic=%s partition=%d offset=%d reason=%s detail=%s",
                source, record.partition, record.offset, reason, detail[:200],
            )  # fmt: skip
            if self.metrics is not None:
                self.metrics.bus_dead_letters.labels(topic, reason).inc()
            if not self.config.dead_letter:
                done()
                return
            where = f"{source}/{record.partition}/{record.offset}"
            headers = [
                *(record.headers or ()),
                ("newsmon-error", reason.encode()),
                ("newsmon-error-detail", detail.encode()[:1000]),
                ("newsmon-source", where.encode()),
            ]
            self._send_dead_letter(target, record.key, record.value or b"", headers, done)

        return dead_letter

    def _send_dead_letter(
        self, target: str, key: Any, value: bytes, headers: Any, done: Any
    ) -> None:
        def retry(exc: Exception) -> None:
            log.warning("dead_letter_retry error=%s", exc)
            timer = threading.Timer(
                1.0, self._send_dead_letter, (target, key, value, headers, done)
            )
            timer.daemon = True
            timer.start()

        try:
            future = self._producer.send_nowait(target, key, value, headers)
        except Exception as exc:  # retried: a dead letter is never lost
            retry(exc)
            return
        future.add_callback(lambda _md: done())
        future.add_errback(retry)

    def _lag(self, topic: str, group: str, lag: int) -> None:
        if self.metrics is not None:
            self.metrics.bus_consumer_lag.labels(topic, group).set(lag)

    def _count_retry(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.bus_publish_retries.labels(self._short(name)).inc()

    def _count_rebuild(self, client: str) -> None:
        if self.metrics is not None:
            self.metrics.bus_client_rebuilds.labels(client).inc()
