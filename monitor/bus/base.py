"""The bus interface every stage talks to, and the choice of implementation.

A stage publishes records to a topic and consumes the topic before it as an
async iterator of :class:`Message`; it calls ``ack()`` only once its own
output is durable (published, or written to the store), so an at-least-once
bus can commit then. A message the stage cannot handle is given up on with
``dead_letter(reason, detail)`` instead: counted in
``newsmon_bus_dead_letters_total``, kept in the dead-letter topic where the
bus has one (Kafka), and then done with like an acked one. ``drain(topic)``
waits until everything published to a topic so far has been acked: ``run
--once`` and shutdown use it to let work flow through before stopping.

A consumer with a backlog never waits for its next message (a queue that holds one,
a Kafka batch already fetched), so it would keep the event loop to itself until the
backlog was gone, the fetches and the parse workers' answers waiting meanwhile: every
``consume`` hands the loop a turn every :data:`SLICE` seconds (:class:`Turns`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from monitor.model import Record

if TYPE_CHECKING:
    from monitor.config import BusConfig
    from monitor.metrics import Metrics

ITEMS = "items"
MATCHES = "matches"
SLICE = 0.005  # seconds a consumer runs before the event loop gets a turn


class Turns:
    """A consumer's share of the event loop: :meth:`take` after each message yields
    to the loop once ``SLICE`` seconds went by since the last turn."""

    __slots__ = ("_clock", "_next")

    def __init__(self) -> None:
        self._clock = asyncio.get_running_loop().time
        self._next = self._clock() + SLICE

    async def take(self) -> None:
        if self._clock() >= self._next:
            await asyncio.sleep(0)  # the loop's turn: fetches and answers waiting
            self._next = self._clock() + SLICE


class Message(Protocol):
    key: str
    value: Record

    async def ack(self) -> None: ...

    async def dead_letter(self, reason: str, detail: str = "") -> None:
        """Give the message up: count it under ``reason``, keep it where the bus can
        (Kafka: the dead-letter topic, with ``detail``), and treat it as acked."""


class Bus(Protocol):
    async def __aenter__(self) -> Bus: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def publish(self, topic: str, key: str, value: Record) -> None:
        """Hand ``value`` to the bus; may wait (back-pressure) but never drops."""

    async def publish_many(self, topic: str, records: Sequence[tuple[str, Record]]) -> None:
        """Publish (key, value) pairs, in order; returns once every one is taken
        (on Kafka: acknowledged), which costs one wait, not one per record."""

    def consume(self, topic: str, group: str) -> AsyncIterator[Message]:
        """Messages of ``topic`` for consumer group ``group``, until the bus closes."""

    async def drain(self, topic: str) -> None:
        """Wait until every message published to ``topic`` so far is acked."""

    def depth(self, topic: str) -> int:
        """Messages published but not yet acked (for metrics and readiness)."""

    async def ready(self) -> bool:
        """Whether the bus can accept and deliver messages now."""


def open_bus(config: BusConfig, metrics: Metrics | None = None) -> Bus:
    """The bus named by ``config.kind``; ``metrics`` counts what the bus alone sees."""
    if config.kind == "memory":
        from monitor.bus.memory import MemoryBus

        return MemoryBus(maxsize=config.queue_size, metrics=metrics)
    if config.kind == "kafka":
        from monitor.bus.kafka import KafkaBus

        return KafkaBus(config, metrics)
    raise ValueError(f"unknown bus kind {config.kind!r}")
