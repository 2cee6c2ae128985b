"""Feed date strings -> UTC times, never invented (pure).

:func:`read_date` reads the date text a feed gave (RSS ``pubDate``, Atom
``published``/``updated``, Dublin Core, JSON Feed ``date_published``) and says
how far to trust it. The forms read:

* RFC 822/2822 (``Tue, 05 Mar 2024 10:15:00 +0300``, two-digit years by RFC
  2822's rule, ``(comments)`` dropped), ISO 8601 / RFC 3339 extended and basic
  (``20240305T101500Z``), ``2024年3月5日`` and ``2024년 3월 5일``, epoch seconds
  (9-10 digits) and milliseconds (12-13 digits), and free text with a month
  name: ``March 5, 2024 10:15 PM EST``, ``5 de marzo de 2024 10:15``,
  ``5 марта 2024 г., 10:15``, ``05 Mart 2024 Salı 10:15``. Month and weekday
  names in English, French, German, Spanish, Portuguese, Russian, Turkish,
  Italian and Dutch, full, abbreviated (any unambiguous prefix of 3+ letters)
  and case- and accent-insensitive. 12-hour clocks with AM/PM.
* Numeric dates: ``2024/03/05`` is Y/M/D, ``05.03.2024`` D.M.Y; with slashes or
  dashes (``03/05/2024``) only when one of the two numbers is over 12, since
  guessing which is the day would be inventing.
* Zone abbreviations map to fixed offsets (:data:`ZONES`). The ambiguous ones
  are read as RFC 822 and the English-speaking press read them: ``IST`` India
  (+05:30, not Irish +01 or Israel +02), ``BST`` British Summer (+01, not
  Bangladesh +06), ``CST`` US Central (-06, not China +08), ``AST`` Atlantic
  (-04, not Arabia +03), ``MST`` US Mountain (-07, not Malaysia), ``GST`` Gulf
  (+04), ``MSK`` +03 (Moscow since 2014). An unknown word right after the time,
  a military letter other than ``Z`` (RFC 2822: unknown) or no zone at all
  leaves the zone unknown.

Never invented: anything else (relative words such as "yesterday", two
months, an unknown word, ``32/13/2024``, a bare year) is ``unparseable``. The
reading is then judged against ``seen`` (when newsmon first saw the item):

========================  ==============================================  ==============
what                      published                                       flag
========================  ==============================================  ==============
exact and plausible       the time                                        None
before 1990               ``seen``                                        ``too_old``
over 1 day after seen     ``seen``                                        ``future``
unparseable               ``seen``                                        ``unparseable``
date without a time       ``seen`` if it can be that day somewhere on     ``date_only``
                          Earth (UTC-12..UTC+14), else 00:00 UTC
time without a zone       ``seen`` if within UTC-12..UTC+14 of it, else   ``no_zone``
                          the time read as UTC
empty or absent           None                                            None
========================  ==============================================  ==============
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple

from monitor.sources.datetext import EN_MONTHS, ZONES, Found, parse_offset, read_free_text

__all__ = ["EARLIEST", "FUTURE_SLACK", "ZONES", "DateReading", "read_date"]

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
MAX_DATE_CHARS = 200
_EAST, _WEST = timedelta(hours=14), timedelta(hours=12)  # the widest zones from UTC


class DateReading(NamedTuple):
    when: datetime | None  # UTC; None only when the feed gave no date
    flag: str | None  # why ``when`` is not exactly what the feed said (see the module doc)


def read_date(text: object, seen: datetime) -> DateReading:
    """The UTC time ``text`` gives, judged against ``seen`` (see the module doc)."""
    if not isinstance(text, str) or not text.strip():
        return DateReading(None, None)
    found = _read(text) if len(text) <= MAX_DATE_CHARS else None
    if found is None:
        return DateReading(seen, "unparseable")
    return _judge(found, seen.astimezone(UTC))


def _judge(found: Found, seen: datetime) -> DateReading:
    if found.offset is not None and not found.dated_only:
        when = found.when.replace(tzinfo=_zone(found.offset)).astimezone(UTC)
        earliest = latest = when
        flag = None
    else:
        when = found.when.replace(tzinfo=UTC)
        earliest, latest = when - _EAST, when + _WEST + (timedelta(days=1) * found.dated_only)
        flag = "date_only" if found.dated_only else "no_zone"
    if latest < EARLIEST:
        return DateReading(seen, "too_old")
    if earliest > seen + FUTURE_SLACK:
        return DateReading(seen, "future")
    if flag is None:
        return DateReading(when, None)
    return DateReading(seen if earliest <= seen <= latest else min(when, seen), flag)


@lru_cache(maxsize=256)
def _zone(minutes: int) -> timezone:
    """The fixed zone ``minutes`` east of UTC (made once: most feeds use a few)."""
    return timezone(timedelta(minutes=minutes))


_COMMENT = re.compile(r"\([^()]*\)")
_CJK = re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?")
_DOTTED_AMPM = re.compile(r"\b([ap])\.\s?m\.")
_ZONE_OFFSET = re.compile(r"\b(?:gmt|utc|ut)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b")
_LETTER_DASH = re.compile(r"(?<=[^\W\d_])-|-(?=[^\W\d_])")
_SPACES = re.compile(r"\s+")
_ISO = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:(?:\s*t\s*|\s+)(\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(z|[a-z]{2,5}|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH = re.compile(r"(\d{9,10}|\d{12,13})(?:\.\d{1,9})?")


_RFC822 = re.compile(  # the common case, read without the general tokenizer
    r"(?:[a-z]{3}, ?)?(\d{1,2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2})(?::(\d{2}))?"
    r" ([+-]\d{4}|[a-z]{1,4})",
    re.IGNORECASE,
)


def _read(text: str) -> Found | None:
    if (m := _RFC822.fullmatch(text.strip())) and (month := EN_MONTHS.get(m[2].lower())):
        zone = m[7].lower()
        offset = parse_offset(zone) if zone[0] in "+-" else ZONES.get(zone)
        if offset is not None:
            try:
                when = datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6] or 0))
            except ValueError:
                return None
            return Found(when, offset, False)
    s = unicodedata.normalize("NFKC", text).lower().replace("\\(", " ").replace("\\)", " ")
    for _ in range(8):  # nested comments, innermost first
        s, found = _COMMENT.subn(" ", s)
        if not found:
            break
    s = _CJK.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d} ", s)
    s = _SPACES.sub(" ", s).strip()
    if m := _ISO.fullmatch(s):
        return _iso(m)
    if m := _EPOCH.fullmatch(s):
        seconds = int(m[1]) / (1000 if len(m[1]) > 10 else 1)
        return Found(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None), 0, False)
    s = _DOTTED_AMPM.sub(r"\1m", s)
    s = _ZONE_OFFSET.sub(lambda m: f" {m[1]}{int(m[2]):02d}{m[3] or '00'}", s)
    return read_free_text(_LETTER_DASH.sub(" ", s))


def _iso(m: re.Match[str]) -> Found | None:
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    offset: int | None = None
    if zone:
        offset = parse_offset(zone) if zone[0] in "+-" else ZONES.get(zone)
    try:
        if hour is None:
            return Found(datetime(int(year), int(month), int(day)), None, True)
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        when = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second or 0), 59),
            micro,
        )
    except ValueError:
        return None
    return Found(when, offset, False)
