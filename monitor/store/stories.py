"""Stories (``monitor.dedup``): each story's row, its members and the exact keys that
point at it. ``last_seen`` of a row is when the story last changed on the processing
clock: what the window forgets by. The JSON ``data`` is owned by monitor.dedup."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.store.db import Database


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story as stored: its signatures (version 1 rows) and its JSON ``data``."""

    story_id: str
    created: float
    last_seen: float
    title_sig: str
    lead_sig: str
    data: str


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One member of a story: its place in join order, its item id and link key, its
    JSON ``data`` (the match and why it joined)."""

    story_id: str
    seq: int
    item_id: str
    link_key: str | None
    data: str


_STORY_COLUMNS = ", ".join(StoryRow.__dataclass_fields__)
_MEMBER_COLUMNS = ", ".join(MemberRow.__dataclass_fields__)


class StoryStore(Database):
    # -- stories (monitor.dedup) ------------------------------------------------

    def story_for_keys(self, keys: Iterable[str]) -> str | None:
        """The story any of the exact ``keys`` belongs to, if any."""
        keys = list(keys)
        marks = ", ".join("?" for _ in keys)
        row = self._one(f"SELECT story_id FROM story_keys WHERE key IN ({marks}) LIMIT 1", keys)
        return str(row[0]) if row else None

    def story(self, story_id: str) -> StoryRow | None:
        row = self._one(f"SELECT {_STORY_COLUMNS} FROM stories WHERE story_id = ?", (story_id,))
        return StoryRow(*row) if row else None

    def stories_since(self, cutoff: float) -> list[StoryRow]:
        rows = self._all(
            f"SELECT {_STORY_COLUMNS} FROM stories WHERE last_seen >= ? ORDER BY last_seen",
            (cutoff,),
        )
        return [StoryRow(*row) for row in rows]

    def story_ids_since(self, cutoff: float) -> list[str]:
        """The ids of the stories changed at or after ``cutoff``, the latest change
        first, no data read (the web UI's list)."""
        rows = self._all(
            "SELECT story_id FROM stories WHERE last_seen >= ? ORDER BY last_seen DESC",
            (cutoff,),
        )
        return [str(r[0]) for r in rows]

    def stories_changed(self) -> tuple[int, float]:
        """How many stories are kept and when one last changed (processing clock): a
        list of them is unchanged while both are (the web UI's live refresh)."""
        row = self._one("SELECT count(*), max(last_seen) FROM stories")
        count, last = row
        return int(count), float(last or 0.0)

    def story_members(self, story_id: str) -> list[MemberRow]:
        """A story's members in join order."""
        rows = self._all(
            f"SELECT {_MEMBER_COLUMNS} FROM story_members WHERE story_id = ? ORDER BY seq",
            (story_id,),
        )
        return [MemberRow(*row) for row in rows]

    def members_since(self, cutoff: float) -> list[MemberRow]:
        """The members of the stories changed at or after ``cutoff``, story by story."""
        rows = self._all(
            f"SELECT {', '.join('m.' + c for c in MemberRow.__dataclass_fields__)}"
            " FROM story_members m JOIN stories s ON s.story_id = m.story_id"
            " WHERE s.last_seen >= ? ORDER BY s.last_seen, m.story_id, m.seq",
            (cutoff,),
        )
        return [MemberRow(*row) for row in rows]

    def story_member(self, story_id: str, seq: int) -> MemberRow | None:
        row = self._one(
            f"SELECT {_MEMBER_COLUMNS} FROM story_members WHERE story_id = ? AND seq = ?",
            (story_id, seq),
        )
        return MemberRow(*row) if row else None

    def import_story(self, story: StoryRow, members: Iterable[MemberRow]) -> None:
        """A story and its members as exported elsewhere (a changelog), in one
        transaction; its exact keys are the dedup stage's to index (``StoryBook.load``)."""
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO stories ({_STORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (story.story_id, story.created, story.last_seen, story.title_sig,
                 story.lead_sig, story.data),
            )  # fmt: skip
            db.executemany(
                f"INSERT OR REPLACE INTO story_members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                ((m.story_id, m.seq, m.item_id, m.link_key, m.data) for m in members),
            )

    def import_member(self, member: MemberRow) -> None:
        """One member as exported elsewhere (a changelog record of its own)."""
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO story_members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (member.story_id, member.seq, member.item_id, member.link_key, member.data),
            )

    def drop_story(self, story_id: str, seq: int | None = None) -> None:
        """Forget a story with its members and keys (``seq``: only that member)."""
        with self._tx() as db:
            if seq is not None:
                db.execute("DELETE FROM story_members WHERE story_id = ? AND seq = ?",
                           (story_id, seq))  # fmt: skip
                return
            for table in ("story_keys", "story_members", "stories"):
                db.execute(f"DELETE FROM {table} WHERE story_id = ?", (story_id,))

    def drop_stories_except(self, keep: set[str]) -> int:
        """Forget every story not in ``keep`` (a changelog read whole: what it no longer
        holds); returns how many."""
        with self._lock:
            ids = [str(r[0]) for r in self._db.execute("SELECT story_id FROM stories")]
        gone = [sid for sid in ids if sid not in keep]
        for sid in gone:
            self.drop_story(sid)
        with self._tx() as db:  # members whose story record never came
            db.execute("DELETE FROM story_members WHERE story_id NOT IN"
                       " (SELECT story_id FROM stories)")  # fmt: skip
        return len(gone)

    def find_member(self, item_id: str, link_key: str | None = None) -> MemberRow | None:
        """The latest member with this item id, else with this link key."""
        with self._lock:
            for column, value in (("item_id", item_id), ("link_key", link_key)):
                if value is None:
                    continue
                row = self._db.execute(
                    f"SELECT {_MEMBER_COLUMNS} FROM story_members WHERE {column} = ?"
                    " ORDER BY rowid DESC LIMIT 1",
                    (value,),
                ).fetchone()
                if row:
                    return MemberRow(*row)
        return None

    def save_story(
        self, story: StoryRow, keys: Iterable[str], member: MemberRow | None = None
    ) -> None:
        """Insert or update a story, add its new member and point its exact keys at it,
        in one transaction."""
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO stories ({_STORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (story.story_id, story.created, story.last_seen, story.title_sig,
                 story.lead_sig, story.data),
            )  # fmt: skip
            if member is not None:
                db.execute(
                    f"INSERT OR REPLACE INTO story_members ({_MEMBER_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?)",
                    (member.story_id, member.seq, member.item_id, member.link_key, member.data),
                )
            db.executemany(
                "INSERT OR REPLACE INTO story_keys (key, story_id, last_seen) VALUES (?, ?, ?)",
                ((k, story.story_id, story.last_seen) for k in keys),
            )

    def forget_stories_before(self, cutoff: float) -> int:
        """Drop stories (their members and keys) last seen before ``cutoff``; returns how many."""
        with self._tx() as db:
            db.execute("DELETE FROM story_keys WHERE last_seen < ?", (cutoff,))
            db.execute(
                "DELETE FROM story_members WHERE story_id IN"
                " (SELECT story_id FROM stories WHERE last_seen < ?)",
                (cutoff,),
            )
            return db.execute("DELETE FROM stories WHERE last_seen < ?", (cutoff,)).rowcount
