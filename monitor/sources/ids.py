"""Item ids within one feed (pure): the id of an entry, when a link's fragment
counts, and what to do when two different entries share an id.

* **The id** is the GUID as the feed wrote it (never resolved against the
  feed's URL), else the canonical link, else ``"h:" + sha256(title, date)``.
  GUIDs longer than ``MAX_GUID`` are hashed (``"g:" + sha256``).
* **Fragments** (``#...``) are noise in most feeds (``#comments``, ``#more``)
  and are dropped from links, except in a feed whose items differ only by them:
  when two of its links are the same page with different fragments (a
  scripting.com-style feed: 48 posts, one page per day, one anchor per post),
  every link of that feed keeps its fragment. Decided per feed, from the items
  of each body, never per host.
* **Duplicate ids**: when entries with different titles or links share an id
  (real feeds repeat a GUID), both are kept. The one dated earliest (else the
  last in the document: the oldest, in a newest-first feed) keeps the id, so an
  item seen before keeps its identity; each other gets ``id + "#" + sha256(title,
  link)[:16]``, the same on every poll. Entries with the same id, title and link
  are one item (Atom revisions of one entry, or a copy): the one kept is chosen
  as above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from monitor.model import Item

__all__ = [
    "MAX_GUID",
    "assign_ids",
    "disambiguate",
    "fragments_matter",
    "item_id",
    "without_fragment",
]

MAX_GUID = 512
_NEVER = datetime.max.replace(tzinfo=None)


def item_id(
    guid: str | None,
    link: str | None,
    title: str,
    published: datetime | None,
    date_text: str = "",
) -> str:
    """The id of one entry (see the module docstring). ``published`` is an exact
    date, else None and ``date_text`` what the feed wrote, so that the hash stays
    the same on every poll."""
    if guid:
        return guid if len(guid) <= MAX_GUID else "g:" + _sha256(guid)
    if link:
        return link
    when = published.isoformat() if published else date_text
    return "h:" + _sha256(title + "\x00" + when)


def without_fragment(link: str) -> str:
    return link.partition("#")[0]


def fragments_matter(links: Iterable[str | None]) -> bool:
    """True when two of ``links`` are one page with different fragments."""
    pages: dict[str, str] = {}
    for link in links:
        if link is None:
            continue
        page = without_fragment(link)
        if pages.setdefault(page, link) != link:
            return True
    return False


class Entry(Protocol):
    """What an id's disambiguation looks at (an Item has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def published(self) -> datetime | None: ...
    @property
    def date_flag(self) -> str | None: ...


def disambiguate(items: Sequence[Item]) -> tuple[list[Item], list[str]]:
    """``items`` with unique ids, and the new ids given."""
    kept, renamed = assign_ids(items)
    out = [items[i] if items[i].id == new else replace(items[i], id=new) for i, new in kept]
    return out, renamed


def assign_ids(entries: Sequence[Entry]) -> tuple[list[tuple[int, str]], list[str]]:
    """(index, unique id) of each entry kept, in order, and the new ids given."""
    groups: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(entry.id, []).append(index)
    ids: list[str | None] = [e.id for e in entries]
    renamed: list[str] = []
    for shared, indexes in groups.items():
        if len(indexes) < 2:
            continue
        keeper = min(indexes, key=lambda i: (_exact_date(entries[i]), -i))
        kept = {_digest(entries[keeper])}
        for index in indexes:
            digest = _digest(entries[index])
            if index == keeper:
                continue
            if digest in kept:
                ids[index] = None  # the same entry again
                continue
            kept.add(digest)
            ids[index] = f"{shared}#{digest[:16]}"
            renamed.append(f"{shared}#{digest[:16]}")
    return [(i, new) for i, new in enumerate(ids) if new is not None], renamed


def _exact_date(item: Entry) -> datetime:
    if item.published is None or item.date_flag is not None:
        return _NEVER
    return item.published.replace(tzinfo=None)


def _digest(item: Entry) -> str:
    return _sha256(item.title + "\x00" + (item.link or ""))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
