"""Every daemon's view of the stories, for the web desk: ``<prefix>.stories`` followed whole.

The stories live in their owners' ``:memory:`` views (:mod:`monitor.cluster.stories`);
the desk of any daemon reads this daemon's state file. :class:`StoriesView` follows the
changelog (``read_committed``: an aborted transaction's records never show) into the
state file's stories and members tables, so ``StoryBook.get`` and
``store.story_ids_since`` see every desk's stories, whoever owns them: a story record
(``s:<id>``) replaces the row, a member record (``m:<id>:<seq>``) adds the member, a
tombstone (the story left the window) forgets it. Once the topic is read to its end,
stories the state file has and the topic no longer holds (compacted away while this
daemon was down) are forgotten. The stage's decisions in the records are the owners'
business: this view keeps the rows only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from monitor.cluster import stories_changelog as changelog
from monitor.cluster.tail import Tail
from monitor.config import BusConfig
from monitor.store import MemberRow, Store, StoryRow

log = logging.getLogger(__name__)


class StoriesView(Tail):
    def __init__(self, config: BusConfig, store: Store) -> None:
        super().__init__(config, f"{config.topic_prefix}.stories", "stories-view",
                         isolation_level="read_committed")  # fmt: skip
        self.store = store
        self._seen: set[str] = set()  # story ids read since the start of this read
        self._bad = 0

    def begin(self) -> None:
        self._seen = set()

    def apply(self, records: Sequence[Any]) -> None:
        for record in records:
            try:
                self._one(record.key.decode(), record.value)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                self._bad += 1
                if self._bad == 1 or self._bad % 1000 == 0:
                    log.warning("story_record_unreadable count=%d", self._bad)

    def _one(self, key: str, raw: bytes | None) -> None:
        kind, _, rest = key.partition(":")
        if kind == "s":
            if raw is None:
                self._seen.discard(rest)
                self.store.drop_story(rest)
                return
            row = StoryRow(*_value(raw)["row"])
            if row.story_id != rest:
                raise ValueError("key and row disagree")
            self._seen.add(rest)
            self.store.import_story(row, ())
        elif kind == "m":
            story_id, _, seq = rest.rpartition(":")
            if raw is None:
                self.store.drop_story(story_id, int(seq))
                return
            member = MemberRow(*_value(raw)["row"])
            self.store.import_member(member)
        else:
            raise ValueError(f"unknown key {key[:40]!r}")

    def loaded(self) -> None:
        gone = self.store.drop_stories_except(self._seen)
        log.info("stories_view_loaded stories=%d forgotten=%d", len(self._seen), gone)


def _value(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict) or value.get("v") != changelog.VERSION:
        raise ValueError("unknown version")
    return value
