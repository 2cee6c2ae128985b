"""Silences in kafka mode: ``<prefix>.silences``, a compacted topic every daemon reads.

Key: the silence id; value: the silence (JSON, as ``newsmon silence list --json`` shows
it, with times as Unix seconds); expiring one writes it again with ``ends`` now.
``newsmon silence add|list|expire`` with a kafka bus reads and writes the topic
(:func:`publish`, :func:`read_all`); each daemon's :class:`SilencesTail` reads it from
the start and then follows it, into the local state file's silences table, where the
delivery loop looks (at most a second old), so a silence added anywhere reaches every
receiver's owner at its next send. The web desk writes there too (:class:`Published`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from monitor.alerts.silence import Silence
from monitor.bus.kafka_admin import TopicSpec, ensure_topics
from monitor.bus.kafka_txn import read_changelog
from monitor.cluster.tail import Tail
from monitor.config import BusConfig, Matcher
from monitor.errors import BusError
from monitor.store import Store

log = logging.getLogger(__name__)


SHORT = "silences"


def topic(config: BusConfig) -> str:
    return f"{config.topic_prefix}.{SHORT}"


def encode(s: Silence) -> bytes:
    return json.dumps({"v": 1, "silence_id": s.silence_id,
                       "matchers": [[m.label, m.op, m.value] for m in s.matchers],
                       "starts": s.starts, "ends": s.ends, "author": s.author,
                       "comment": s.comment, "created": s.created},
                      ensure_ascii=False).encode()  # fmt: skip


def decode(raw: bytes) -> Silence:
    try:
        d = json.loads(raw)
        return Silence(str(d["silence_id"]), tuple(Matcher(*m) for m in d["matchers"]),
                       float(d["starts"]), float(d["ends"]), str(d["author"]),
                       str(d["comment"]), float(d["created"]))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a silence record: {exc}") from exc


def ensure(config: BusConfig) -> None:
    spec = TopicSpec(topic(config), config.partitions, config.replication_factor, -1, True)
    for problem in ensure_topics(config.bootstrap_servers, [spec]):
        log.warning("topic_mismatch %s", problem)


def publish(config: BusConfig, silence: Silence) -> None:
    """Write ``silence`` to the topic and wait until the broker has it."""
    ensure(config)
    try:
        producer = KafkaProducer(bootstrap_servers=list(config.bootstrap_servers), acks="all",
                                 client_id="newsmon-silence")  # fmt: skip
    except KafkaError as exc:
        raise BusError(f"kafka: {exc}") from exc
    try:
        producer.send(topic(config), key=silence.silence_id.encode(),
                      value=encode(silence)).get(timeout=30)  # fmt: skip
    except KafkaError as exc:
        raise BusError(f"kafka: writing the silence failed: {exc}") from exc
    finally:
        producer.close(timeout=5)


def read_all(config: BusConfig) -> list[Silence]:
    """Every silence the topic holds, newest first."""
    ensure(config)
    kafka = {"bootstrap_servers": list(config.bootstrap_servers), "client_id": "newsmon-silence"}
    found: list[Silence] = []
    for partition in range(config.partitions):
        for raw in read_changelog(kafka, topic(config), partition).values():
            with contextlib.suppress(ValueError):
                found.append(decode(raw))
    return sorted(found, key=lambda s: s.created, reverse=True)


class Published:
    """The web desk's silences on Kafka (its ``SilenceWriter``): published to the topic
    like the CLI's; each call returns once this daemon's tail has brought the change into
    ``store`` (or after ``wait`` seconds), so the desk's next page shows it."""

    def __init__(self, config: BusConfig, store: Store, wait: float = 10.0) -> None:
        self.config, self.store, self.wait = config, store, wait

    def add(self, silence: Silence) -> None:
        publish(self.config, silence)
        deadline = time.monotonic() + self.wait
        while not any(r[0] == silence.silence_id and r[3] == silence.ends
                      for r in self.store.silences()):  # fmt: skip
            if time.monotonic() > deadline:
                log.info("silence_published_not_loaded_yet silence=%s", silence.silence_id)
                return
            time.sleep(0.05)

    def expire(self, silence: Silence, at: float) -> None:
        self.add(replace(silence, ends=at))


class SilencesTail(Tail):
    """Follows the topic into ``store`` (every partition, from the start) until stopped."""

    def __init__(self, config: BusConfig, store: Store,
                 loaded: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        super().__init__(config, topic(config), "silences")
        self.store, self._loaded = store, loaded

    def loaded(self) -> None:
        log.info("silences_loaded count=%d", len(self.store.silences()))
        self._loaded()

    def apply(self, records: Sequence[Any]) -> None:
        for record in records:
            key = record.key.decode("utf-8", "replace") if record.key else ""
            if record.value is None:
                self.store.drop_silence(key)
                continue
            try:
                self.store.put_silence(decode(record.value))
            except ValueError as exc:
                log.warning("silence_unreadable key=%s error=%s", key[:40], exc)
