"""Silences (``monitor.alerts.silence``): kept until they have been over for a while."""

from __future__ import annotations

import json
from typing import Any

from monitor.config import Matcher
from monitor.store.db import Database

_COLUMNS = "silence_id, matchers, starts, ends, author, comment, created"


class SilenceStore(Database):
    def add_silence(self, silence: Any) -> None:
        """Record a :class:`~monitor.alerts.silence.Silence`."""
        self._write_silence("INSERT", silence)

    def put_silence(self, silence: Any) -> None:
        """Record a silence, or replace the one with its id (as a shared topic has it)."""
        self._write_silence("INSERT OR REPLACE", silence)

    def _write_silence(self, verb: str, silence: Any) -> None:
        matchers = json.dumps([[m.label, m.op, m.value] for m in silence.matchers])
        with self._tx() as db:
            db.execute(
                f"{verb} INTO silences ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (silence.silence_id, matchers, silence.starts, silence.ends, silence.author,
                 silence.comment, silence.created),
            )  # fmt: skip

    def drop_silence(self, silence_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM silences WHERE silence_id = ?", (silence_id,))

    def silences(self, ending_after: float | None = None) -> list[tuple[Any, ...]]:
        """Silences as (id, matchers, starts, ends, author, comment, created) rows, the
        newest first; only those ending after ``ending_after`` when given."""
        query = f"SELECT {_COLUMNS} FROM silences"
        args: tuple[float, ...] = ()
        if ending_after is not None:
            query, args = query + " WHERE ends > ?", (ending_after,)
        rows = self._all(query + " ORDER BY created DESC", args)
        return [(r[0], tuple(Matcher(*m) for m in json.loads(r[1])), *r[2:]) for r in rows]

    def expire_silence(self, silence_id: str, at: float) -> bool:
        """End a silence now; False if there is no such silence still running."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE silences SET ends = ? WHERE silence_id = ? AND ends > ?",
                (at, silence_id, at),
            )
            return cur.rowcount > 0

    def forget_silences_before(self, cutoff: float) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM silences WHERE ends < ?", (cutoff,)).rowcount
