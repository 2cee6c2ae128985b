"""A fast reader for the common case, plain RSS 2.0, that gives what feedparser gives.

feedparser is the reference: it reads every feed and costs 200-1,300 µs per item,
most of it in Python callbacks for every element and a second pass of its own
over each value. :func:`read_rss` reads a document with one expat pass and
returns the same ``feedparser.parse``-shaped result that normalise takes, or
None when the document is not in the shape it knows feedparser reads the same
way; feedparser then reads it. It only ever sees a body :func:`parse.harden`
made safe (no DOCTYPE, so no entity is ever declared or expanded; an undefined
``&entity;`` is an expat error, so a refusal).

The shape accepted (everything else is refused, never guessed):

* a well-formed ``<rss version="2.x">`` whose only child is one ``<channel>``;
  no ``xml:lang``, ``xml:base``, default namespace or Content-Language header
  (feedparser would carry them into each value's language and base);
* channel elements from :data:`CHANNEL` (``<image>`` with its usual children),
  item elements from :data:`ITEM`, each with only the attributes listed, and no
  element in an item with children of its own; at most one title, link,
  description, guid, date and content per item (feedparser's rules for repeats
  depend on their order and depth);
* namespaces: content, Dublin Core (creator, date, subject), wfw, slash, sy and
  Atom's ``<atom:link>`` in the channel.

Each value then gets feedparser's own treatment (``_FeedParserMixin.pop``): stripped;
links joined as feedparser joins them, ``&amp;`` unescaped; text that is UTF-8
read as Latin-1 repaired; C1 controls mapped to Windows-1252; a title that looks
like HTML is HTML. ``tests/sources/test_fastrss.py`` compares the two readers on
every file of the corpora: the items normalise finds in each are the same.
"""

from __future__ import annotations

import contextlib
import re
import xml.parsers.expat as expat
from collections.abc import Mapping
from typing import Any

from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin

__all__ = ["CHANNEL", "ITEM", "read_rss"]

_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"
_ATOM = "http://www.w3.org/2005/atom"
_NAMESPACES = {
    _CONTENT: "content",
    _DC: "dc",
    "http://wellformedweb.org/commentapi/": "wfw",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
    "http://purl.org/rss/1.0/modules/syndication/": "sy",
    _ATOM: "atom",
}
_NONE: frozenset[str] = frozenset()
# element -> the attributes it may have (lower case, as feedparser reads names)
CHANNEL: dict[str, frozenset[str]] = {
    **dict.fromkeys(("title", "link", "description", "language", "copyright",
                     "managingeditor", "webmaster", "pubdate", "lastbuilddate", "generator",
                     "docs", "ttl", "rating", "image", "skiphours", "skipdays", "hour", "day",
                     "sy:updateperiod", "sy:updatefrequency", "sy:updatebase"), _NONE),
    "category": frozenset({"domain"}),
    "cloud": frozenset({"domain", "port", "path", "registerprocedure", "protocol"}),
    "atom:link": frozenset({"href", "rel", "type", "title", "hreflang", "length"}),
}  # fmt: skip
_IMAGE = frozenset({"url", "title", "link", "width", "height", "description"})
ITEM: dict[str, frozenset[str]] = {
    **dict.fromkeys(("title", "link", "description", "pubdate", "author", "comments",
                     "content:encoded", "dc:creator", "dc:date", "dc:subject",
                     "wfw:commentrss", "slash:comments"), _NONE),
    "guid": frozenset({"ispermalink"}),
    "category": frozenset({"domain"}),
    "enclosure": frozenset({"url", "length", "type"}),
}  # fmt: skip
_ONCE = frozenset({"title", "link", "description", "guid", "pubdate", "dc:date",
                   "content:encoded"})  # fmt: skip
_CHANNEL_ONCE = frozenset({"title", "link", "description", "language", "ttl"})
_XML = "http://www.w3.org/xml/1998/namespace"
_ENTITY_IN_LINK = re.compile("&([A-Za-z0-9_]+);")


class _Refused(Exception):
    """The document is not in the shape this reader accepts."""


