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
* Text: HTML is stripped with w3lib, except ``<script>``/``<style>`` content,
  which is cut by a linear scan (``w3lib.html.remove_tags_with_content`` is
  quadratic on many unclosed ``<script>`` tags: 3.4 s for 64 KB). Control
  characters go (:data:`CONTROLS`): C0 and DEL; C1, which in feed text is
  Windows-1252 read as Latin-1, becomes the Windows-1252 character (``\x92`` ->
  ``'``); bidi embeddings, overrides and isolates (U+202A-U+202E,
  U+2066-U+2069), which can make a title display as another; zero-width space,
  word joiner, BOM and soft hyphen, which would hide ``S-400`` from a rule; lone
  surrogates, which no encoder takes. Left alone: LRM/RLM/ALM marks, and
  ZWJ/ZWNJ, which Persian, Indic scripts and emoji need.

The input is a ``feedparser.parse`` result or anything shaped like one (the JSON
Feed reader builds one): ``feed`` (title, title_detail, language, ttl) and
``entries`` (title, title_detail, summary, summary_detail, content, link, id,
published, updated, created, language), links resolved against ``xml:base``
only (not the feed's URL), ids as written, dates as the feed wrote them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from w3lib.html import remove_comments, remove_tags, replace_entities, replace_tags
from w3lib.url import safe_url_string, url_query_cleaner

from monitor.config import FeedConfig
from monitor.model import Item
from monitor.sources.dates import FUTURE_SLACK, DateReading, read_date
from monitor.sources.ids import (
    MAX_GUID,
    disambiguate,
    fragments_matter,
    item_id,
    without_fragment,
)

__all__ = [
    "FUTURE_SLACK",
    "MAX_GUID",
    "MAX_SUMMARY",
    "MAX_TITLE",
    "ParsedFeed",
    "canonical_link",
    "item_id",
    "normalise",
    "plain_text",
]

MAX_TITLE = 1_000
MAX_SUMMARY = 10_000
MAX_HTML_IN = 100_000  # longest markup handed to the stripper, characters
MAX_TTL = 7 * 24 * 3600.0

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
        "yclid", "_hsenc", "_hsmi", "igshid", "ref_src", "ref_url", "mkt_tok", "_ga",
        "oly_anon_id", "oly_enc_id", "vero_id", "spm", "cmpid", "ncid", "ocid",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "__hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCRIPT_OPEN = re.compile(r"<(script|style)\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_INLINE = (
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
)  # fmt: skip
_DATE_KEYS = ("published", "updated", "created")


def _controls() -> dict[int, str | None]:
    """The str.translate table of the control characters text loses (module doc)."""
    table: dict[int, str | None] = {c: None for c in range(0x20) if chr(c) not in "\t\n\r"}
    table[0x7F] = None
    for c in range(0x80, 0xA0):
        char = bytes([c]).decode("cp1252", "ignore")
        table[c] = char or None
    for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x2060, 0xFEFF, 0xAD):
        table[c] = None
    for c in range(0xD800, 0xE000):
        table[c] = None
    return table


CONTROLS = _controls()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """One parsed feed body: the feed's own facts and its items, all picklable."""

    title: str | None  # the feed's own title (plain text)
    language: str | None
    ttl: float | None  # RSS <ttl>, converted to seconds
    items: tuple[Item, ...]
    bozo: str | None  # why the document was found ill-formed, if it was
    duplicate_ids: int = 0  # items whose shared id was disambiguated (monitor.sources.ids)


class _Draft(NamedTuple):
    """One entry's facts before its id is chosen (that depends on the whole feed)."""

    title: str
    summary: str
    guid: str | None
    link: str | None  # canonical, fragment kept
    date: DateReading
    date_text: str
    language: str | None


def normalise(
    parsed: Mapping[str, Any],
    feed: FeedConfig,
    *,
    seen: datetime,
    bozo: str | None = None,
    base: str | None = None,
) -> ParsedFeed:
    """Build a :class:`ParsedFeed` from a ``feedparser.parse``-shaped result.

    Relative links resolve against ``base``, else the feed's URL."""
    head: Mapping[str, Any] = parsed.get("feed") or {}
    title = plain_text(head.get("title"), MAX_TITLE, _is_plain(head.get("title_detail"))) or None
    language = _language(head.get("language"))
    source = title or feed.name
    base = base or feed.base
    drafts = [
        draft
        for entry in parsed.get("entries") or ()
        if isinstance(entry, Mapping) and (draft := _draft(entry, base, seen)) is not None
    ]
    fragments = fragments_matter(d.link for d in drafts)
    items = [_item(d, feed, source, language, seen, fragments) for d in drafts]
    unique, renamed = disambiguate(items)
    return ParsedFeed(title, language, _ttl(head.get("ttl")), tuple(unique), bozo, renamed)


