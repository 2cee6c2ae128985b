"""The Kafka bus's dead letters: records a stage cannot read or could not handle.

A dead letter keeps the original key, value and headers, plus ``newsmon-error`` (the
reason code: ``undecodable``, ``unknown_schema``, or ``handler_error`` for a record the
stage failed on), ``newsmon-error-detail`` and ``newsmon-source``
(topic/partition/offset). Sending is retried until the topic has it (a dead letter is
never lost); only then is the record counted as processed (``done``), so its offset is
committed. With ``bus.dead_letter`` off it is logged and counted, not sent.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from monitor.bus.kafka_message import DeadLetter
from monitor.bus.kafka_producer import Producer

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

RETRY_AFTER = 1.0  # seconds before a dead letter that could not be sent is sent again


class DeadLetters:
    def __init__(
        self, producer: Producer, target: str, *, send: bool, metrics: Metrics | None
    ) -> None:
        self._producer, self._target, self._send, self._metrics = producer, target, send, metrics

    def sender(self, source: str, topic: str) -> DeadLetter:
        """Dead-letter a record of ``source`` (the topic's full name; ``topic`` is
        its short name, the metric label)."""

        def dead_letter(record: Any, reason: str, detail: str, done: Any) -> None:
            log.warning(
                "dead_letter topic=%s partition=%d offset=%d reason=%s detail=%s",
                source, record.partition, record.offset, reason, detail[:200],
            )  # fmt: skip
            if self._metrics is not None:
                self._metrics.bus_dead_letters.labels(topic, reason).inc()
            if not self._send:
                done()
                return
            where = f"{source}/{record.partition}/{record.offset}"
            headers = [
                *(record.headers or ()),
                ("newsmon-error", reason.encode()),
                ("newsmon-error-detail", detail.encode()[:1000]),
                ("newsmon-source", where.encode()),
            ]
            self._store(record.key, record.value or b"", headers, done)

        return dead_letter

    def _store(self, key: Any, value: bytes, headers: Any, done: Any) -> None:
        def retry(exc: Exception) -> None:
            log.warning("dead_letter_retry error=%s", exc)
            timer = threading.Timer(RETRY_AFTER, self._store, (key, value, headers, done))
            timer.daemon = True
            timer.start()

        try:
            future = self._producer.send_nowait(self._target, key, value, headers)
        except Exception as exc:  # retried: a dead letter is never lost
            retry(exc)
            return
        future.add_callback(lambda _md: done())
        future.add_errback(retry)