def read_rss(data: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The feedparser-shaped result of ``data`` (UTF-8, hardened), or None when
    feedparser must read it. ``headers`` have lower-case keys."""
    if headers.get("content-language") or b"<rss" not in data[:4096]:
        return None
    reader = _Reader()
    parser = expat.ParserCreate("utf-8", namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    parser.StartNamespaceDeclHandler = reader.namespace
    try:
        parser.Parse(data, True)
    except (_Refused, expat.ExpatError, ValueError):
        return None
    if not reader.done:
        return None
    return {"feed": reader.feed, "entries": reader.entries, "version": "rss20", "bozo": False}


class _Reader:
    def __init__(self) -> None:
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.path: list[str] = []  # element names from the root, as feedparser calls them
        self.chunks: list[str] | None = None  # the text of the value being read
        self.attrs: dict[str, str] = {}
        self.counts: dict[str, int] = {}  # values read: the channel's, the item's
        self.item_counts: dict[str, int] = {}
        self.names: dict[str, str] = {}  # expat's name -> ours, for this document
        self.done = False

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        if prefix is None or ((uri or "").lower() not in _NAMESPACES and prefix != "xml"):
            raise _Refused

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = self.names.get(name) or self.names.setdefault(name, _name(name))
        depth = len(self.path)
        if attrs and any(key.lower().startswith(_XML) for key in attrs):
            raise _Refused  # xml:lang, xml:base
        if depth > 1:
            self._child(tag, {k.lower(): v for k, v in attrs.items()} if attrs else attrs, depth)
        elif depth == 0:
            if tag != "rss" or set(attrs) != {"version"} or not attrs["version"].startswith("2."):
                raise _Refused
        elif tag != "channel" or attrs or self.done:
            raise _Refused
        self.path.append(tag)

    def _child(self, tag: str, attrs: dict[str, str], depth: int) -> None:
        parent = self.path[-1]
        if parent == "item":
            allowed, once = ITEM.get(tag), _ONCE
        elif parent == "channel":
            allowed, once = (_NONE, _NONE) if tag == "item" else (CHANNEL.get(tag), _CHANNEL_ONCE)
            if tag == "item":
                self.entries.append({})
                self.item_counts = {}
        elif parent == "image" and depth == 3:
            allowed, once = (_NONE if tag in _IMAGE else None), _NONE
        elif parent in ("skiphours", "skipdays") and depth == 3:
            allowed, once = (_NONE if tag in ("hour", "day") else None), _NONE
        else:
            raise _Refused  # a child of an item's value, or of anything else
        if allowed is None or (attrs and not attrs.keys() <= allowed):
            raise _Refused
        if tag in once:
            counts = self.item_counts if parent == "item" else self.counts
            if tag in counts:
                raise _Refused
            counts[tag] = 1
        if parent in ("item", "channel") and tag not in ("item", "image"):
            self.chunks, self.attrs = [], attrs

    def text(self, data: str) -> None:
        if self.chunks is not None:
            self.chunks.append(data)

    def end(self, name: str) -> None:
        tag = self.path.pop()
        if tag == "channel":
            self.done = True
            return
        chunks = self.chunks
        if chunks is None or self.path[-1] not in ("item", "channel"):
            return
        raw = (chunks[0] if len(chunks) == 1 else "".join(chunks)).strip()
        self.chunks = None
        if self.path[-1] == "item":
            _item_value(self.entries[-1], tag, raw, self.attrs)
        else:
            _feed_value(self.feed, tag, raw)


def _name(name: str) -> str:
    """``uri local`` -> ``prefix:local`` (lower case), as feedparser names elements."""
    uri, _, local = name.rpartition(" ")
    if not uri:
        return local.lower()
    prefix = _NAMESPACES.get(uri.lower())
    if prefix is None:
        raise _Refused
    return f"{prefix}:{local.lower()}"


def _value(text: str) -> str:
    """What feedparser's ``pop`` makes of a value's (stripped) text, after the steps
    particular to links and titles: UTF-8 read as Latin-1 repaired, C1 mapped
    (ASCII text has neither to repair)."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def _link(raw: str) -> str:
    # feedparser's _urljoin("", raw): its scheme fix (``http:///x``), then urljoin
    # with no base, which returns the URL as it is
    text = _value(_urljoin("", raw) if ":///" in raw else raw)
    if "&" not in text:
        return text
    return _ENTITY_IN_LINK.sub(r"&\g<1>", text.replace("&amp;", "&"))


def _title(raw: str) -> dict[str, Any]:
    # looks_like_html needs a close tag or an entity reference first
    html = ("</" in raw or "&" in raw) and _FeedParserMixin.looks_like_html(raw)
    return {"type": "text/html" if html else "text/plain", "language": None, "base": ""}


def _item_value(entry: dict[str, Any], tag: str, raw: str, attrs: Mapping[str, str]) -> None:
    if tag == "link":
        entry["link"] = _link(raw)
        return
    value = _value(raw)
    if tag == "title":
        entry["title"], entry["title_detail"] = value, _title(raw)
    elif tag == "description":
        entry["summary"] = value
        entry["summary_detail"] = {"type": "text/html", "language": None, "base": ""}
    elif tag == "content:encoded":
        entry["content"] = [{"type": "text/html", "language": None, "base": "", "value": value}]
        entry.setdefault("summary", value)
    elif tag == "guid":
        entry["id"] = value
        is_link = attrs.get("ispermalink", "true") == "true"
        entry.setdefault("guidislink", is_link and "link" not in entry)
        if is_link:
            entry.setdefault("link", value)
    elif tag == "pubdate":
        entry["published"] = value
    elif tag == "dc:date":
        entry["updated"] = value


def _feed_value(feed: dict[str, Any], tag: str, raw: str) -> None:
    if tag == "title":
        feed["title"], feed["title_detail"] = _value(raw), _title(raw)
    elif tag in ("language", "ttl"):
        feed[tag] = _value(raw)