def _draft(entry: Mapping[str, Any], base: str, seen: datetime) -> _Draft | None:
    """One entry's facts, or None if it has no title, link or summary."""
    title = plain_text(entry.get("title"), MAX_TITLE, _is_plain(entry.get("title_detail")))
    raw_summary, plain_summary = _summary_source(entry)
    summary = plain_text(raw_summary, MAX_SUMMARY, plain_summary)
    guid = _text(entry.get("id")).strip().translate(CONTROLS) or None
    link = canonical_link(_link_source(entry, guid), base=base, fragment=True)
    if not (title or link or summary):
        return None
    date, date_text = _published(entry, seen)
    language = _language(_entry_language(entry))
    return _Draft(title, summary, guid, link, date, date_text, language)


def _item(
    draft: _Draft,
    feed: FeedConfig,
    source: str,
    language: str | None,
    seen: datetime,
    fragments: bool,
) -> Item:
    link = draft.link if fragments or draft.link is None else without_fragment(draft.link)
    exact = draft.date.when if draft.date.flag is None else None
    return Item(
        id=item_id(draft.guid, link, draft.title, exact, draft.date_text),
        feed_url=feed.url,
        feed=feed.name,
        source=source,
        title=draft.title,
        summary=draft.summary,
        link=link,
        published=draft.date.when,
        seen=seen,
        language=draft.language or language,
        guid=draft.guid,
        date_flag=draft.date.flag,
    )


def canonical_link(raw: str | None, *, base: str = "", fragment: bool = False) -> str | None:
    """The canonical http(s) form of ``raw`` (resolved against ``base``), else None.

    Lower-cases scheme and host, drops the default port, known tracking
    parameters and (unless ``fragment``) the fragment, keeps every other query
    parameter in its order."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        url = safe_url_string(urljoin(base, raw) if base else raw)
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        kept = parts.fragment if fragment else ""
        drop = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if _is_tracking(k)]
        parts = urlsplit(url_query_cleaner(url, drop, remove=True, unique=False))
        netloc = parts.netloc
        if parts.port == _DEFAULT_PORTS[parts.scheme]:
            netloc = netloc.rsplit(":", 1)[0]
    except ValueError:  # bad port, bad IPv6 literal, bad IDNA label
        return None
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, kept))


def plain_text(value: Any, limit: int, plain: bool = False) -> str:
    """Text without markup: script/style cut, tags stripped, entities decoded,
    whitespace folded, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = _text(value)[:MAX_HTML_IN]
    if not plain:
        text = remove_tags(remove_comments(_drop_script_style(text)), which_ones=_INLINE)
        text = replace_entities(replace_tags(text, " "))  # block tags separate words
    text = _SPACE.sub(" ", text.translate(CONTROLS)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _drop_script_style(html: str) -> str:
    """Remove <script>/<style> elements with their content, in linear time."""
    lower = html.lower()
    out: list[str] = []
    pos = 0
    while (m := _SCRIPT_OPEN.search(html, pos)) is not None:
        out.append(html[pos : m.start()])
        close = lower.find("</" + m.group(1).lower(), m.end())
        end = html.find(">", close) if close >= 0 else -1
        pos = len(html) if end < 0 else end + 1
    out.append(html[pos:])
    return "".join(out)


def _summary_source(entry: Mapping[str, Any]) -> tuple[str, bool]:
    """The entry's summary, else its first content, and whether it is plain text."""
    if entry.get("summary"):
        return _text(entry["summary"]), _is_plain(entry.get("summary_detail"))
    for content in entry.get("content") or ():
        if isinstance(content, Mapping) and content.get("value"):
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


def _published(entry: Mapping[str, Any], seen: datetime) -> tuple[DateReading, str]:
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
        if isinstance(detail, Mapping) and detail.get("language"):
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


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _is_plain(detail: Any) -> bool:
    return isinstance(detail, Mapping) and detail.get("type") == "text/plain"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
