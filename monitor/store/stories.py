"""Stories (``monitor.dedup``): each story's row and the exact keys that point at it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.store.db import Database


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story as stored: its signatures and its JSON ``data`` (owned by monitor.dedup)."""

    story_id: str
    created: float
    last_seen: float
    title_sig: str
    lead_sig: str
    data: str


_STORY_COLUMNS = ", ".join(StoryRow.__dataclass_fields__)


class StoryStore(Database):
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
