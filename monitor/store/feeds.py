"""Feed state (validators, schedule, errors) and the ids of the items seen per feed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from monitor.store.db import Database, _chunks

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


class FeedStore(Database):
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
