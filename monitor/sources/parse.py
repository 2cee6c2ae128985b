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
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import feedparser
from feedparser.encodings import convert_to_utf8

from monitor.config import FeedConfig
from monitor.errors import ParseError
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
_HEAD_END = re.compile(rb"<\w")  # where feedparser's replace_doctype stops looking
_ENTITY_LINE = re.compile(rb"^\s*<!ENTITY", re.IGNORECASE | re.MULTILINE)  # feedparser's test
_SPACES = re.compile(rb"[ \t\r\n]{2,}")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_XML_SPACE = b" \t\r\n"


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_field_bytes: int = 64 * 1024,
    base: str = "",
) -> Any:
    """Parse one feed body with feedparser after :func:`harden`; return its result dict.

    Raises ``ParseError`` when the body is refused or is not a feed at all. A
    document that parses with problems but yields a feed is returned; its
    problem is in ``result["bozo_reason"]``. Relative links resolve against the
    Content-Location header, else ``base`` (the feed's URL)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    data, problem, had_entities = harden(body, lowered, max_field_bytes=max_field_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # feedparser's own Deprecation/Runtime noise
            result = feedparser.parse(
                io.BytesIO(data),
                response_headers={"content-location": base, **lowered, **_UTF8_HEADERS},
                sanitize_html=False,  # normalise strips all markup anyway
                resolve_relative_uris=False,  # only item links matter; normalise resolves them
            )
    except MemoryError as exc:
        raise ParseError("parse_crash", "out of memory") from exc
    except Exception as exc:  # a feedparser bug must cost one feed, not the poller
        raise ParseError("parse_error", f"{type(exc).__name__}: {exc}"[:200]) from exc
    reason = str(result.get("bozo_exception") or "") if result.get("bozo") else ""
    result["bozo_reason"] = reason or problem or None
    head = result.get("feed") or {}
    if not (result.get("entries") or result.get("version") or head.get("title")):
        if had_entities:  # say why an operator's feed yields nothing
            raise ParseError("xml_entities", "entity declarations removed; no feed left")
        raise ParseError("parse_error", (result["bozo_reason"] or "not a feed")[:200])
    return result


def parse_and_normalise(
    body: bytes,
    headers: Mapping[str, str],
    feed: FeedConfig,
    seen: datetime,
    max_field_bytes: int = 64 * 1024,
) -> ParsedFeed:
    """parse_feed + normalise: what one ParsePool worker runs for one body."""
    result = parse_feed(body, headers, max_field_bytes=max_field_bytes, base=feed.base)
    return normalise(result, feed, seen=seen, bozo=result["bozo_reason"])


class Hardened(NamedTuple):
    data: bytes  # UTF-8, no DOCTYPE, long runs shortened
    problem: str | None  # an encoding problem feedparser would have reported
    had_entities: bool  # a removed DOCTYPE declared entities


def harden(body: bytes, headers: Mapping[str, str], *, max_field_bytes: int) -> Hardened:
    """Make a body safe to give feedparser (see the module docstring).

    ``headers`` must have lower-case keys (feedparser looks them up so)."""
    if not body.strip():
        raise ParseError("parse_error", "empty body")
    state: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = convert_to_utf8(headers, body, state)
    if not state.get("encoding"):  # nothing decoded: make it UTF-8 all the same
        data = data.decode("utf-8", "replace").encode("utf-8")
    data, removed = _strip_doctypes(data)
    data = _collapse_head(_cap_runs(data, max_field_bytes))
    if _ENTITY_LINE.search(data, 0, _head_end(data)):
        raise ParseError("xml_entities", "entity declaration outside the prolog")
    problem = state.get("bozo_exception")
    return Hardened(
        data,
        str(problem) if problem else None,
        any(_ENTITY.search(doctype) for doctype in removed),
    )


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
    """Shorten text runs longer than ``limit`` and tokens longer than MAX_TOKEN."""
    limit = max(limit, 2 * _TAIL)
    if len(data) > limit:
        data = _long_run(limit).sub(lambda m: _shorten(m.group(), limit), data)
    return _TOKEN.sub(lambda m: m.group()[:MAX_TOKEN], data)


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
