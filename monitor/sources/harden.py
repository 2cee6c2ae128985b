"""Making a feed body safe to give feedparser (pure core): :func:`harden` decodes it as
feedparser would, removes every DOCTYPE from the prolog, keeps only the newest entries
and shortens oversized fields and the runs feedparser's regexes backtrack on. Why each
defence: :mod:`monitor.sources.parse`, which parses what this returns."""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from feedparser.encodings import RE_XML_DECLARATION, convert_to_utf8

from monitor.errors import ParseError
from monitor.sources.bound import cut_entries

MAX_TOKEN = 256  # longest run of [A-Za-z0-9_.+-] kept; bounds feedparser #562 to ~0.1 s/64 KB
_TAIL = 64  # bytes kept at the end of a shortened run (closing quote, "]]", "--")
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
_UTF8_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
_XML_DECLARATION: re.Pattern[str] = RE_XML_DECLARATION


class Hardened(NamedTuple):
    data: bytes  # UTF-8, no DOCTYPE, long runs shortened, at most max_items entries
    problem: str | None  # an encoding problem feedparser would have reported
    had_entities: bool  # a removed DOCTYPE declared entities
    truncated: int = 0  # entries left out (the newest max_items kept)


def harden(
    body: bytes, headers: Mapping[str, str], *, max_field_bytes: int, max_items: int = 0
) -> Hardened:
    """Make a body safe to give feedparser (see :mod:`monitor.sources.parse`).

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
    beats a declared ASCII-compatible charset (see :mod:`monitor.sources.parse`)."""
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
