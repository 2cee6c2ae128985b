"""The outbox's export and import: a changelog elsewhere keeps the rows
(``monitor.cluster``), and each owner's local outbox is a view of it."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.store.db import Database
from monitor.store.outbox import _MARKS, _OUTBOX_COLUMNS, OutboxRow, _outbox_values


class OutboxExportStore(Database):
    def outbox_rows(self, alert_ids: Iterable[str]) -> dict[str, OutboxRow]:
        """The rows of ``alert_ids`` as they stand (those that exist), by id."""
        found: dict[str, OutboxRow] = {}
        with self._lock:
            for alert_id in alert_ids:
                row = self._db.execute(
                    f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE alert_id = ?", (alert_id,)
                ).fetchone()
                if row:
                    found[alert_id] = OutboxRow(*row)
        return found

    def outbox_receivers_rows(self, receivers: Iterable[str]) -> list[OutboxRow]:
        """Every row of these receivers, whatever its state."""
        names = list(receivers)
        marks = ", ".join("?" for _ in names)
        rows = self._all(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE receiver IN ({marks})", names)
        return [OutboxRow(*row) for row in rows]

    def outbox_import(self, rows: Iterable[OutboxRow]) -> None:
        """Rows as another owner left them: replaced whole, and the sent or muted ones
        logged in the sent log (so they never enter the outbox again)."""
        with self._tx() as db:
            for r in rows:
                db.execute(f"INSERT OR REPLACE INTO outbox ({_OUTBOX_COLUMNS}) VALUES ({_MARKS})",
                           _outbox_values(r))  # fmt: skip
                if r.state in ("sent", "muted"):
                    db.execute(
                        "INSERT OR IGNORE INTO sent_alerts (alert_id, story_id, receiver,"
                        " sent_at) VALUES (?, ?, ?, ?)",
                        (r.alert_id, r.story_id, r.receiver, r.updated),
                    )

    def outbox_forget_stories(self, story_ids: Iterable[str]) -> None:
        """Drop every row of these stories (a view of stories that left the window)."""
        with self._tx() as db:
            db.executemany("DELETE FROM outbox WHERE story_id = ?", ((s,) for s in story_ids))
