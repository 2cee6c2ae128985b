"""What the web UI and API read and act on: the running daemon's own objects.

``app.py`` builds one :class:`Desk` from the store, the story book, the outbox and
the live rule engine it runs, so a page shows what the daemon holds now (a story
from memory, a feed's state as staged, a silence the next send reads) and an
action (a retry, a silence) goes where the daemon looks. Nothing here writes but
those actions. Where that is depends on the bus, and ``app.py`` says: on the memory
bus the silences are the state file's (the default, ``silences=None``); on Kafka it
hands in a :class:`SilenceWriter` that publishes them to the topic every daemon follows,
and ``delivers``, whether this daemon delivers to a receiver now (only that one may
requeue the receiver's alerts).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from monitor.alerts.outbox import Outbox
from monitor.alerts.silence import Silence
from monitor.config import FeedConfig
from monitor.dedup.stories import StoryBook
from monitor.model import iso
from monitor.rules.engine import Engine
from monitor.store import Store


class SilenceWriter(Protocol):
    """Where a silence made or ended on the desk is written (blocking: run in a thread).
    Either may raise :class:`~monitor.errors.NewsmonError` (the broker away)."""

    def add(self, silence: Silence) -> None: ...
    def expire(self, silence: Silence, at: float) -> None: ...


@dataclass(frozen=True)
class Desk:
    store: Store
    book: StoryBook
    outbox: Outbox
    engine: Callable[[], Engine]  # the live rules (a hot reload swaps them)
    feeds: Sequence[FeedConfig] = ()
    receivers: Sequence[str] = ()
    registry: CollectorRegistry | None = None  # matches per rule since the start
    wake: Callable[[set[str]], None] = field(default=lambda receivers: None)  # the senders
    clock: Callable[[], float] = field(default=time.time)
    silences: SilenceWriter | None = None  # None: the state file's (the memory bus)
    # kafka: whether this daemon delivers to a receiver now (None: the memory bus, all)
    delivers: Callable[[str], bool] | None = None
    # story id -> (version, receivers, its summary): a story is rebuilt for the list
    # only when it changed (the live refresh asks every few seconds)
    summaries: dict[str, tuple[int, frozenset[str], dict[str, Any]]] = field(
        default_factory=dict, repr=False
    )


class Problem(Exception):
    """A request the desk cannot do: ``status`` (400, 404, 409) and what to fix."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def when(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (``...Z``), None for None or 0."""
    if not ts:
        return None
    return iso(datetime.fromtimestamp(ts, UTC))
