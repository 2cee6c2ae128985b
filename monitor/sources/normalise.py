"""Turn feedparser's output into :class:`~monitor.model.Item` records (pure).

feedparser hands back whatever the feed said: HTML in titles, tracking links,
relative URLs, dates in any zone or in the future. Everything downstream (rules,
dedup, alerts) wants plain text, one canonical link and UTC times, so this module
is the one place that decides how a raw entry becomes an ``Item``.

Decisions worth knowing:

* ``id``: see :mod:`monitor.sources.ids` (GUID as written, else the canonical
  link, else a hash; fragments kept only where they tell items apart; duplicate
  ids disambiguated). A GUID is the link only when it is an absolute http(s) URL
  (RSS ``isPermaLink`` defaults to true, so feedparser copies ``dw-4411`` there).
* ``published``: the first of ``published``, ``updated``, ``created`` read
  exactly by :func:`~monitor.sources.dates.read_date`, else the best flagged
  reading (its flag goes to ``Item.date_flag``): never a date made up.
* Text: plain text (:mod:`monitor.sources.text`); links canonical
  (:mod:`monitor.sources.links`).
* Only new items are finished: ``known`` holds digests of the ids of the items
  of the feed's previous body (all seen); an entry whose id is among them costs
  its id only (title, link, date), not its summary or language, and is left out.

The input is a ``feedparser.parse`` result or anything shaped like one (the JSON
Feed reader builds one): ``feed`` (title, title_detail, language, ttl) and
``entries`` (title, title_detail, summary, summary_detail, content, link, id,
published, updated, created, language), links resolved against ``xml:base``
only (not the feed's URL), ids as written, dates as the feed wrote them.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeGuard

from monitor.config import FeedConfig
from monitor.model import Item
from monitor.sources.dates import FUTURE_SLACK, DateReading, read_date
from monitor.sources.ids import MAX_GUID, assign_ids, fragments_matter, item_id, without_fragment
from monitor.sources.links import canonical_link
from monitor.sources.text import CONTROLS, plain_text

__all__ = [
    "FUTURE_SLACK",
    "MAX_GUID",
    "MAX_SUMMARY",
    "MAX_TITLE",
    "ParsedFeed",
    "canonical_link",
    "id_digest",
    "item_id",
    "normalise",
    "plain_text",
]

MAX_TITLE = 1_000
MAX_SUMMARY = 10_000
MAX_TTL = 7 * 24 * 3600.0

_DATE_KEYS = ("published", "updated", "created")


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One parsed feed body: the feed's own facts and its items, all picklable."""

    title: str | None  # the feed's own title (plain text)
    language: str | None
    ttl: float | None  # RSS <ttl>, converted to seconds
    items: tuple[Item, ...]
    bozo: str | None  # why the document was found ill-formed, if it was
    duplicate_ids: int = 0  # entries whose shared id was disambiguated (monitor.sources.ids)
    renamed: tuple[str, ...] = ()  # the ids of ``items`` so disambiguated
    truncated: int = 0  # entries left unread: the body had more than max_items
    skipped: int = 0  # entries left out as known (``known``): seen in the previous body
    known: bytes = b""  # id digests (:func:`id_digest`) of every item of this body


class _Draft(NamedTuple):
    """One entry's facts before its id is chosen (that depends on the whole feed)."""

    title: str
    summary: str | None  # None: not read yet (it is read only for a new item)
    guid: str | None
    link: str | None  # canonical, fragment kept
    entry: Mapping[str, Any]


class _Ided(NamedTuple):
    """What an id depends on (:func:`~monitor.sources.ids.assign_ids`)."""

    id: str
    title: str
    link: str | None
    published: datetime | None
    date_flag: str | None


Dated = tuple[DateReading, str]  # an entry's date, and the text it was read from (if flagged)


def normalise(
    parsed: Mapping[str, Any],
    feed: FeedConfig,
    *,
    seen: datetime,
    bozo: str | None = None,
    base: str | None = None,
    known: bytes = b"",
    truncated: int = 0,
) -> ParsedFeed:
    """Build a :class:`ParsedFeed` from a ``feedparser.parse``-shaped result.

    Relative links resolve against ``base``, else the feed's URL. Entries whose
    id digest is in ``known`` are left out (counted in ``skipped``)."""
    head: Mapping[str, Any] = parsed.get("feed") or {}
    title = plain_text(head.get("title"), MAX_TITLE, _is_plain(head.get("title_detail"))) or None
    language = _language(head.get("language"))
    source = title or feed.name
    base = base or feed.base
    drafts = [
        draft
        for entry in parsed.get("entries") or ()
        if _is_mapping(entry) and (draft := _draft(entry, base)) is not None
    ]
    fragments = fragments_matter(d.link for d in drafts)
    links = [d.link if fragments or d.link is None else without_fragment(d.link) for d in drafts]
    dates: list[Dated | None] = [None] * len(drafts)  # read only where something needs them
    kept, renamed = assign_ids(_ids(drafts, links, dates, seen))
    seen_before = {known[k : k + 8] for k in range(0, len(known), 8)}
    digests, items = [], []
    for index, new_id in kept:
        digest = id_digest(new_id)
        digests.append(digest)
        if digest not in seen_before:
            dated = dates[index] or _published(drafts[index].entry, seen)
            items.append(_item(drafts[index], dated[0], new_id, links[index], feed, source,
                               language, seen))  # fmt: skip
    renamed_here = tuple(i.id for i in items if i.id in renamed)
    ttl, skipped = _ttl(head.get("ttl")), len(kept) - len(items)
    return ParsedFeed(title, language, ttl, tuple(items), bozo, len(renamed), renamed_here,
                      truncated, skipped, b"".join(digests))  # fmt: skip


