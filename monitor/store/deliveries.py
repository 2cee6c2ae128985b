"""What each receiver has been told of each story (``monitor.alerts``): the
receiver's reference to the story's first message (its thread), the story version
that message shows and the version the last follow-up told; and the escalations
decided, once per story per route."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.store.db import Database


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    story_id: str
    receiver: str
    thread: tuple[tuple[str, str], ...]  # e.g. (("channel", "C1"), ("ts", "17.2"))
    shown: int  # the story version the first message shows (edited in place since)
    shown_at: float
    told: int  # the story version the last message about it (post or follow-up) told
    told_at: float
    followed_at: float = 0.0  # when its last follow-up went (0: none yet)


@dataclass(frozen=True, slots=True)
class EscalationRow:
    story_id: str
    route: str  # the route node's path in the tree ("0.1")
    version: int
    severity: str
    outlets: int
    within: float
    at: float


_DELIVERY = "story_id, receiver, thread, shown, shown_at, told, told_at, followed_at"
_ESCALATION = "story_id, route, version, severity, outlets, within, at"


def save_deliveries(db: sqlite3.Connection, rows: Iterable[DeliveryRow]) -> None:
    """Upsert inside the caller's transaction (the one that marks the sends done)."""
    db.executemany(
        f"INSERT OR REPLACE INTO deliveries ({_DELIVERY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ((r.story_id, r.receiver, json.dumps(dict(r.thread)), r.shown, r.shown_at, r.told,
          r.told_at, r.followed_at) for r in rows),
    )  # fmt: skip


def _delivery(row: tuple[Any, ...]) -> DeliveryRow:
    story_id, receiver, thread, shown, shown_at, told, told_at, followed_at = row
    ref = tuple(sorted(json.loads(thread).items()))
    return DeliveryRow(story_id, receiver, ref, shown, shown_at, told, told_at, followed_at)


class DeliveryStore(Database):
    def delivery(self, story_id: str, receiver: str) -> DeliveryRow | None:
        row = self._one(
            f"SELECT {_DELIVERY} FROM deliveries WHERE story_id = ? AND receiver = ?",
            (story_id, receiver),
        )
        return _delivery(row) if row else None

    def deliveries(self, story_id: str) -> list[DeliveryRow]:
        rows = self._all(
            f"SELECT {_DELIVERY} FROM deliveries WHERE story_id = ? ORDER BY receiver",
            (story_id,),
        )
        return [_delivery(r) for r in rows]

    def deliveries_to(self, receivers: Iterable[str]) -> list[DeliveryRow]:
        """What these receivers were told of every story."""
        names = list(receivers)
        marks = ", ".join("?" for _ in names)
        rows = self._all(f"SELECT {_DELIVERY} FROM deliveries WHERE receiver IN ({marks})", names)
        return [_delivery(r) for r in rows]

    def import_deliveries(self, rows: Iterable[DeliveryRow]) -> None:
        """What receivers were told, as another owner left it (replaced whole)."""
        with self._tx() as db:
            save_deliveries(db, rows)

    def record_escalation(self, row: EscalationRow) -> bool:
        """Record a story's escalation on a route; False if it was already recorded."""
        with self._tx() as db:
            cur = db.execute(
                f"INSERT OR IGNORE INTO escalations ({_ESCALATION}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.story_id, row.route, row.version, row.severity, row.outlets, row.within,
                 row.at),
            )  # fmt: skip
            return cur.rowcount > 0

    def escalations(self, story_id: str) -> list[EscalationRow]:
        rows = self._all(
            f"SELECT {_ESCALATION} FROM escalations WHERE story_id = ? ORDER BY at",
            (story_id,),
        )
        return [EscalationRow(*r) for r in rows]

    def forget_deliveries_before(self, story_ids: Iterable[str]) -> None:
        """Drop what receivers were told of stories that left the window."""
        ids = [(s,) for s in story_ids]
        with self._tx() as db:
            db.executemany("DELETE FROM deliveries WHERE story_id = ?", ids)
            db.executemany("DELETE FROM escalations WHERE story_id = ?", ids)
