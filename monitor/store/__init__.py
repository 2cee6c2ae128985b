"""The SQLite store: the one place newsmon persists anything.

WAL mode, one connection, short transactions. The schema is versioned in
``PRAGMA user_version`` and migrated forward on open (``schema.py``). One
:class:`Store` holds every table, its methods grouped by who uses them:
``feeds.py`` and ``items.py`` (feed state, seen items, retained items, written in
batches: ``monitor.sources``), ``stories.py`` (``monitor.dedup``), ``outbox.py``
(the alert outbox and sent log; ``outbox_pages.py`` reads it for people,
``outbox_export.py`` exports and imports its rows for ``monitor.cluster``),
``deliveries.py`` (what each receiver was told of each story; escalations) and
``silences.py`` (``monitor.alerts``), over ``db.py``
(the connection, transactions, the state lock and the file's identity).

Calls are synchronous and short (indexed single-row work); the async stages
call them directly. Errors from sqlite3 are translated to StoreError.
"""

from __future__ import annotations

from monitor.store.db import StateLock, retention_cutoff, watch_intact
from monitor.store.deliveries import DeliveryRow, DeliveryStore, EscalationRow
from monitor.store.feeds import ERRORS_KEPT_PER_FEED, FeedState
from monitor.store.items import ItemStore
from monitor.store.outbox import (
    OUTBOX_FIRST_DUE,
    OUTBOX_GROUP_DUE,
    OUTBOX_GROUP_MIN_DUE,
    OUTBOX_PENDING,
    OutboxRow,
    OutboxStore,
)
from monitor.store.outbox_export import OutboxExportStore
from monitor.store.outbox_pages import OutboxPageStore
from monitor.store.schema import MIGRATIONS
from monitor.store.silences import SilenceStore
from monitor.store.stories import MemberRow, StoryRow, StoryStore


class Store(
    ItemStore,
    StoryStore,
    OutboxStore,
    OutboxPageStore,
    OutboxExportStore,
    DeliveryStore,
    SilenceStore,
):
    """Open with ``Store(path)``; use as a context manager or call ``close()``."""


__all__ = [
    "ERRORS_KEPT_PER_FEED",
    "MIGRATIONS",
    "OUTBOX_FIRST_DUE",
    "OUTBOX_GROUP_DUE",
    "OUTBOX_GROUP_MIN_DUE",
    "OUTBOX_PENDING",
    "DeliveryRow",
    "EscalationRow",
    "FeedState",
    "MemberRow",
    "OutboxRow",
    "StateLock",
    "Store",
    "StoryRow",
    "retention_cutoff",
    "watch_intact",
]
