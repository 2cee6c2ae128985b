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

Recovery: a client that cannot recover by itself is closed and a new one opened
(*rebuilt*), and what it held is sent again through the new one: at once when it
is in a fatal state (kafka-python's idempotent producer turns fatal on an error
it cannot classify, and then fails every send until closed) or its sender thread
died; and when sends kept failing ``REBUILD_AFTER`` seconds while the broker
answers (a state nobody named). A send never waits for metadata on the event loop:
while a topic's partitions are unknown (a first send, a broker restarted, a topic
deleted) it goes through a worker thread. ``close`` is bounded by its timeout even
when the broker is gone (kafka-python's own close then raises and leaves the sender
running: it is forced shut).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
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
REBUILD_AFTER = 30.0  # seconds of failed sends, the broker answering, before a rebuild


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
    def __init__(
        self, config: BusConfig, on_retry: Callable[[str], None] | None = None, *,
        reachable: Callable[[], bool] = lambda: True,
        on_rebuild: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self._config = config
        self._on_retry = on_retry
        self._on_rebuild = on_rebuild
        self._reachable = reachable  # whether the broker answers (the bus's probe)
        self._producer: Any = None
        self._topics: tuple[str, ...] = ()
        self._completions: _Completions | None = None
        self._last_error = ""
        self._failing_since: float | None = None  # when the current run of failures began
        self._generation = 0  # clients built so far: a rebuild is for the failing one only
        self._rebuilding: asyncio.Lock | None = None

    def open(self, topics: Sequence[str]) -> None:
        """Connect and fetch the topics' metadata. Blocking: run it in a thread."""
        self._topics = tuple(topics)
        self._producer = self._build()
        self._generation += 1

    def _build(self) -> Any:
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
        producer: Any = None
        try:
            try:
                producer = KafkaProducer(**kwargs)
            except (KafkaConfigurationError, UnsupportedVersionError) as exc:
                log.warning("idempotence_unsupported error=%s (producing without it)", exc)
                kwargs["enable_idempotence"] = False
                producer = KafkaProducer(**kwargs)
            for topic in self._topics:
                producer.partitions_for(topic)
        except KafkaError as exc:
            if producer is not None:
                hard_close(producer, 0.0)
            raise BusError(f"kafka producer: {exc}") from exc
        log.info(
            "producer_ready idempotence=%s compression=%s",
            producer.config.get("enable_idempotence"), c.compression,
        )  # fmt: skip
        return producer

    def send_nowait(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers,
        partition: int | None = None,
    ) -> Any:  # fmt: skip
        """The kafka future of one record (from any thread; used for dead letters).
        Raises BusError while the client is being rebuilt."""
        producer = self._producer
        if producer is None:
            raise BusError("kafka producer: being rebuilt")
        return producer.send(topic, key=key, value=value, headers=headers, partition=partition)

    def _known(self, topic: str) -> bool:
        """Whether a send to ``topic`` goes without waiting for its metadata."""
        metadata = getattr(self._producer, "_metadata", None)
        return metadata is not None and metadata.partitions_for_topic(topic) is not None

    async def send_many(
        self, topic: str, records: Sequence[Record],
        partitions: Sequence[int | None] | None = None,
    ) -> list[tuple[int, int]]:  # fmt: skip
        """Send (key, value, headers) records (to ``partitions[i]`` if given, else as
        keyed) until the broker acknowledges each; their (partition, offset), in order.
        One wait for the lot; what the broker did not take is sent again, alone, with
        backoff, through a rebuilt client if this one cannot recover."""
        results: list[tuple[int, int]] = [(-1, -1)] * len(records)
        todo, delay = list(range(len(records))), 0.2
        while todo:
            generation = self._generation
            failed = await self._send_once(topic, records, partitions, todo, results)
            if not failed:
                break
            self._failed(topic, failed[0][1], delay)
            if (why := self._broken()) is not None:
                await self.rebuild(generation, why)
            await self._backoff(delay)
            delay = min(delay * 2, MAX_BACKOFF)
            todo = sorted(i for i, _ in failed)
        self._failing_since = None
        if self._last_error:
            log.info("publish_recovered topic=%s", topic)
            self._last_error = ""
        return results

    async def _send_once(
        self, topic: str, records: Sequence[Record], partitions: Sequence[int | None] | None,
        todo: list[int], results: list[tuple[int, int]],
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
            at = None if partitions is None else partitions[i]
            try:
                if self._known(topic):
                    kfuture = self.send_nowait(topic, key, value, headers, at)
                else:  # waits for the topic's metadata (max_block_ms): not on the loop
                    kfuture = await asyncio.to_thread(
                        self.send_nowait, topic, key, value, headers, at
                    )
            except (KafkaError, BusError) as exc:
                settle(i, None, exc if isinstance(exc, KafkaError) else KafkaError(str(exc)))
                continue
            kfuture.add_callback(lambda md, i=i: settle(i, md, None))
            kfuture.add_errback(lambda exc, i=i: settle(i, None, exc))
        await future
        return failed

    async def _backoff(self, delay: float) -> None:
        """Wait ``delay`` seconds before sending again, less if the broker, away when
        the wait began, answers again meanwhile (then try at once, not up to 10 s on)."""
        away, end = not self._reachable(), time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.2))
            if away and self._reachable():
                return

    def _failed(self, topic: str, exc: KafkaError, delay: float) -> None:
        if not self._reachable():
            self._failing_since = None  # the broker is away: counted once it is back
        elif self._failing_since is None:
            self._failing_since = time.monotonic()
        if self._on_retry is not None:
            self._on_retry(topic)
        text = f"{type(exc).__name__}: {exc}"
        if text != self._last_error:
            log.warning("publish_retry topic=%s error=%s retry_in=%.1fs", topic, text, delay)
            self._last_error = text

    def _broken(self) -> str | None:
        """Why the client must be rebuilt, or None (see the module docstring)."""
        producer = self._producer
        if producer is None:
            return "no client (the last rebuild failed)"
        manager = getattr(producer, "_transaction_manager", None)
        if manager is not None and manager.has_fatal_error():
            return f"fatal state ({manager.last_error!r})"
        sender = getattr(producer, "_sender", None)
        if sender is not None and not sender.is_alive():
            return "its sender thread ended"
        since = self._failing_since
        if since is not None and time.monotonic() - since >= REBUILD_AFTER:
            return f"sends failing for {time.monotonic() - since:.0f}s, the broker answering"
        return None

    async def rebuild(self, generation: int, why: str) -> None:
        """Close client ``generation`` (what it holds fails and is sent again by its
        callers) and open a new one; a no-op if it was rebuilt meanwhile. A new client
        that cannot connect leaves none: the next failed send tries again."""
        if self._rebuilding is None:
            self._rebuilding = asyncio.Lock()
        async with self._rebuilding:
            if generation != self._generation:
                return
            log.warning("producer_rebuild reason=%s", why)
            old, self._producer = self._producer, None
            self._generation += 1
            self._failing_since = time.monotonic()  # the new client gets REBUILD_AFTER too
            if old is not None:
                await asyncio.to_thread(hard_close, old, 0.0)
            if self._on_rebuild is not None:
                self._on_rebuild("producer")
            try:
                self._producer = await asyncio.to_thread(self._build)
            except BusError as exc:
                log.warning("producer_rebuild_failed error=%s (tried again on the next send)",
                            exc)  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is buffered (bounded by ``timeout``) and close. Blocking."""
        producer, self._producer = self._producer, None
        if producer is not None:
            hard_close(producer, timeout)


def hard_close(producer: Any, timeout: float) -> None:
    """Flush (at most ``timeout`` seconds) and close ``producer``; what it could not send
    fails. kafka-python's close raises when the flush times out, and leaves its sender
    running: then the sender is forced shut."""
    deadline = time.monotonic() + timeout
    try:
        producer.flush(timeout=timeout)
    except KafkaError as exc:
        log.warning("producer_flush_failed error=%s", exc)
    try:
        producer.close(timeout=max(0.0, deadline - time.monotonic()))
    except KafkaError:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()  # fails what is left: the callers send it again
            sender.join(1.0)
