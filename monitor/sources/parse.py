"""Feed bodies -> :class:`ParsedFeed`, defended against hostile XML (pure core).

feedparser is lenient and therefore exploitable, so it only ever sees bytes
that were made safe first (:func:`harden`, in :mod:`~monitor.sources.harden`):

* **Entities.** The body is decoded the way feedparser decodes it (its own
  ``convert_to_utf8``: BOM, XML declaration, HTTP charset; UTF-16/32 and EBCDIC
  included) and every DOCTYPE in the prolog is removed, so neither expat nor
  feedparser's loose parser (which expands ``<!ENTITY`` values itself: 60 KB of
  quadratic entities become 600 MB) ever sees an entity declaration; undefined
  ``&refs;`` stay inert text. An ``<!ENTITY`` left where the loose parser
  would look for it is refused with ``ParseError("xml_entities")``.
* **Oversized fields.** Any run of text between ``<`` and ``>`` longer than
  ``max_field_bytes`` keeps its head and tail only, and any run of the
  characters feedparser's author/e-mail regex backtracks on (feedparser #562:
  O(n²), 24 s for a 100 KB ``<author>``) is cut to ``MAX_TOKEN`` bytes. Both
  scans are linear (anchored with a look-behind, so no retry inside a run).
* **Time and memory.** :class:`~monitor.sources.pool.ParsePool` runs
  :func:`parse_and_normalise` in worker processes under a deadline and an
  address-space cap (``pool.py``: the I/O edge of this pure module).

``parse_feed`` passes feedparser a stream, never a string: a bytes body such as
``b"/etc/passwd"`` would otherwise be opened as a local file.

What is read (``README.md`` says it for users):

* **Formats.** RSS 0.9x, 1.0 and 2.0 and Atom through feedparser; JSON Feed 1.0
  and 1.1 (:mod:`~monitor.sources.jsonfeed`) when the body starts with ``{``
  or is served as JSON and does not start with ``<``. A document whose root
  element is a feed's (``rss``, ``feed``, ``RDF``, ``channel``) is a feed even
  with no items: a success with 0 items, not an error.
* **Charset.** A body that is valid UTF-8 and not plain ASCII is read as
  UTF-8 whatever ASCII-compatible charset it declares (HTTP or XML
  declaration): text in Latin-1, Windows-125x, KOI8 or Shift_JIS with
  non-ASCII letters is practically never valid UTF-8, while UTF-8 served as
  ISO-8859-1 is common and would make ``Türkiye`` into ``TÃ¼rkiye``. Otherwise
  the declared charset wins, as feedparser decides it (RFC 3023).
* **Ids and links.** feedparser is given no base URL and is told not to
  resolve ``<guid>``/``<id>`` (it treats them as links), so a GUID stays as
  written; links are resolved by normalise against ``xml:base`` (feedparser)
  and then the Content-Location header or the feed's URL.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.mixin import _FeedParserMixin

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.sources.bound import MAX_ITEMS
from monitor.sources.fastrss import read_rss
from monitor.sources.harden import _HEAD_END, MAX_TOKEN, Hardened, harden
from monitor.sources.jsonfeed import is_json, parse_json_feed
from monitor.sources.normalise import ParsedFeed, normalise

__all__ = [
    "MAX_TOKEN",
    "Hardened",
    "ParsedFeed",
    "harden",
    "parse_and_normalise",
    "parse_feed",
]

_UTF8_HEADERS = {"content-type": "application/xml; charset=utf-8"}
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})  # local names, lower case

# feedparser treats <guid> and Atom <id> as links: it resolves them against the
# base URL and xml:base (``<guid>dw-4411</guid>`` became ``https://host/dir/dw-4411``).
# An id is an identifier, kept as the feed wrote it.
_FeedParserMixin.can_be_relative_uri.discard("id")


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_field_bytes: int = 64 * 1024,
    base: str = "",
    fast: bool = True,
    max_items: int = MAX_ITEMS,
) -> Any:
    """Parse one feed body (XML after :func:`harden`, or JSON Feed); return a
    ``feedparser.parse``-shaped dict.

    Raises ``ParseError`` when the body is refused or is not a feed at all. A
    document that parses with problems but yields a feed is returned; its
    problem is in ``result["bozo_reason"]``. ``result["base"]`` is what relative
    links resolve against: the Content-Location header (resolved against
    ``base``, the feed's URL), else ``base``. ``fast``: plain RSS 2.0 is read by
    :func:`~monitor.sources.fastrss.read_rss` (feedparser reads what it refuses).
    Only the newest ``max_items`` entries are read (:mod:`monitor.sources.bound`);
    ``result["truncated"]`` says how many were left out."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if is_json(body, lowered.get("content-type", "")):
        result = parse_json_feed(body, max_field_bytes=max_field_bytes, max_items=max_items)
    else:
        result = _parse_xml(body, lowered, max_field_bytes, fast, max_items)
    location = lowered.get("content-location", "").strip()
    result["base"] = urljoin(base, location) if location else base
    return result


def _parse_xml(
    body: bytes, lowered: dict[str, str], max_field_bytes: int, fast: bool, max_items: int
) -> Any:
    hardened = harden(body, lowered, max_field_bytes=max_field_bytes, max_items=max_items)
    data, problem, had_entities, truncated = hardened
    headers = {k: v for k, v in lowered.items() if k != "content-location"}
    if fast and (quick := read_rss(data, headers)) is not None:
        quick["bozo_reason"], quick["truncated"] = problem, truncated
        return quick
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # feedparser's own Deprecation/Runtime noise
            result = feedparser.parse(
                io.BytesIO(data),
                response_headers={**headers, **_UTF8_HEADERS},  # no base: normalise resolves
                sanitize_html=False,  # normalise strips all markup anyway
                resolve_relative_uris=False,  # only item links matter; normalise resolves them
            )
    except MemoryError as exc:
        raise ParseError("parse_crash", "out of memory") from exc
    except Exception as exc:  # a feedparser bug must cost one feed, not the poller
        raise ParseError("parse_error", f"{type(exc).__name__}: {exc}"[:200]) from exc
    reason = str(result.get("bozo_exception") or "") if result.get("bozo") else ""
    result["bozo_reason"] = reason or problem or None
    result["truncated"] = truncated
    head = result.get("feed") or {}
    if not (result.get("entries") or result.get("version") or head.get("title")):
        if _root_name(data) in FEED_ROOTS:
            return result  # a feed with nothing in it yet
        if had_entities:  # say why an operator's feed yields nothing
            raise ParseError("xml_entities", "entity declarations removed; no feed left")
        raise ParseError("parse_error", (result["bozo_reason"] or "not a feed")[:200])
    return result


def _root_name(data: bytes) -> str:
    """The local name of the document's first element, lower-cased ("" if none)."""
    first = _HEAD_END.search(data)
    match = _ROOT.match(data, first.start()) if first else None
    return match.group(1).decode("ascii", "replace").rpartition(":")[2].lower() if match else ""


def parse_and_normalise(
    body: bytes,
    headers: Mapping[str, str],
    feed: FeedConfig,
    seen: datetime,
    max_field_bytes: int = 64 * 1024,
    known: bytes = b"",
    max_items: int = MAX_ITEMS,
) -> ParsedFeed:
    """parse_feed + normalise: what one ParsePool worker runs for one body. Items
    whose id digest is in ``known`` are left out (see :func:`normalise`)."""
    result = parse_feed(
        body, headers, max_field_bytes=max_field_bytes, base=feed.base, max_items=max_items
    )
    return normalise(result, feed, seen=seen, bozo=result["bozo_reason"], base=result["base"],
                     known=known, truncated=result.get("truncated", 0))  # fmt: skip
