"""The config's ``feeds:`` section, and the feed include files it may name.

:class:`FeedSection` walks the section's nodes (through a
:class:`~monitor.config.yamlfile.YamlFile`, so problems carry their lines); an entry is
a URL, a ``{url, name, interval}`` mapping, or an include: ``file:`` (one
``URL [name]`` a line) or ``opml:``. :func:`parse_feed_list` and
:func:`parse_opml` are the pure parsers of those files: every entry as an
:class:`Entry` (URL unchecked), or :class:`IncludeError` for the file as a whole.
:func:`write_opml` is the writer beside the reader (``newsmon feeds --opml``):
what it writes, an ``opml:`` include reads back as the same feeds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.parsers import expat

import yaml

from monitor.config.secrets import Secret, shown_url
from monitor.config.values import MISSING, duration, hint, plain, seconds, show, string
from monitor.config.yamlfile import YamlFile, kind, line


class Entry(NamedTuple):
    url: str
    name: str | None
    line: int


class IncludeError(Exception):
    """The include file is unusable; ``line`` is where (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_feed_list(data: bytes) -> list[Entry]:
    """``URL [name]`` a line; ``#`` starts a comment; blank lines are skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IncludeError(data[: exc.start].count(b"\n") + 1, "not UTF-8 text") from None
    entries = []
    for n, raw in enumerate(text.split("\n"), 1):
        body = "" if raw.lstrip().startswith("#") else re.split(r"\s#", raw, maxsplit=1)[0]
        if words := body.split(None, 1):
            entries.append(Entry(words[0], words[1].strip() if len(words) > 1 else None, n))
    return entries


class _Refused(Exception):
    pass


def parse_opml(data: bytes) -> list[Entry]:
    """Every ``<outline xmlUrl=...>``, nested ones too, named by title or text;
    entity declarations are refused."""
    found: list[Entry] = []
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        attrs = {k.lower(): v for k, v in attrs.items()}
        if tag.lower() == "outline" and "xmlurl" in attrs:
            name = attrs.get("title") or attrs.get("text") or None
            found.append(Entry(attrs["xmlurl"], name, parser.CurrentLineNumber))

    def refuse(*_: object) -> NoReturn:
        raise _Refused("entity declarations are refused")

    parser.StartElementHandler = start
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise IncludeError(exc.lineno, f"invalid OPML: {expat.ErrorString(exc.code)}") from None
    except _Refused as exc:
        raise IncludeError(parser.CurrentLineNumber, f"OPML refused: {exc}") from None
    return found


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_opml(feeds: Iterable[tuple[str, str]], title: str = "newsmon feeds",
               created: datetime | None = None) -> bytes:  # fmt: skip
    """OPML 2.0 of ``feeds`` ((URL, name) pairs): one ``<outline type="rss">`` each,
    ``text`` and ``title`` its name, ``xmlUrl`` its URL. Give the URLs as newsmon
    knows them (a feed's identity: ``${VAR}`` unexpanded, credentials as ``***@``),
    never the URL it fetches. Characters XML cannot carry are dropped."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    stamp = format_datetime(created or datetime.now(UTC), usegmt=True)
    ElementTree.SubElement(head, "dateCreated").text = stamp
    body = ElementTree.SubElement(root, "body")
    for url, name in feeds:
        shown = _NOT_XML.sub("", " ".join(name.split()))
        ElementTree.SubElement(body, "outline", type="rss", text=shown, title=shown,
                               xmlUrl=_NOT_XML.sub("", url))  # fmt: skip
    ElementTree.indent(root)
    document: bytes = ElementTree.tostring(root, "utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document + b"\n"


# --- the feeds: section --------------------------------------------------------------

_FEED_KEYS = {"url", "name", "interval"}


class Feed(NamedTuple):
    """One checked feed; ``monitor.config.load`` turns it into a ``FeedConfig``."""

    url: str  # as written: ${VAR} unexpanded, userinfo as ***@ (the feed's identity)
    name: str  # defaults to that URL (never an expanded secret)
    interval: float | None
    file: str  # where it was declared
    line: int
    secret_url: Secret | None  # the URL to fetch, when it is not ``url``


def _feed_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return (
            parts.scheme.lower() in ("http", "https")
            and bool(parts.hostname)
            and (parts.port or 1) > 0
        )
    except ValueError:  # a bad port or IPv6 literal
        return False


class FeedSection:
    """Walks ``feeds:``: URLs, ``{url, name, interval}`` mappings and includes.

    ``bounds`` is the schedule's (min_interval, max_interval) a feed interval must
    keep to; None when the schedule section is itself broken (then not checked).
    """

    def __init__(self, f: YamlFile, bounds: tuple[float, float] | None) -> None:
        self.f, self.bounds = f, bounds
        self._seen: dict[str, tuple[str, int]] = {}  # feed URL, identity -> where first declared

    def read(self, node: yaml.Node) -> list[Feed]:
        if not isinstance(node, yaml.SequenceNode):
            self.f.problem(line(node), f"feeds: expected a list, got a {kind(node)}")
            return []
        return [feed for item in node.value for feed in self.entry(item)]

    def entry(self, item: yaml.Node) -> list[Feed]:
        f = self.f
        if isinstance(item, yaml.ScalarNode):
            return self.feed(f.value(item), None, None, f.file, line(item), item.value)
        keys = {k: (kn, vn) for k, kn, vn in f.pairs(item, "feed")}
        include = next((k for k in ("file", "opml") if k in keys), None)
        allowed = {include, "interval"} if include else {*_FEED_KEYS, "file", "opml"}
        unknown = [k for k in keys if k not in allowed or (not include and k not in _FEED_KEYS)]
        for key in unknown:
            f.problem(line(keys[key][0]), f"feed: unknown key {key!r}{hint(key, allowed)}")
        interval = None
        if "interval" in keys:
            interval = f.convert(keys["interval"][1], duration, "feed interval")
            if interval is MISSING:
                interval = None
            elif self.bounds and not self.bounds[0] <= interval <= self.bounds[1]:
                low, high = self.bounds
                f.problem(
                    line(keys["interval"][1]),
                    f"feed interval: {seconds(interval)} is outside schedule"
                    f" min_interval..max_interval ({seconds(low)}..{seconds(high)})",
                )
        if include:
            rel = f.convert(keys[include][1], string, f"feed {include}")
            return [] if rel is MISSING else self.include(include, rel, line(item), interval)
        if "url" not in keys:
            if isinstance(item, yaml.MappingNode) and not unknown:
                f.problem(line(item), "feed: needs 'url' (or 'file' / 'opml')")
            return []
        unode = keys["url"][1]
        name = f.convert(keys["name"][1], string, "feed name") if "name" in keys else None
        raw = unode.value if isinstance(unode, yaml.ScalarNode) else ""
        return self.feed(f.value(unode), name, interval, f.file, line(unode), raw)

    def feed(
        self, value: Any, name: Any, interval: float | None, file: str, at: int, raw: str
    ) -> list[Feed]:
        url = plain(value)
        if value is MISSING:
            return []
        if not isinstance(url, str) or not _feed_url(url.strip()):
            self.f.problem(
                at, f"feed URL: expected an http(s) URL with a host, got {show(value)}", file
            )
            return []
        url = url.strip()
        shown = shown_url(raw.strip() if isinstance(value, Secret) else url)  # never a secret
        parts = urlsplit(url)
        key = parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
        for seen in (key, "shown\0" + shown):  # the same URL, or the same identity
            if seen in self._seen:
                first = ":".join(map(str, self._seen[seen]))
                self.f.problem(at, f"duplicate feed {shown} (first at {first})", file)
                return []
        self._seen[key] = self._seen["shown\0" + shown] = (file, at)
        secret = None if shown == url else Secret(url)
        return [Feed(url=shown, name=shown if name in (None, MISSING) else name,
                     interval=interval, file=file, line=at, secret_url=secret)]  # fmt: skip

    def include(self, form: str, rel: str, at: int, interval: float | None) -> list[Feed]:
        """``file:`` (a feed list) or ``opml:``, relative to the config's folder."""
        path = os.path.join(os.path.dirname(self.f.file), rel)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self.f.problem(at, f"feeds: cannot read {path}: {exc.strerror or exc}")
            return []
        try:
            entries = (parse_feed_list if form == "file" else parse_opml)(data)
        except IncludeError as exc:
            self.f.problem(exc.line, exc.message, path)
            return []
        if not entries:
            what = "feed URL" if form == "file" else "<outline xmlUrl=...>"
            self.f.problem(at, f"feeds: no {what} in {path}")
        return [f for e in entries for f in self.feed(e.url, e.name, interval, path, e.line, e.url)]
