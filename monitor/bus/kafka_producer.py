"""The Kafka producer side of the bus: acks=all, idempotent, compressed, batched.

kafka-python's ``KafkaProducer`` does its network I/O on its own sender thread.
``send`` only appends to its batch accumulator (it never waits on memory in
kafka-python 3), except while it waits for a topic's metadata: that happens in
:meth:`Producer.open` (off the event loop) for every bus topic, and any later
send to a topic without metadata goes through a worker thread. Completions
come back from the sender thread in batches (one loop wake-up per batch, not
per record).

``send_many`` never gives up: a record the broker does not take (timeout,
broker down) is sent again with exponential backoff, so nothing is dropped; a
re-send may duplicate a record, which at-least-once consumers absorb. A batch
costs one wake-up of the event loop, not one per record.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError, UnsupportedVersionError

from monitor.config import BusConfig
from monitor.errors import BusError

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
Record = tuple[bytes | None, bytes, Headers]  # key, value, headers: one record to send
MAX_BACKOFF = 10.0


class _Completions:
    """Hands kafka futures' results to the event loop, many per wake-up."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._done: deque[tuple[asyncio.Future[Any], Any, BaseException | None]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def add(self, future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
        with self._lock:
            self._done.append((future, result, exc))
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            done, self._done = self._done, deque()
            self._scheduled = False
        for future, result, exc in done:
            if future.done():
                continue
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)


class Producer:
    def __init__(self, config: BusConfig, on_retry: Callable[[str], None] | None = None) -> None:
        self._config = config
        self._on_retry = on_retry
        self._producer: Any = None
        self._warm: set[str] = set()
        self._completions: _Completions | None = None
        self._last_error = ""

    def open(self, topics: Sequence[str]) -> None:
        """Connect and fetch the topics' metadata. Blocking: run it in a thread."""
        c = self._config
        kwargs: dict[str, Any] = {
            "bootstrap_servers": list(c.bootstrap_servers),
            "client_id": f"newsmon-{c.group_id}",
            "acks": "all",
            "enable_idempotence": True,
            "compression_type": None if c.compression == "none" else c.compression,
            "linger_ms": int(c.linger * 1000),
            "batch_size": c.batch_size,
            "max_block_ms": 10_000,
        }
        try:
            try:
                self._producer = KafkaProducer(**kwargs)
            except (KafkaConfigurationError, UnsupportedVersionError) as exc:
                log.warning("idempotence_unsupported error=%s (producing without it)", exc)
                kwargs["enable_idempotence"] = False
                self._producer = KafkaProducer(**kwargs)
            for topic in topics:
                self._producer.partitions_for(topic)
                self._warm.add(topic)
        except KafkaError as exc:
            raise BusError(f"kafka producer: {exc}") from exc
        log.info(
            "producer_ready idempotence=%s compression=%s",
            self._producer.config.get("enable_idempotence"), c.compression,
        )  # fmt: skip

    def send_nowait(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> Any:
        """The kafka future of one record (from any thread; used for dead letters)."""
        return self._producer.send(topic, key=key, value=value, headers=headers)

    async def send_many(self, topic: str, records: Sequence[Record]) -> list[tuple[int, int]]:
        """Send (key, value, headers) records until the broker acknowledges each;
        their (partition, offset), in order. One wait for the lot; what the broker
        did not take is sent again, alone, with backoff."""
        results: list[tuple[int, int]] = [(-1, -1)] * len(records)
        todo, delay = list(range(len(records))), 0.2
        while todo:
            failed = await self._send_once(topic, records, todo, results)
            if not failed:
                break
            self._failed(topic, failed[0][1], delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
            todo = sorted(i for i, _ in failed)
        if self._last_error:
            log.info("publish_recovered topic=%s", topic)
            self._last_error = ""
        return results

    async def _send_once(
        self, topic: str, records: Sequence[Record], todo: list[int],
        results: list[tuple[int, int]],
    ) -> list[tuple[int, KafkaError]]:  # fmt: skip
        """Send ``records[i]`` for each i in ``todo``; the ones that failed, with why."""
        if self._completions is None:
            self._completions = _Completions(asyncio.get_running_loop())
        completions, future = self._completions, asyncio.get_running_loop().create_future()
        failed: list[tuple[int, KafkaError]] = []
        lock, left = threading.Lock(), [len(todo)]

        def settle(i: int, metadata: Any, exc: Any) -> None:  # on the sender thread
            if exc is None:
                results[i] = (int(metadata.partition), int(metadata.offset))
            else:
                failed.append((i, exc if isinstance(exc, KafkaError) else KafkaError(exc)))
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                completions.add(future, None, None)

        for i in todo:
            key, value, headers = records[i]
            try:
                if topic in self._warm:
                    kfuture = self.send_nowait(topic, key, value, headers)
                else:  # the first send to a topic waits for its metadata: not on the loop
                    kfuture = await asyncio.to_thread(self.send_nowait, topic, key, value, headers)
                    self._warm.add(topic)
            except KafkaError as exc:
                settle(i, None, exc)
                continue
            kfuture.add_callback(lambda md, i=i: settle(i, md, None))
            kfuture.add_errback(lambda exc, i=i: settle(i, None, exc))
        await future
        return failed

    def _failed(self, topic: str, exc: KafkaError, delay: float) -> None:
        if self._on_retry is not None:
            self._on_retry(topic)
        text = f"{type(exc).__name__}: {exc}"
        if text != self._last_error:
            log.warning("publish_retry topic=%s error=%s retry_in=%.1fs", topic, text, delay)
            self._last_error = text

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is buffered (bounded by ``timeout``) and close. Blocking."""
        if self._producer is None:
            return
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            log.warning("producer_flush_failed error=%s", exc)
        self._producer.close(timeout=timeout)
        self._producer = None
