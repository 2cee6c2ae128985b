"""JSON Feed 1.0 and 1.1 bodies -> a ``feedparser.parse``-shaped result (pure).

:func:`~monitor.sources.normalise.normalise` takes it as it takes feedparser's,
so a JSON Feed's items are normalised by the same rules as RSS and Atom ones:

=======================================  ==========================================
JSON Feed                                entry key
=======================================  ==========================================
``id`` (a string; a number in 1.0 feeds)  ``id``
``url``, else ``external_url``             ``link``
``title``                                 ``title`` (plain text)
``summary``, else ``content_text``        ``summary`` (plain text)
``content_html``                          ``content`` (HTML, stripped by normalise)
``date_published``, ``date_modified``      ``published``, ``updated``
``language`` (1.1), else the feed's        ``language``
``authors`` (1.1), else ``author`` (1.0)   ``authors``, ``author``
``tags``                                  ``tags``
=======================================  ==========================================

A body is a JSON Feed when it is an object with an ``items`` array or a
``jsonfeed.org/version/`` version. Anything else is a ``ParseError`` whose
detail starts with ``invalid JSON Feed:`` (and says where, for broken JSON).
Bounds, as on the XML path: each string field keeps its first
``max_field_bytes`` characters, and nesting deeper than :data:`MAX_DEPTH` is
refused. Text that is not valid in its encoding is read with replacement
characters and reported as the result's ``bozo_reason``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from monitor.errors import ParseError
from monitor.sources.bound import newest

__all__ = ["MAX_DEPTH", "is_json", "parse_json_feed"]

MAX_DEPTH = 32
JSON_TYPES = ("application/feed+json", "application/json")
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_PAIR = re.compile(rb"\[\]|\{\}")
_BOM = b"\xef\xbb\xbf"


def is_json(body: bytes, content_type: str) -> bool:
    """A body starting with ``{`` (whatever the header says), or one served as
    JSON that does not start with ``<``."""
    head = body[:1024].lstrip(b" \t\r\n")
    head = head[len(_BOM) :].lstrip(b" \t\r\n") if head.startswith(_BOM) else head
    if head.startswith(b"{"):
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return (media in JSON_TYPES or media.endswith("+json")) and not head.startswith(b"<")


def parse_json_feed(
    body: bytes, *, max_field_bytes: int = 64 * 1024, max_items: int = 0
) -> dict[str, Any]:
    """The feedparser-shaped result of one JSON Feed body; ParseError if it is not one.
    With ``max_items``, only the newest that many items are read (``truncated``: how
    many were left out)."""
    text, problem = _decode(body)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError:
        raise _invalid(f"nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(doc, dict):
        raise _invalid(f"the top level is {_kind(doc)}, not an object")
    if _depth_over(body, MAX_DEPTH):
        raise _invalid(f"nested deeper than {MAX_DEPTH} levels")
    version = doc.get("version")
    items = doc.get("items")
    is_versioned = isinstance(version, str) and "jsonfeed.org/version/" in version
    if not isinstance(items, list) and not (is_versioned and items is None):
        what = "no items array" if items is None else f"items is {_kind(items)}, not an array"
        raise _invalid(f"{what} and no jsonfeed.org version")
    field = _Fields(max_field_bytes)
    objects = [item for item in items or () if isinstance(item, dict)]
    truncated = 0
    if max_items and len(objects) > max_items:
        dates = [field.text(o.get("date_published")) or None for o in objects]
        kept = newest(dates, max_items)
        truncated, objects = len(objects) - len(kept), [objects[i] for i in kept]
    return {
        "feed": field.feed(doc),
        "entries": [field.entry(item) for item in objects],
        "truncated": truncated,
        "version": "json11" if is_versioned and str(version).endswith("1.1") else "json1",
        "bozo": problem is not None,
        "bozo_reason": problem,
    }


def _decode(body: bytes) -> tuple[str, str | None]:
    """The body as text (JSON is UTF-8, or UTF-16/32 by its first bytes)."""
    encoding = json.detect_encoding(body)
    try:
        return body.decode(encoding), None
    except UnicodeDecodeError as exc:
        problem = f"invalid JSON Feed text: not {encoding} at byte {exc.start} (replaced)"
        return body.decode(encoding, "replace"), problem


def _depth_over(body: bytes, limit: int) -> bool:
    """Whether a parsed (so balanced) body nests deeper than ``limit``: each
    pass removes the innermost ``[]`` and ``{}`` pairs, in C."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _PAIR.sub(b"", brackets)
    return bool(brackets)


def _invalid(why: str) -> ParseError:
    return ParseError("parse_error", f"invalid JSON Feed: {why}"[:200])


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else "a number")


class _Fields:
    """Reads the fields of feed and item objects, each string bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def text(self, value: object) -> str:
        return value[: self.limit] if isinstance(value, str) else ""

    def feed(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "title": self.text(doc.get("title")),
            "title_detail": {"type": "text/plain"},
            "link": self.text(doc.get("home_page_url")),
            "language": self.text(doc.get("language")),
            "subtitle": self.text(doc.get("description")),
        }

    def entry(self, item: Mapping[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "title": self.text(item.get("title")),
            "title_detail": {"type": "text/plain"},
            "link": self.text(item.get("url")) or self.text(item.get("external_url")),
            "published": self.text(item.get("date_published")),
            "updated": self.text(item.get("date_modified")),
            "language": self.text(item.get("language")),
            "tags": [{"term": self.text(t)} for t in _list(item.get("tags")) if self.text(t)],
        }
        raw_id = item.get("id")
        if isinstance(raw_id, (int, float)) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        entry["id"] = self.text(raw_id).strip()
        summary = self.text(item.get("summary")) or self.text(item.get("content_text"))
        if summary:
            entry["summary"] = summary
            entry["summary_detail"] = {"type": "text/plain"}
        if html := self.text(item.get("content_html")):
            entry["content"] = [{"type": "text/html", "value": html}]
        authors = [self.text(a.get("name")) for a in _authors(item) if self.text(a.get("name"))]
        if authors:
            entry["author"] = authors[0]
            entry["authors"] = [{"name": name} for name in authors]
        return entry


def _authors(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = _list(item.get("authors")) or [item.get("author")]
    return [a for a in found if isinstance(a, Mapping)]


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
