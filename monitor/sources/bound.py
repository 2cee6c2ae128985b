"""Big feeds bounded (pure): only the newest ``fetch.max_items`` entries are read.

A 100,000-item feed took feedparser past the parse deadline on every poll, so
it yielded nothing, ever. Before the parse, :func:`cut_entries` finds the
entries of an XML body with one linear scan in C (a regex over the tokens that
matter: ``<item>``/``<entry>`` tags at any prefix, CDATA sections, comments and
processing instructions, so that markup inside those is never taken for an
entry) and, when there are more than ``max_items``, keeps the newest:

* by date where the feed dates them: each entry's first ``pubDate``,
  ``published``, ``updated``, ``dc:date``, ``issued`` or ``modified`` read by
  :func:`~monitor.sources.dates.read_date` (a flagged reading counts as no date);
  ties and undated entries after the dated ones, in document order;
* else in document order (feeds list the newest first).

The document is rebuilt from its own bytes: everything before the first entry,
the entries kept (in their order), everything after the last, so the parse that
follows (with every defence of :func:`~monitor.sources.parse.harden`) sees a
smaller feed of the same shape. JSON Feed items are chosen the same way
(:func:`newest`) from the parsed list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from monitor.sources.dates import read_date

__all__ = ["MAX_ITEMS", "cut_entries", "newest"]

MAX_ITEMS = 500
_TOKEN = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>"
    rb"|<(/?)(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?=[\s/>])((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>",
    re.DOTALL,
)
_DATE = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(?:pubDate|published|updated|date|issued|modified)(?=[\s>])"
    rb"[^>]*>\s*(?:<!\[CDATA\[)?\s*([^<\]]{1,200})",
    re.IGNORECASE,
)


def cut_entries(data: bytes, max_items: int) -> tuple[bytes, int]:
    """``data`` with only its newest ``max_items`` entries, and how many were left out."""
    if max_items <= 0 or data.count(b"item") + data.count(b"entry") <= max_items:
        return data, 0
    spans = _entries(data)
    if len(spans) <= max_items:
        return data, 0
    dates = []
    for start, end in spans:
        found = _DATE.search(data, start, end)
        dates.append(found.group(1).decode("utf-8", "replace") if found else None)
    kept = newest(dates, max_items)
    body = b"".join(data[spans[i][0] : spans[i][1]] for i in kept)
    return data[: spans[0][0]] + body + data[spans[-1][1] :], len(spans) - len(kept)


def _entries(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each outermost entry element, in document order."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, 0
    for match in _TOKEN.finditer(data):
        if match.group(1) is None:
            continue  # CDATA, a comment or a processing instruction
        closing, rest = match.group(1) == b"/", match.group(2) or b""
        if closing:
            if depth == 1:
                spans.append((start, match.end()))
            depth = max(depth - 1, 0)
        elif rest.rstrip().endswith(b"/"):
            if depth == 0:
                spans.append((match.start(), match.end()))
        else:
            if depth == 0:
                start = match.start()
            depth += 1
    return spans


def newest(dates: Sequence[str | None], limit: int, now: datetime | None = None) -> list[int]:
    """The indexes of the ``limit`` newest entries, in document order: by date where
    ``dates`` give one (read exactly), then undated ones in document order."""
    if len(dates) <= limit:
        return list(range(len(dates)))
    now = now or datetime.now(UTC)
    readings: dict[str, datetime | None] = {}
    dated: list[tuple[float, int]] = []
    undated: list[int] = []
    for index, text in enumerate(dates):
        if text is None:
            undated.append(index)
            continue
        if text not in readings:
            reading = read_date(text, now)
            readings[text] = reading.when if reading.flag is None else None
        when = readings[text]
        if when is None:
            undated.append(index)
        else:
            dated.append((-when.timestamp(), index))
    dated.sort()
    chosen = [index for _, index in dated[:limit]]
    chosen += undated[: limit - len(chosen)]
    return sorted(chosen)
