"""Feed state (validators, schedule, errors): read at once, written in batches.

The poller *stages* each poll's state and errors (``stage_feed_state``,
``stage_feed_error``) and :meth:`~monitor.store.items.ItemStore.flush` writes
everything staged in one transaction (once a second), instead of one
transaction per poll. Reads see what is staged (read your writes): the state file
lags behind, the process never does. ``save_feed_state`` and
``record_feed_error`` still write at once (tools, tests). A feed's state leaves the
process and comes back as plain data with :func:`export_feed_state` and
:func:`restore_feed_state` (its next owner, on Kafka).
"""

from __future__ import annotations

import math
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from monitor.store.db import Database

ERRORS_KEPT_PER_FEED = 50
MAX_STAGED_ERRORS = 10_000  # error rows held while the store cannot write (oldest dropped)


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
    truncated: int = 0  # entries of the last body left unread (fetch.max_items), 0: none


_FEED_COLUMNS = tuple(FeedState.__dataclass_fields__)
_TEXT_FIELDS = {"etag": 1000, "last_modified": 200, "last_reason": 100, "last_error": 2000,
                "title": 1000}  # fmt: skip
_INT_FIELDS = ("consecutive_errors", "last_status", "truncated")


def export_feed_state(state: FeedState) -> dict[str, object]:
    """``state`` as plain data (JSON-ready), without its url: what a feed's next owner
    restores with :func:`restore_feed_state` (:mod:`monitor.cluster.feeds`)."""
    return {c: getattr(state, c) for c in _FEED_COLUMNS if c != "url"}


def restore_feed_state(url: str, data: object) -> FeedState:
    """The state :func:`export_feed_state` made, read back for feed ``url``. Whoever can
    write the topic can write anything: a field of the wrong type is left at its default,
    text is cut to its column's bound, numbers must be finite; unknown keys are ignored.
    Raises ValueError when ``data`` is not a mapping."""
    if not isinstance(data, dict):
        raise ValueError(f"a feed state is an object, got {type(data).__name__}")
    fields: dict[str, object] = {}
    for name, bound in _TEXT_FIELDS.items():
        if isinstance(value := data.get(name), str):
            fields[name] = value[:bound]
    for name in _INT_FIELDS:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53:
            fields[name] = value
    for name in _FEED_COLUMNS:
        value = data.get(name)
        if name in _TEXT_FIELDS or name in _INT_FIELDS or name == "url":
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            fields[name] = float(value)
    return FeedState(url=url, **fields)  # type: ignore[arg-type]


_SELECT = f"SELECT {', '.join(_FEED_COLUMNS)} FROM feeds"
_SAVE_FEED = (
    f"INSERT OR REPLACE INTO feeds ({', '.join(_FEED_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _FEED_COLUMNS)})"
)
_ADD_ERROR = "INSERT INTO feed_errors (feed_url, at, reason, detail) VALUES (?, ?, ?, ?)"
_TRIM_ERRORS = """DELETE FROM feed_errors WHERE feed_url = ? AND rowid NOT IN (
    SELECT rowid FROM feed_errors WHERE feed_url = ? ORDER BY at DESC LIMIT ?)"""

ErrorRow = tuple[str, float, str, str]  # feed url, at, reason, detail


class FeedStore(Database):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._staged_states: dict[str, FeedState] = {}
        self._staged_errors: deque[ErrorRow] = deque(maxlen=MAX_STAGED_ERRORS)

    # -- feed state ---------------------------------------------------------

    def feed_state(self, url: str) -> FeedState:
        staged = self._staged_states.get(url)
        if staged is not None:
            return staged
        row = self._one(_SELECT + " WHERE url = ?", (url,))
        return FeedState(*row) if row else FeedState(url=url)

    def feed_states(self) -> list[FeedState]:
        rows = self._all(_SELECT)
        states = {row[0]: FeedState(*row) for row in rows}
        states.update(self._staged_states)
        return list(states.values())

    def save_feed_state(self, state: FeedState) -> None:
        with self._tx() as db:
            db.execute(_SAVE_FEED, _values(state))
        self._staged_states.pop(state.url, None)

    def stage_feed_state(self, state: FeedState) -> None:
        """Keep ``state`` for the next flush (a later one for the feed replaces it)."""
        self._staged_states[state.url] = state

    def record_feed_error(self, state: FeedState, at: float, reason: str, detail: str) -> None:
        """Save the feed's new state and append the error to its history (last 50 kept)."""
        self.stage_feed_error(state, at, reason, detail)
        self.flush_feeds()

    def stage_feed_error(self, state: FeedState, at: float, reason: str, detail: str) -> None:
        """:meth:`record_feed_error` at the next flush."""
        self._staged_states[state.url] = state
        self._staged_errors.append((state.url, at, reason, detail[:2000]))

    def feed_errors(self, url: str) -> list[tuple[float, str, str]]:
        """(at, reason, detail) of the feed's recent errors, newest first."""
        rows = self._all(
            "SELECT at, reason, detail FROM feed_errors WHERE feed_url = ? ORDER BY at DESC",
            (url,),
        )
        staged = [(at, reason, detail) for u, at, reason, detail in self._staged_errors if u == url]
        found = [(float(a), str(r), str(d or "")) for a, r, d in rows]
        return sorted(staged + found, key=lambda e: -e[0])[:ERRORS_KEPT_PER_FEED]

    def flush_feeds(self) -> None:
        """Write the staged feed states and errors now, in one transaction."""
        with self._tx() as db:
            taken = self._write_feeds(db)
        self._forget_feeds(taken)

    def _write_feeds(self, db: sqlite3.Connection) -> tuple[list[FeedState], int]:
        """Write what is staged (inside the caller's transaction); returns what was
        written, to be forgotten once the transaction commits."""
        states = list(self._staged_states.values())
        errors = list(self._staged_errors)
        db.executemany(_SAVE_FEED, [_values(s) for s in states])
        if errors:
            db.executemany(_ADD_ERROR, errors)
            urls = {url for url, *_ in errors}
            db.executemany(_TRIM_ERRORS, [(u, u, ERRORS_KEPT_PER_FEED) for u in urls])
        return states, len(errors)

    def _forget_feeds(self, taken: tuple[list[FeedState], int]) -> None:
        states, errors = taken
        for state in states:  # unless staged again meanwhile
            if self._staged_states.get(state.url) is state:
                del self._staged_states[state.url]
        for _ in range(min(errors, len(self._staged_errors))):
            self._staged_errors.popleft()

    @property
    def staged_feeds(self) -> int:
        return len(self._staged_states) + len(self._staged_errors)


_values: Callable[[FeedState], tuple[object, ...]] = attrgetter(*_FEED_COLUMNS)  # one C call
