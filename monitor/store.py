"""The SQLite store: the one place newsmon persists anything.

WAL mode, one connection, short transactions. The schema is versioned in
``PRAGMA user_version`` and migrated forward on open; each migration is a list
of statements applied in one transaction. Later stages add their tables
(stories, alert outbox) as new migrations here.

Calls are synchronous and short (indexed single-row work); the async stages
call them directly. Errors from sqlite3 are translated to StoreError.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.errors import StoreError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: feed state, feed error history, seen items, sent alerts
        """CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            etag TEXT, last_modified TEXT,
            last_poll REAL, last_success REAL, next_poll REAL,
            interval REAL, consecutive_errors INTEGER NOT NULL DEFAULT 0,
            last_status INTEGER, last_reason TEXT, last_error TEXT,
            update_rate REAL, title TEXT
        )""",
        """CREATE TABLE feed_errors (
            feed_url TEXT NOT NULL, at REAL NOT NULL, reason TEXT NOT NULL, detail TEXT
        )""",
        "CREATE INDEX feed_errors_by_feed ON feed_errors (feed_url, at)",
        """CREATE TABLE seen_items (
            feed_url TEXT NOT NULL, item_id TEXT NOT NULL, first_seen REAL NOT NULL,
            PRIMARY KEY (feed_url, item_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX seen_items_by_age ON seen_items (first_seen)",
        """CREATE TABLE sent_alerts (
            alert_id TEXT PRIMARY KEY, story_id TEXT NOT NULL, receiver TEXT NOT NULL,
            sent_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    (  # 2: stories (dedup window) and the alert outbox (pending, sent, dead letters)
        """CREATE TABLE stories (
            story_id TEXT PRIMARY KEY, created REAL NOT NULL, last_seen REAL NOT NULL,
            title_sig TEXT NOT NULL, lead_sig TEXT NOT NULL, data TEXT NOT NULL
        )""",  # rows of 1-3 KB: a rowid table (WITHOUT ROWID is for small rows)
        "CREATE INDEX stories_by_age ON stories (last_seen)",
        """CREATE TABLE story_keys (
            key TEXT PRIMARY KEY, story_id TEXT NOT NULL, last_seen REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX story_keys_by_age ON story_keys (last_seen)",
        """CREATE TABLE outbox (
            alert_id TEXT PRIMARY KEY, story_id TEXT NOT NULL, receiver TEXT NOT NULL,
            state TEXT NOT NULL, payload TEXT NOT NULL, group_key TEXT NOT NULL,
            created REAL NOT NULL, due REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, updated REAL NOT NULL
        )""",
        "CREATE INDEX outbox_by_due ON outbox (state, receiver, due)",
    ),
    (  # 3: the delivery loop's queries answered from indexes, in (due, created) order:
        # a receiver's next due group, that group's due alerts, a group's digest time
        "DROP INDEX outbox_by_due",
        "CREATE INDEX outbox_by_due ON outbox (state, receiver, due, created, group_key)",
        "CREATE INDEX outbox_by_group ON outbox (state, group_key, due, created)",
    ),
)

ERRORS_KEPT_PER_FEED = 50


@dataclass(frozen=True, slots=True)
class FeedState:
    """What newsmon remembers of one feed between polls and restarts."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: float | None = None  # unix seconds
    last_success: float | None = None
    next_poll: float | None = None
    interval: float | None = None  # current adaptive interval, seconds
    consecutive_errors: int = 0
    last_status: int | None = None
    last_reason: str | None = None  # "ok", "not_modified" or an error reason
    last_error: str | None = None
    update_rate: float | None = None  # smoothed new items per second
    title: str | None = None


_FEED_COLUMNS = tuple(FeedState.__dataclass_fields__)
_SAVE_FEED = (
    f"INSERT OR REPLACE INTO feeds ({', '.join(_FEED_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _FEED_COLUMNS)})"
)


class Store:
    """Open with ``Store(path)``; use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"store {self.path}: {exc}") from exc

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if current > len(MIGRATIONS):
            raise StoreError(
                f"store {self.path} has schema {current}, newer than this newsmon "
                f"({len(MIGRATIONS)}); upgrade newsmon or use another state path"
            )
        for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
            self._db.execute("BEGIN IMMEDIATE")
            for statement in statements:
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {version}")
            self._db.execute("COMMIT")

    # -- feed state ---------------------------------------------------------

    def feed_state(self, url: str) -> FeedState:
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(_FEED_COLUMNS)} FROM feeds WHERE url = ?", (url,)
            ).fetchone()
        return FeedState(*row) if row else FeedState(url=url)

    def feed_states(self) -> list[FeedState]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_FEED_COLUMNS)} FROM feeds").fetchall()
        return [FeedState(*row) for row in rows]

    def save_feed_state(self, state: FeedState) -> None:
        values = tuple(getattr(state, c) for c in _FEED_COLUMNS)
        with self._tx() as db:
            db.execute(_SAVE_FEED, values)

    def record_feed_error(self, state: FeedState, at: float, reason: str, detail: str) -> None:
        """Save the feed's new state and append the error to its history (last 50 kept)."""
        self.save_feed_state(state)
        with self._tx() as db:
            db.execute(
                "INSERT INTO feed_errors (feed_url, at, reason, detail) VALUES (?, ?, ?, ?)",
                (state.url, at, reason, detail[:2000]),
            )
            db.execute(
                """DELETE FROM feed_errors WHERE feed_url = ? AND rowid NOT IN (
                     SELECT rowid FROM feed_errors WHERE feed_url = ? ORDER BY at DESC LIMIT ?)""",
                (state.url, state.url, ERRORS_KEPT_PER_FEED),
            )

    def feed_errors(self, url: str) -> list[tuple[float, str, str]]:
        """(at, reason, detail) of the feed's recent errors, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, reason, detail FROM feed_errors WHERE feed_url = ? ORDER BY at DESC",
                (url,),
            ).fetchall()
        return [(float(a), str(r), str(d or "")) for a, r, d in rows]

    # -- seen items ---------------------------------------------------------

    def unseen(self, feed_url: str, item_ids: Iterable[str]) -> list[str]:
        """The ids of ``item_ids`` never marked seen for this feed, in order."""
        ids = list(dict.fromkeys(item_ids))
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
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO seen_items (feed_url, item_id, first_seen) VALUES (?, ?, ?)",
                ((feed_url, i, at) for i in item_ids),
            )

    def forget_seen_before(self, cutoff: datetime) -> int:
        """Drop seen marks older than ``cutoff``; returns how many."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM seen_items WHERE first_seen < ?", (cutoff.timestamp(),))
            return cur.rowcount

    # -- sent alerts ----------------------------------------------------------

    def was_sent(self, alert_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM sent_alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return row is not None

    def mark_sent(self, alert_id: str, story_id: str, receiver: str, at: float) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO sent_alerts (alert_id, story_id, receiver, sent_at)"
                " VALUES (?, ?, ?, ?)",
                (alert_id, story_id, receiver, at),
            )

    # -- stories (monitor.dedup) ------------------------------------------------

    def story_for_keys(self, keys: Iterable[str]) -> str | None:
        """The story any of the exact ``keys`` belongs to, if any."""
        keys = list(keys)
        marks = ", ".join("?" for _ in keys)
        with self._lock:
            row = self._db.execute(
                f"SELECT story_id FROM story_keys WHERE key IN ({marks}) LIMIT 1", keys
            ).fetchone()
        return str(row[0]) if row else None

    def story(self, story_id: str) -> StoryRow | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_STORY_COLUMNS} FROM stories WHERE story_id = ?", (story_id,)
            ).fetchone()
        return StoryRow(*row) if row else None

    def stories_since(self, cutoff: float) -> list[StoryRow]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_STORY_COLUMNS} FROM stories WHERE last_seen >= ? ORDER BY last_seen",
                (cutoff,),
            ).fetchall()
        return [StoryRow(*row) for row in rows]

    def save_story(self, story: StoryRow, keys: Iterable[str]) -> None:
        """Insert or update a story and point its exact keys at it, in one transaction."""
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO stories ({_STORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (story.story_id, story.created, story.last_seen, story.title_sig,
                 story.lead_sig, story.data),
            )  # fmt: skip
            db.executemany(
                "INSERT OR REPLACE INTO story_keys (key, story_id, last_seen) VALUES (?, ?, ?)",
                ((k, story.story_id, story.last_seen) for k in keys),
            )

    def forget_stories_before(self, cutoff: float) -> int:
        """Drop stories (and their keys) last seen before ``cutoff``; returns how many."""
        with self._tx() as db:
            db.execute("DELETE FROM story_keys WHERE last_seen < ?", (cutoff,))
            return db.execute("DELETE FROM stories WHERE last_seen < ?", (cutoff,)).rowcount

    # -- alert outbox (monitor.alerts.deliver) -----------------------------------

    def outbox_add(self, rows: Iterable[OutboxRow]) -> list[str]:
        """Record alerts before sending; an alert id already in the outbox or the sent
        log is left alone. Returns the ids added."""
        added = []
        with self._tx() as db:
            for r in rows:
                if db.execute(
                    "SELECT 1 FROM sent_alerts WHERE alert_id = ?", (r.alert_id,)
                ).fetchone():
                    continue
                cur = db.execute(
                    f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _outbox_values(r),
                )
                if cur.rowcount:
                    added.append(r.alert_id)
        return added

    def outbox(
        self, state: str | None = None, receiver: str | None = None, due_by: float | None = None
    ) -> list[OutboxRow]:
        """Outbox rows by state (pending | sent | dead), receiver and due time, oldest due
        first, payloads included: for listing (``newsmon alerts``), not for the hot path."""
        where, args = ["1"], list[object]()
        for column, value in (("state", state), ("receiver", receiver)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if due_by is not None:
            where.append("due <= ?")
            args.append(due_by)
        query = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {' AND '.join(where)}"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY due, created", args).fetchall()
        return [OutboxRow(*row) for row in rows]

    def outbox_next_due(self, receiver: str | None = None) -> float | None:
        """When the earliest pending alert (of ``receiver``) is due."""
        query = "SELECT MIN(due) FROM outbox WHERE state = 'pending'"
        args: tuple[str, ...] = ()
        if receiver is not None:
            query, args = query + " AND receiver = ?", (receiver,)
        with self._lock:
            row = self._db.execute(query, args).fetchone()
        return None if row[0] is None else float(row[0])

    def outbox_batch(self, receiver: str, due_by: float, limit: int) -> list[OutboxRow]:
        """The due pending alerts (at most ``limit``) of the group of ``receiver``'s
        earliest due alert, oldest due first: two index lookups, whatever is pending.
        (A group key names its receiver: a group never spans receivers.)"""
        with self._lock:
            first = self._db.execute(OUTBOX_FIRST_DUE, (receiver, due_by)).fetchone()
            if first is None:
                return []
            rows = self._db.execute(OUTBOX_GROUP_DUE, (first[0], due_by, limit)).fetchall()
        return [OutboxRow(*row) for row in rows]

    def outbox_group_due(self, group_key: str) -> float | None:
        """When the group's pending digest is due (its earliest pending alert), if any."""
        with self._lock:
            row = self._db.execute(OUTBOX_GROUP_MIN_DUE, (group_key,)).fetchone()
        return None if row[0] is None else float(row[0])

    def outbox_pending(self) -> int:
        """How many alerts are pending (an index count: no payload is read)."""
        with self._lock:
            return int(self._db.execute(OUTBOX_PENDING).fetchone()[0])

    def outbox_sent(self, alert_ids: Iterable[str], at: float) -> None:
        """Mark alerts sent and log them in the sent log, in one transaction."""
        with self._tx() as db:
            for alert_id in alert_ids:
                db.execute(
                    "UPDATE outbox SET state = 'sent', updated = ?, last_error = NULL"
                    " WHERE alert_id = ?",
                    (at, alert_id),
                )
                db.execute(
                    "INSERT OR IGNORE INTO sent_alerts (alert_id, story_id, receiver, sent_at)"
                    " SELECT alert_id, story_id, receiver, ? FROM outbox WHERE alert_id = ?",
                    (at, alert_id),
                )

    def outbox_update(
        self, alert_ids: Iterable[str], *, state: str, due: float, error: str | None, at: float
    ) -> None:
        """Reschedule (state ``pending``) or dead-letter (``dead``) alerts after an attempt."""
        with self._tx() as db:
            db.executemany(
                "UPDATE outbox SET state = ?, due = ?, attempts = attempts + 1, last_error = ?,"
                " updated = ? WHERE alert_id = ?",
                ((state, due, error, at, a) for a in alert_ids),
            )

    def outbox_requeue(self, alert_id: str, at: float) -> bool:
        """Put a dead (or sent) alert back in the queue, due now; True if it exists."""
        with self._tx() as db:
            db.execute("DELETE FROM sent_alerts WHERE alert_id = ?", (alert_id,))
            cur = db.execute(
                "UPDATE outbox SET state = 'pending', due = ?, created = ?, attempts = 0,"
                " updated = ? WHERE alert_id = ?",
                (at, at, at, alert_id),
            )
            return cur.rowcount > 0

    def outbox_forget_sent_before(self, cutoff: float) -> int:
        """Drop the payloads of alerts sent before ``cutoff``; the sent log keeps
        their ids, so a story never alerts a receiver twice."""
        with self._tx() as db:
            return db.execute(
                "DELETE FROM outbox WHERE state = 'sent' AND updated < ?", (cutoff,)
            ).rowcount

    def writable(self) -> bool:
        """Whether a write goes through now (for /readyz)."""
        try:
            with self._tx() as db:
                db.execute("PRAGMA user_version = " + str(len(MIGRATIONS)))
            return True
        except StoreError:
            return False


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story as stored: its signatures and its JSON ``data`` (owned by monitor.dedup)."""

    story_id: str
    created: float
    last_seen: float
    title_sig: str
    lead_sig: str
    data: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One alert for one receiver: ``pending`` until the receiver accepts it (``sent``)
    or it fails for good (``dead``: the dead-letter list). ``payload`` is the alert's JSON."""

    alert_id: str
    story_id: str
    receiver: str
    state: str
    payload: str
    group_key: str
    created: float
    due: float
    attempts: int = 0
    last_error: str | None = None
    updated: float = 0.0


_STORY_COLUMNS = ", ".join(StoryRow.__dataclass_fields__)
_OUTBOX_COLUMNS = ", ".join(OutboxRow.__dataclass_fields__)
# the outbox's hot queries, each answered by an index (tests/test_store.py checks the plans)
OUTBOX_FIRST_DUE = (
    "SELECT group_key FROM outbox"
    " WHERE state = 'pending' AND receiver = ? AND due <= ? ORDER BY due, created LIMIT 1"
)
OUTBOX_GROUP_DUE = (
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox"
    " WHERE state = 'pending' AND group_key = ? AND due <= ?"
    " ORDER BY due, created LIMIT ?"
)
OUTBOX_GROUP_MIN_DUE = "SELECT MIN(due) FROM outbox WHERE state = 'pending' AND group_key = ?"
OUTBOX_PENDING = "SELECT count(*) FROM outbox WHERE state = 'pending'"


def _outbox_values(r: OutboxRow) -> tuple[object, ...]:
    return tuple(getattr(r, c) for c in OutboxRow.__dataclass_fields__)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def retention_cutoff(days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)
