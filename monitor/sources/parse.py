"""Feed bodies -> :class:`ParsedFeed`, defended against hostile XML (pure core).

feedparser is lenient and therefore exploitable, so it only ever sees bytes
that were made safe first (:func:`harden`):

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

import codecs
import io
import re
import warnings
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urljoin

import feedparser
from feedparser.encodings import RE_XML_DECLARATION, convert_to_utf8
from feedparser.mixin import _FeedParserMixin

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.sources.bound import MAX_ITEMS, cut_entries
from monitor.sources.fastrss import read_rss
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

MAX_TOKEN = 256  # longest run of [A-Za-z0-9_.+-] kept; bounds feedparser #562 to ~0.1 s/64 KB
_TAIL = 64  # bytes kept at the end of a shortened run (closing quote, "]]", "--")
_UTF8_HEADERS = {"content-type": "application/xml; charset=utf-8"}
_TOKEN = re.compile(rb"(?<![A-Za-z0-9_.+\-])[A-Za-z0-9_.+\-]{%d,}" % (MAX_TOKEN + 1))
_TOKEN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-"
_TOKEN_OR_NOT = bytes(b"t"[0] if c in _TOKEN_BYTES else b" "[0] for c in range(256))
_LONG_TOKEN = b"t" * (MAX_TOKEN + 1)
_MARKUP_OR_NOT = bytes(b"<"[0] if c in b"<>" else b"."[0] for c in range(256))
_HEAD_END = re.compile(rb"<\w")  # where feedparser's replace_doctype stops looking
_ENTITY_LINE = re.compile(rb"^\s*<!ENTITY", re.IGNORECASE | re.MULTILINE)  # feedparser's test
_SPACES = re.compile(rb"[ \t\r\n]{2,}")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_XML_SPACE = b" \t\r\n"
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})  # local names, lower case
_UTF8_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
_XML_DECLARATION: re.Pattern[str] = RE_XML_DECLARATION

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


class Hardened(NamedTuple):
    data: bytes  # UTF-8, no DOCTYPE, long runs shortened, at most max_items entries
    problem: str | None  # an encoding problem feedparser would have reported
    had_entities: bool  # a removed DOCTYPE declared entities
    truncated: int = 0  # entries left out (the newest max_items kept)


def harden(
    body: bytes, headers: Mapping[str, str], *, max_field_bytes: int, max_items: int = 0
) -> Hardened:
    """Make a body safe to give feedparser (see the module docstring).

    ``headers`` must have lower-case keys (feedparser looks them up so)."""
    if not body.strip():
        raise ParseError("parse_error", "empty body")
    state: dict[str, Any] = {}
    data = _to_utf8(body, headers, state)
    data, removed = _strip_doctypes(data)
    data, truncated = cut_entries(data, max_items)
    data = _collapse_head(_cap_runs(data, max_field_bytes))
    if _ENTITY_LINE.search(data, 0, _head_end(data)):
        raise ParseError("xml_entities", "entity declaration outside the prolog")
    problem = state.get("bozo_exception")
    return Hardened(
        data,
        str(problem) if problem else None,
        any(_ENTITY.search(doctype) for doctype in removed),
        truncated,
    )


def _to_utf8(body: bytes, headers: Mapping[str, str], state: dict[str, Any]) -> bytes:
    """The body in UTF-8, decoded as feedparser would, except that valid UTF-8
    beats a declared ASCII-compatible charset (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data: bytes = convert_to_utf8(headers, body, state)
    declared = str(state.get("encoding") or "")
    if not declared:  # nothing decoded: make it UTF-8 all the same
        return data.decode("utf-8", "replace").encode("utf-8")
    if body.isascii() or not _ascii_compatible(declared):
        return data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return data
    state["encoding"] = "utf-8"
    state["bozo_exception"] = f"declared {declared}, read as UTF-8 (the bytes are valid UTF-8)"
    if _XML_DECLARATION.search(text):
        return _XML_DECLARATION.sub(_UTF8_DECLARATION, text, count=1).encode("utf-8")
    return (_UTF8_DECLARATION + "\n" + text).encode("utf-8")


def _ascii_compatible(encoding: str) -> bool:
    """Not UTF-8 itself, and spells ASCII as ASCII (not UTF-16/32, not EBCDIC)."""
    try:
        if codecs.lookup(encoding).name == "utf-8":
            return False
        return "<?xml encoding='x'?>".encode(encoding) == b"<?xml encoding='x'?>"
    except (LookupError, UnicodeError):
        return False


def _head_end(data: bytes) -> int:
    """Where feedparser's ``replace_doctype`` stops looking for declarations."""
    match = _HEAD_END.search(data)
    return match.start() + 1 if match and match.start() else 0


def _collapse_head(data: bytes) -> bytes:
    """Fold whitespace runs before the root element: feedparser scans that region
    with ``^\\s*<!ENTITY`` (MULTILINE), which is quadratic in blank lines
    (40 KB of newlines cost it 5 s)."""
    end = _head_end(data)
    return _SPACES.sub(b"\n", data[:end]) + data[end:] if end else data


def _strip_doctypes(data: bytes) -> tuple[bytes, list[bytes]]:
    """Remove every DOCTYPE declaration from the prolog (the only place expat
    honours one), walking whitespace, processing instructions and comments.
    Returns the document and the declarations removed."""
    out: list[bytes] = []
    removed: list[bytes] = []
    pos = last = 0
    while True:
        while pos < len(data) and data[pos] in _XML_SPACE:
            pos += 1
        if data.startswith(b"<?", pos):
            end = _end_of(data, b"?>", pos + 2)
        elif data.startswith(b"<!--", pos):
            end = _end_of(data, b"-->", pos + 4)
        elif data[pos : pos + 9].upper() == b"<!DOCTYPE":
            end = _doctype_end(data, pos + 9)
            out.append(data[last:pos])
            removed.append(data[pos:end])
            pos = last = end
            continue
        else:
            break
        if end < 0:
            break
        pos = end + 1
    out.append(data[last:])
    return b"".join(out), removed


def _doctype_end(data: bytes, pos: int) -> int:
    """Index just past the DOCTYPE whose body starts at ``pos``; quotes, comments,
    processing instructions and the internal subset are honoured."""
    depth = 0
    while pos < len(data):
        char = data[pos : pos + 1]
        end = pos
        if char in (b'"', b"'"):
            end = data.find(char, pos + 1)
        elif data.startswith(b"<!--", pos):
            end = _end_of(data, b"-->", pos + 4)
        elif data.startswith(b"<?", pos):
            end = _end_of(data, b"?>", pos + 2)
        elif char == b"[":
            depth += 1
        elif char == b"]":
            depth = max(depth - 1, 0)
        elif char == b">" and depth == 0:
            return pos + 1
        if end < 0:
            break
        pos = end + 1
    raise ParseError("xml_entities", "unterminated DOCTYPE")


def _end_of(data: bytes, marker: bytes, start: int) -> int:
    """Index of the last byte of ``marker`` found from ``start``, or -1."""
    found = data.find(marker, start)
    return found + len(marker) - 1 if found >= 0 else -1


def _cap_runs(data: bytes, limit: int) -> bytes:
    """Shorten text runs longer than ``limit`` and tokens longer than MAX_TOKEN.

    Each regex runs only where a run that long exists: a body mapped to one byte
    per class (``bytes.translate``) holds the run as a plain substring, which is
    found at C speed; most bodies have none and are returned as they are."""
    limit = max(limit, 2 * _TAIL)
    if len(data) > limit and b"." * (limit + 1) in data.translate(_MARKUP_OR_NOT):
        data = _long_run(limit).sub(lambda m: _shorten(m.group(), limit), data)
    if _LONG_TOKEN in data.translate(_TOKEN_OR_NOT):
        data = _TOKEN.sub(lambda m: m.group()[:MAX_TOKEN], data)
    return data


@lru_cache(maxsize=8)
def _long_run(limit: int) -> re.Pattern[bytes]:
    """Runs of text between markup longer than ``limit``, matched from their start only."""
    return re.compile(rb"(?<![^<>])[^<>]{%d,}" % (limit + 1))


def _shorten(run: bytes, limit: int) -> bytes:
    """Head and tail of ``run``, cut on UTF-8 character boundaries."""
    head, tail = limit - _TAIL, len(run) - _TAIL
    while head > 0 and run[head] & 0xC0 == 0x80:
        head -= 1
    while tail < len(run) and run[tail] & 0xC0 == 0x80:
        tail += 1
    return run[:head] + run[tail:]
