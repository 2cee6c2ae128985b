"""The outbox as people read it (``monitor.web``, ``newsmon stories``): a story's rows,
a page of the latest, one row, the counts per state, the receivers of stories."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.store.db import Database
from monitor.store.outbox import _OUTBOX_COLUMNS, OutboxRow


class OutboxPageStore(Database):
    def outbox_for_story(self, story_id: str) -> list[OutboxRow]:
        """Every row of one story, oldest first (the audit, the UI)."""
        rows = self._all(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE story_id = ? ORDER BY created",
            (story_id,),
        )
        return [OutboxRow(*row) for row in rows]

    def outbox_recent(
        self, states: Iterable[str], receiver: str | None = None, limit: int = 200
    ) -> list[OutboxRow]:
        """At most ``limit`` rows in ``states`` (of ``receiver``), the latest updated
        first: a page of the outbox for the web UI."""
        wanted = list(states)
        query = (f"SELECT {_OUTBOX_COLUMNS} FROM outbox"
                 f" WHERE state IN ({', '.join('?' for _ in wanted)})")  # fmt: skip
        args: list[object] = [*wanted]
        if receiver is not None:
            query += " AND receiver = ?"
            args.append(receiver)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY updated DESC LIMIT ?", [*args, limit])
            return [OutboxRow(*row) for row in rows.fetchall()]

    def outbox_row(self, alert_id: str) -> OutboxRow | None:
        row = self._one(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE alert_id = ?", (alert_id,))
        return OutboxRow(*row) if row else None

    def outbox_counts(self) -> dict[str, int]:
        """Rows per state (an index scan), and ``failing``: the pending rows whose
        last attempt failed (being retried)."""
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
            failing = self._db.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts > 0"
                " AND last_error IS NOT NULL"
            ).fetchone()[0]
        return {**{str(state): int(n) for state, n in rows}, "failing": int(failing)}

    def outbox_receivers(self, story_ids: Iterable[str]) -> dict[str, set[str]]:
        """The receivers each story entered the outbox of (index lookups)."""
        found: dict[str, set[str]] = {}
        ids = list(story_ids)
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                for story_id, receiver in self._db.execute(
                    f"SELECT DISTINCT story_id, receiver FROM outbox WHERE story_id IN ({marks})",
                    chunk,
                ):
                    found.setdefault(str(story_id), set()).add(str(receiver))
        return found
