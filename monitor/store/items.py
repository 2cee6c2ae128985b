"""The ids of the items seen per feed, and the new items retained for backtests.

An item is published once per feed, ever: the poller stages its seen mark (and
the item, retained) only once the bus took it, and :meth:`ItemStore.flush` writes
what was staged, feed states and errors included, in one transaction. Reads see
the staged marks, so the running daemon never publishes an item twice; a crash
(not a stop, which flushes) forgets the marks staged since the last flush (at
most ``FLUSH_EVERY`` of the poller's time): those items are published again
after the restart, never lost.

Retained items (``retained_items``) are the envelope JSON of every new item, in
publish order, kept ``state.item_retention`` and at most ``state.max_items``
(:meth:`forget_items` drops the oldest first).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from monitor.model import Item, decode, encode
from monitor.store.db import _chunks
from monitor.store.feeds import FeedStore

_MARK = "INSERT OR IGNORE INTO seen_items (feed_url, item_id, first_seen) VALUES (?, ?, ?)"
_RETAIN = "INSERT INTO retained_items (at, feed_url, item_id, envelope) VALUES (?, ?, ?, ?)"
_PAGE = 500


class ItemStore(FeedStore):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._staged_seen: dict[str, dict[str, float]] = {}  # feed url -> item id -> at
        self._staged_items: list[tuple[float, Item]] = []

    # -- seen items ---------------------------------------------------------

    def unseen(self, feed_url: str, item_ids: Iterable[str]) -> list[str]:
        """The ids of ``item_ids`` never marked seen for this feed, in order."""
        staged = self._staged_seen.get(feed_url, {})
        ids = [i for i in dict.fromkeys(item_ids) if i not in staged]
        if not ids:
            return []
        seen: set[str] = set()
        with self._lock:
            for chunk in _chunks(ids, 500):
                marks = ", ".join("?" for _ in chunk)
                rows = self._db.execute(
                    f"SELECT item_id FROM seen_items WHERE feed_url = ? AND item_id IN ({marks})",
                    (feed_url, *chunk),
                ).fetchall()
                seen.update(r[0] for r in rows)
        return [i for i in ids if i not in seen]

    def mark_seen(self, feed_url: str, item_ids: Iterable[str], at: float) -> None:
        """Mark ``item_ids`` seen now (no item retained)."""
        with self._tx() as db:
            db.executemany(_MARK, ((feed_url, i, at) for i in item_ids))

    def stage_seen(self, feed_url: str, items: Sequence[Item], at: float) -> None:
        """Mark ``items`` seen and retain them, at the next :meth:`flush`."""
        marks = self._staged_seen.setdefault(feed_url, {})
        for item in items:
            marks.setdefault(item.id, at)
            self._staged_items.append((at, item))

    def forget_seen_before(self, cutoff: datetime) -> int:
        """Drop seen marks older than ``cutoff``; returns how many."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM seen_items WHERE first_seen < ?", (cutoff.timestamp(),))
            return cur.rowcount

    # -- the batch ----------------------------------------------------------

    @property
    def staged(self) -> int:
        """Rows staged and not yet written."""
        return (
            self.staged_feeds
            + len(self._staged_items)
            + sum(len(marks) for marks in self._staged_seen.values())
        )

    def flush(self) -> int:
        """Write everything staged (feed states and errors, seen marks, retained
        items) in one transaction; returns the rows written. On a StoreError
        nothing is lost: it stays staged for the next flush."""
        seen = self._staged_seen
        items = self._staged_items
        marks = [(url, i, at) for url, ids in seen.items() for i, at in ids.items()]
        with self._tx() as db:
            taken = self._write_feeds(db)
            db.executemany(_MARK, marks)
            db.executemany(_RETAIN, _rows(items))
        self._forget_feeds(taken)
        if self._staged_seen is seen:
            self._staged_seen = {}
            self._staged_items = []
        return len(taken[0]) + taken[1] + len(marks) + len(items)

    # -- retained items -----------------------------------------------------

    def retained_items(self, since: float, until: float | None = None) -> Iterator[Item]:
        """The items retained, published in [since, until) (unix seconds), in publish
        order; a record that does not decode as an item (newer schema) is skipped."""
        for _, envelope in self.retained_envelopes(since, until):
            try:
                record = decode(envelope.encode("utf-8"))
            except ValueError:
                continue
            if isinstance(record, Item):
                yield record

    def retained_envelopes(
        self, since: float, until: float | None = None
    ) -> Iterator[tuple[float, str]]:
        """(publish time, envelope JSON) of each item retained in [since, until), in
        publish order, read a page at a time."""
        end = float("inf") if until is None else until
        at, seq = since, -1
        while True:
            rows = self._all(
                "SELECT at, seq, envelope FROM retained_items WHERE at >= ? AND at < ?"
                " AND (at > ? OR (at = ? AND seq > ?)) ORDER BY at, seq LIMIT ?",
                (since, end, at, at, seq, _PAGE),
            )
            for row_at, _, envelope in rows:
                yield float(row_at), str(envelope)
            if len(rows) < _PAGE:
                return
            at, seq = float(rows[-1][0]), int(rows[-1][1])

    def retained_count(self, since: float, until: float | None = None) -> int:
        """How many items are retained in [since, until) (an index count)."""
        end = float("inf") if until is None else until
        row = self._one(
            "SELECT count(*) FROM retained_items WHERE at >= ? AND at < ?", (since, end)
        )
        return int(row[0])

    def retained_item(self, ref: str) -> Item | None:
        """The newest retained item whose id, or link, is ``ref`` (``newsmon explain``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT envelope FROM retained_items WHERE item_id = ? ORDER BY seq DESC LIMIT 1",
                (ref,),
            ).fetchone()
            if row is None and "://" in ref:  # no index on links: a scan, for the CLI only
                row = self._db.execute(
                    "SELECT envelope FROM retained_items"
                    " WHERE json_extract(envelope, '$.data.link') = ? ORDER BY seq DESC LIMIT 1",
                    (ref,),
                ).fetchone()
        if row is None:
            return None
        try:
            record = decode(str(row[0]).encode("utf-8"))
        except ValueError:
            return None
        return record if isinstance(record, Item) else None

    def forget_items(self, before: float, keep: int) -> int:
        """Drop retained items published before ``before``, and all but the newest
        ``keep``; returns how many."""
        with self._tx() as db:
            dropped = db.execute("DELETE FROM retained_items WHERE at < ?", (before,)).rowcount
            (newest,) = db.execute("SELECT MAX(seq) FROM retained_items").fetchone()
            if newest is not None:
                cut = db.execute("DELETE FROM retained_items WHERE seq <= ?", (newest - keep,))
                dropped += cut.rowcount
        return int(dropped)


def _rows(items: list[tuple[float, Item]]) -> Iterator[tuple[float, str, str, str]]:
    for at, item in items:
        yield at, item.feed_url, item.id, encode(item).decode("utf-8")