def id_digest(item_id: str) -> bytes:
    """8 bytes standing for an item id, the same in every process (a collision, odds
    2^-64 per pair, would skip a new item as known)."""
    return hashlib.blake2b(item_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _draft(entry: Mapping[str, Any], base: str) -> _Draft | None:
    """One entry's facts, or None if it has no title, link or summary."""
    title = plain_text(entry.get("title"), MAX_TITLE, _is_plain(entry.get("title_detail")))
    guid = _text(entry.get("id")).strip().translate(CONTROLS) or None
    link = canonical_link(_link_source(entry, guid), base=base, fragment=True)
    summary = None if title or link else _summary(entry)
    if not (title or link or summary):
        return None
    return _Draft(title, summary, guid, link, entry)


def _ids(drafts: list[_Draft], links: list[str | None], dates: list[Dated | None],
         seen: datetime) -> list[_Ided]:  # fmt: skip
    """Each entry's id and what its disambiguation reads. An entry's date is read
    (into ``dates``) only where it counts: an id made from it (no GUID, no link),
    or an id that another entry shares (the earliest keeps it)."""
    ids = []
    for index, (draft, link) in enumerate(zip(drafts, links, strict=True)):
        if draft.guid or link:  # the id is the GUID or the link, whatever the date
            ids.append(item_id(draft.guid, link, draft.title, None))
            continue
        dated = dates[index] = _published(draft.entry, seen)
        exact = dated[0].when if dated[0].flag is None else None
        ids.append(item_id(draft.guid, link, draft.title, exact, dated[1]))
    shared = {i for i, n in Counter(ids).items() if n > 1}
    out = []
    for index, (draft, link, new_id) in enumerate(zip(drafts, links, ids, strict=True)):
        reading = DateReading(None, None)
        if new_id in shared:
            dated = dates[index] = dates[index] or _published(draft.entry, seen)
            reading = dated[0]
        out.append(_Ided(new_id, draft.title, link, reading.when, reading.flag))
    return out


def _item(
    draft: _Draft,
    date: DateReading,
    new_id: str,
    link: str | None,
    feed: FeedConfig,
    source: str,
    language: str | None,
    seen: datetime,
) -> Item:
    return Item(
        id=new_id,
        feed_url=feed.url,
        feed=feed.name,
        source=source,
        title=draft.title,
        summary=_summary(draft.entry) if draft.summary is None else draft.summary,
        link=link,
        published=date.when,
        seen=seen,
        language=_language(_entry_language(draft.entry)) or language,
        guid=draft.guid,
        date_flag=date.flag,
    )


def _summary(entry: Mapping[str, Any]) -> str:
    raw, plain = _summary_source(entry)
    return plain_text(raw, MAX_SUMMARY, plain)


def _summary_source(entry: Mapping[str, Any]) -> tuple[str, bool]:
    """The entry's summary, else its first content, and whether it is plain text."""
    if entry.get("summary"):
        return _text(entry["summary"]), _is_plain(entry.get("summary_detail"))
    for content in entry.get("content") or ():
        if _is_mapping(content) and content.get("value"):
            return _text(content["value"]), _is_plain(content)
    return "", True


def _link_source(entry: Mapping[str, Any], guid: str | None) -> str:
    """The entry's link, unless feedparser copied a GUID that is not an absolute
    http(s) URL into it (RSS ``isPermaLink`` defaults to true, so
    ``<guid>dw-4411</guid>`` would otherwise become ``https://feed.host/dw-4411``)."""
    link = _text(entry.get("link")).strip()
    copied = entry.get("guidislink") is True or (guid and link.translate(CONTROLS) == guid)
    return "" if copied and not _is_absolute(link) else link


def _is_absolute(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _published(entry: Mapping[str, Any], seen: datetime) -> Dated:
    """The entry's date (see the module docstring) and the text it was read from."""
    best: tuple[DateReading, str] | None = None
    for key in _DATE_KEYS:
        text = entry[key] if key in entry else None  # noqa: SIM401 (`in`: no #310 warning)
        reading = read_date(text, seen)
        if reading.when is None:
            continue
        if reading.flag is None:
            return reading, ""
        if best is None or _rank(reading) < _rank(best[0]):
            best = reading, str(text).strip()
    return best or (DateReading(None, None), "")


def _rank(reading: DateReading) -> int:
    """Flagged readings, best first: a date without time or zone still dates the item."""
    return 0 if reading.flag in ("date_only", "no_zone") else 1


def _entry_language(entry: Mapping[str, Any]) -> Any:
    if entry.get("language"):
        return entry["language"]
    for key in ("title_detail", "summary_detail"):
        detail = entry.get(key)
        if _is_mapping(detail) and detail.get("language"):
            return detail["language"]
    return None


def _language(value: Any) -> str | None:
    text = _text(value).strip().lower().replace("_", "-")
    return text[:35] if text else None


def _ttl(value: Any) -> float | None:
    """RSS ``<ttl>`` is in minutes; return seconds, or None when absent or absurd."""
    try:
        minutes = float(_text(value).strip())
    except ValueError:
        return None
    if not math.isfinite(minutes) or minutes <= 0:
        return None
    return min(minutes * 60.0, MAX_TTL)


def _is_plain(detail: Any) -> bool:
    return _is_mapping(detail) and detail.get("type") == "text/plain"


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, the common case (a dict) tried first, without
    the ABC's cost."""
    return isinstance(value, (dict, Mapping))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
