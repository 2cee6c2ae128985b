"""The alert outbox (``monitor.alerts``): pending, sent and dead alerts, and the
sent log that keeps a story from alerting a receiver twice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.store.db import Database
from monitor.store.deliveries import DeliveryRow, save_deliveries


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One alert for one receiver: ``pending`` until the receiver accepts it (``sent``)
    or it fails for good (``dead``: the dead-letter list). ``payload`` is the alert's JSON.

    ``kind`` is ``alert`` (a message to post) or ``sync``: bring the receiver up to date
    with its story (an edit in place, a follow-up, or nothing); at most one is pending
    per story and receiver, and ``payload`` holds its route's update options until it
    is done, then the alert it sent."""

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
    kind: str = "alert"


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
OUTBOX_SYNC_PENDING = (
    "SELECT 1 FROM outbox WHERE story_id = ? AND receiver = ? AND kind = 'sync'"
    " AND state = 'pending' LIMIT 1"
)
_MARKS = ", ".join("?" for _ in OutboxRow.__dataclass_fields__)


def _outbox_values(r: OutboxRow) -> tuple[object, ...]:
    return tuple(getattr(r, c) for c in OutboxRow.__dataclass_fields__)


class OutboxStore(Database):
    # -- sent alerts ----------------------------------------------------------

    def was_sent(self, alert_id: str) -> bool:
        row = self._one("SELECT 1 FROM sent_alerts WHERE alert_id = ?", (alert_id,))
        return row is not None

    def mark_sent(self, alert_id: str, story_id: str, receiver: str, at: float) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO sent_alerts (alert_id, story_id, receiver, sent_at)"
                " VALUES (?, ?, ?, ?)",
                (alert_id, story_id, receiver, at),
            )

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
                if (
                    r.kind == "sync"
                    and db.execute(OUTBOX_SYNC_PENDING, (r.story_id, r.receiver)).fetchone()
                ):
                    continue  # one pending sync per story and receiver: it renders the latest
                cur = db.execute(
                    f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) VALUES ({_MARKS})",
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
        rows = self._all(query + " ORDER BY due, created", args)
        return [OutboxRow(*row) for row in rows]

    def outbox_next_due(self, receiver: str | None = None) -> float | None:
        """When the earliest pending alert (of ``receiver``) is due."""
        query = "SELECT MIN(due) FROM outbox WHERE state = 'pending'"
        args: tuple[str, ...] = ()
        if receiver is not None:
            query, args = query + " AND receiver = ?", (receiver,)
        row = self._one(query, args)
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
        row = self._one(OUTBOX_GROUP_MIN_DUE, (group_key,))
        return None if row[0] is None else float(row[0])

    def outbox_group_count(self, group_key: str, due_by: float) -> int:
        """How many of a group's pending alerts are due by ``due_by`` (its digest's size)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending' AND group_key = ?"
                " AND due <= ?", (group_key, due_by),
            ).fetchone()  # fmt: skip
        return int(row[0])

    def outbox_pending(self) -> int:
        """How many alerts are pending (an index count: no payload is read)."""
        with self._lock:
            return int(self._db.execute(OUTBOX_PENDING).fetchone()[0])

    def outbox_pending_for(self, receivers: Iterable[str]) -> int:
        """How many alerts of these receivers are pending."""
        names = list(receivers)
        marks = ", ".join("?" for _ in names)
        with self._lock:
            return int(self._db.execute(
                f"SELECT count(*) FROM outbox WHERE state = 'pending' AND receiver IN ({marks})",
                names,
            ).fetchone()[0])  # fmt: skip

    def outbox_sent(
        self, alert_ids: Iterable[str], at: float, told: Iterable[DeliveryRow] = (),
        payloads: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Mark alerts sent and log them in the sent log, and record what each receiver
        was told of the stories (``told``), in one transaction. ``payloads`` replaces
        a row's payload with what was sent (a sync row's alert)."""
        with self._tx() as db:
            save_deliveries(db, told)
            for alert_id, payload in (payloads or {}).items():
                db.execute("UPDATE outbox SET payload = ? WHERE alert_id = ?", (payload, alert_id))
            for alert_id in alert_ids:
                db.execute(
                    "UPDATE outbox SET state = 'sent', updated = ?, last_error = NULL,"
                    " attempts = attempts + 1 WHERE alert_id = ?",
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

    def outbox_mute(
        self, alert_ids: Iterable[str], reason: str, at: float,
        told: Iterable[DeliveryRow] = (), payloads: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Mark rows ``muted`` (by a silence: ``reason``): done with, never sent; logged
        in the sent log like a send, so the story does not enter the outbox again."""
        with self._tx() as db:
            save_deliveries(db, told)
            for alert_id, payload in (payloads or {}).items():
                db.execute("UPDATE outbox SET payload = ? WHERE alert_id = ?", (payload, alert_id))
            for alert_id in alert_ids:
                db.execute("UPDATE outbox SET state = 'muted', updated = ?, last_error = ?"
                           " WHERE alert_id = ?", (at, reason, alert_id))  # fmt: skip
                db.execute(
                    "INSERT OR IGNORE INTO sent_alerts (alert_id, story_id, receiver, sent_at)"
                    " SELECT alert_id, story_id, receiver, ? FROM outbox WHERE alert_id = ?",
                    (at, alert_id),
                )

    def outbox_defer(
        self, alert_id: str, due: float, at: float, told: Iterable[DeliveryRow] = ()
    ) -> None:
        """Make a pending row due later, no attempt counted (a follow-up held by its cap),
        and record what was told meanwhile (an edit in place), in one transaction."""
        with self._tx() as db:
            save_deliveries(db, told)
            db.execute("UPDATE outbox SET due = ?, updated = ?, last_error = NULL"
                       " WHERE alert_id = ?", (due, at, alert_id))  # fmt: skip

    def outbox_drop(self, alert_id: str, told: Iterable[DeliveryRow] = ()) -> None:
        """Remove a sync row that had nothing to send (and record what was told)."""
        with self._tx() as db:
            save_deliveries(db, told)
            db.execute("DELETE FROM outbox WHERE alert_id = ?", (alert_id,))

    def outbox_state(self, story_id: str, receiver: str, kind: str = "alert") -> list[str]:
        """The states of the story's rows of ``kind`` for ``receiver`` (an index lookup)."""
        rows = self._all(
            "SELECT state FROM outbox WHERE story_id = ? AND receiver = ? AND kind = ?",
            (story_id, receiver, kind),
        )
        return [str(r[0]) for r in rows]

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
                "DELETE FROM outbox WHERE state IN ('sent', 'muted') AND updated < ?", (cutoff,)
            ).rowcount
