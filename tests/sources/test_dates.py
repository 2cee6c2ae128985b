"""The date table: every form newsmon reads, and the cases where it must not invent one.

``SEEN`` is when newsmon first saw the item; every flagged row falls back to it
(or, for a date-only or zone-less reading far from it, to the nominal reading).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.sources.dates import DateReading, read_date

SEEN = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
T = datetime(2024, 3, 5, 7, 15, tzinfo=UTC)  # 10:15 at +03:00, the time most rows give


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


EXACT = [
    # RFC 822 / 2822, as RSS says it
    ("Tue, 05 Mar 2024 10:15:00 +0300", T),
    ("Tue, 5 Mar 2024 10:15 +0300", T),
    ("Tue, 05 Mar 2024 07:15:00 GMT", T),
    ("Tue, 05 Mar 2024 07:15:00 UT", T),
    ("Tue, 05 Mar 2024 07:15:00 Z", T),
    ("tUe, 05 mAR 2024 10:15:00 +03:00", T),
    ("Tue,05 Mar 2024 10:15:00 +0300", T),
    ("05 Mar 2024 10:15:00 +0300", T),
    ("Tue, 05 Mar 24 10:15:00 +0300", T),  # two-digit year, RFC 2822's rule
    ("Sun, 31 Dec 99 23:59:59 +0000", utc(1999, 12, 31, 23, 59, 59)),
    ("Tue(day), 05(th) Mar(ch) 2024 10:15:00 +0300 (local)", T),  # RFC 822 comments
    ("Tue, 05 Mar 2024 10:15:00 GMT+3", T),
    ("Tue, 05 Mar 2024 10:15:00 UTC+03:00", T),
    ("Tue, 05 Mar 2024 10:15:00 -0234", utc(2024, 3, 5, 12, 49)),
    # zone abbreviations (the ambiguous ones as documented in monitor/sources/dates.py)
    ("Tue, 05 Mar 2024 08:15:00 CET", T),
    ("Tue, 05 Mar 2024 09:15:00 CEST", T),
    ("Tue, 05 Mar 2024 08:15:00 BST", T),
    ("Tue, 05 Mar 2024 10:15:00 MSK", T),
    ("Tue, 05 Mar 2024 10:15:00 TRT", T),
    ("Tue, 05 Mar 2024 16:15:00 JST", T),
    ("Tue, 05 Mar 2024 17:15:00 AEST", T),
    ("Tue, 05 Mar 2024 02:15:00 EST", T),
    ("Tue, 05 Mar 2024 03:15:00 EDT", T),
    ("Tue, 04 Mar 2024 23:15:00 PST", T),
    ("Tue, 05 Mar 2024 00:15:00 PDT", T),
    ("Tue, 05 Mar 2024 01:15:00 CST", T),
    ("Tue, 05 Mar 2024 12:45:00 IST", T),
    ("Tue, 05 Mar 2024 08:15:00 MEZ", T),
    ("Tue, 05 Mar 2024 16:15:00 KST", T),
    ("Tue, 05 Mar 2024 07:15:00 pDt", utc(2024, 3, 5, 14, 15)),
    # 12-hour clocks
    ("March 5, 2024 10:15 AM +0300", T),
    ("March 5, 2024 10:15 a.m. +0300", T),
    ("March 4, 2024 11:15 PM PST", T),
    ("March 4, 2024 11:15pm PST", T),
    ("5 March 2024 12:15 AM GMT", utc(2024, 3, 5, 0, 15)),
    ("5 March 2024 12:15 PM GMT", utc(2024, 3, 5, 12, 15)),
    ("5 March 2024 7 AM GMT", utc(2024, 3, 5, 7, 0)),
    # ISO 8601 / RFC 3339 / W3C-DTF, extended and basic
    ("2024-03-05T10:15:00+03:00", T),
    ("2024-03-05T07:15:00Z", T),
    ("2024-03-05t07:15:00z", T),
    ("2024-03-05T07:15:00.52Z", utc(2024, 3, 5, 7, 15, 0, 520000)),
    ("2024-03-05T10:15+03:00", T),
    ("2024-03-05 10:15:00 +0300", T),
    ("2024-03-05 T 10:15:00+03:00", T),
    ("20240305T101500+0300", T),
    ("20240305T071500Z", T),
    ("20240305T10:15:00+03:00", T),
    ("2024-03-05T101500+03", T),
    ("2024-03-05T07:15:00 GMT", T),
    # epoch seconds and milliseconds
    ("1709622900", T),
    ("1709622900.5", T),
    ("1709622900000", T),
    # month and weekday names, in the languages a desk reads
    ("mardi 5 mars 2024 10:15 +0300", T),
    ("le 5 mars 2024 à 10h15 +0300", T),
    ("mar., 5 mars 2024 10:15:00 +0300", T),
    ("Dienstag, 5. März 2024, 10:15 Uhr +0300", T),
    ("Di, 05 Mrz 2024 10:15:00 +0300", T),
    ("martes, 5 de marzo de 2024 10:15 +0300", T),
    ("mar, 05 mar 2024 10:15:00 +0300", T),
    ("terça-feira, 5 de março de 2024 às 10:15 +0300", T),
    ("ter, 05 mar 2024 10:15:00 +0300", T),
    ("вторник, 5 марта 2024 г., 10:15 MSK", T),
    ("Вт, 05 мар 2024 10:15:00 +0300", T),
    ("Salı, 05 Mart 2024 10:15:00 +0300", T),
    ("05 MART 2024 SALI 10:15 +0300", T),
    ("5 Ağustos 2023 10:15 +0300", utc(2023, 8, 5, 7, 15)),
    ("martedì 5 marzo 2024 10:15 +0300", T),
    ("dinsdag 5 maart 2024 10:15 +0300", T),
    ("5 août 2023 10:15 +0300", utc(2023, 8, 5, 7, 15)),
    ("5 juil. 2023 10:15 +0300", utc(2023, 7, 5, 7, 15)),
    ("5 juin 2023 10:15 +0300", utc(2023, 6, 5, 7, 15)),
    ("5 Dez 2023 10:15 +0300", utc(2023, 12, 5, 7, 15)),
    ("Tuesday, March 5th, 2024 at 10:15 AM +0300", T),
    ("05-Mar-2024 10:15:00 +0300", T),
    ("Tue Mar 5 10:15:00 +0300 2024", T),  # asctime-like
    # numeric dates where the order is not in doubt
    ("2024/03/05 10:15:00 +0300", T),
    ("05.03.2024 10:15 +0300", T),
    ("2024年3月5日 10:15 +0300", T),
    ("2024년 3월 5일 10:15 +0300", T),
]


@pytest.mark.parametrize(("text", "expected"), EXACT)
def test_exact_dates(text: str, expected: datetime) -> None:
    assert read_date(text, SEEN) == DateReading(expected, None)


NOT_EXACT = [
    # never invented: these fall back to first-seen time, flagged
    ("yesterday", SEEN, "unparseable"),
    ("2 hours ago", SEEN, "unparseable"),
    ("vor 2 Stunden", SEEN, "unparseable"),
    ("today 10:15", SEEN, "unparseable"),
    ("32/13/2024", SEEN, "unparseable"),
    ("03/05/2024 10:15 +0300", SEEN, "unparseable"),  # 3 May or 5 March? not guessed
    ("2003-13-01T15:51:30-05:00", SEEN, "unparseable"),
    ("2003-06-31T15:51:30-05:00", SEEN, "unparseable"),
    ("2003-07-01T25:51:30-05:00", SEEN, "unparseable"),
    ("Tue, 05 Mar 2024 10:15:00 +2500", SEEN, "unparseable"),
    ("2024", SEEN, "unparseable"),
    ("2024-03", SEEN, "unparseable"),
    ("March 2024", SEEN, "unparseable"),
    ("5 March", SEEN, "unparseable"),  # no year: not taken from today
    ("12345", SEEN, "unparseable"),
    ("insert published date here", SEEN, "unparseable"),
    ("Tue, 05 Foo 2024 10:15:00 +0300", SEEN, "unparseable"),
    ("x" * 300, SEEN, "unparseable"),
    ("99999999999", SEEN, "unparseable"),  # 11 digits: not an epoch
    ("4102444800", SEEN, "future"),  # epoch of 2100
    ("599616000", SEEN, "too_old"),  # epoch of 1989-01-01
    ("631152000", datetime(1990, 1, 1, tzinfo=UTC), None),  # 1990-01-01: the earliest taken
    ("Tue, 09 Feb 2106 23:59:45 +0000", SEEN, "future"),
    ("2103-12-13T18:30:02Z", SEEN, "future"),
    ("13/03/2024 10:15 +0300", SEEN, "future"),
    ("Fri, 06 May 1983 09:00:00 CST", SEEN, "too_old"),
    ("Thu, 04 Jul 1776 18:30:02 GMT", SEEN, "too_old"),
    ("0103-12-13T18:30:02Z", SEEN, "too_old"),
    # a date without a time: the first-seen time when it can be that day anywhere ...
    ("2024-03-05", SEEN, "date_only"),
    ("20240305", SEEN, "date_only"),
    ("2024年3月5日", SEEN, "date_only"),
    ("5 mars 2024", SEEN, "date_only"),
    ("2024-03-04", SEEN, "date_only"),  # UTC-12 is still on the 4th at 12:00 UTC on the 5th
    # ... else that day at 00:00 UTC, never a later time than seen
    ("2019-05-01", utc(2019, 5, 1), "date_only"),
    ("Wed, 01 May 2019", utc(2019, 5, 1), "date_only"),
    ("2024-03-06", SEEN, "date_only"),
    # a time without a zone: the first-seen time when it is within the zones of it ...
    ("2024-03-05T10:15:00", SEEN, "no_zone"),
    ("Tue, 05 Mar 2024 10:15:00", SEEN, "no_zone"),
    ("Tue, 05 Mar 2024 10:15:00 XYZT", SEEN, "no_zone"),  # a zone we cannot read
    ("Tue, 05 Mar 2024 10:15:00 G", SEEN, "no_zone"),  # military: unknown (RFC 2822)
    ("2024年3月5日 10:15", SEEN, "no_zone"),
    # ... else the time as if UTC
    ("2019-05-01T10:15:00", utc(2019, 5, 1, 10, 15), "no_zone"),
    ("5 May 2019 10:15 PM", utc(2019, 5, 5, 22, 15), "no_zone"),
]


@pytest.mark.parametrize(("text", "expected", "flag"), NOT_EXACT)
def test_dates_not_taken_as_given(text: str, expected: datetime, flag: str | None) -> None:
    assert read_date(text, SEEN) == DateReading(expected, flag)


@pytest.mark.parametrize("text", [None, "", "   ", 12, ["2024-03-05"]])
def test_no_date_is_no_date(text: object) -> None:
    assert read_date(text, SEEN) == DateReading(None, None)


def test_seen_in_another_zone_is_compared_in_utc() -> None:
    from datetime import timedelta, timezone

    seen = SEEN.astimezone(timezone(timedelta(hours=5)))
    assert read_date("Tue, 05 Mar 2024 10:15:00 +0300", seen) == DateReading(T, None)
    assert read_date("yesterday", seen).when == SEEN


def test_table_size() -> None:
    """Every form the issue lists is in the table (a guard against it shrinking)."""
    assert len(EXACT) + len(NOT_EXACT) >= 120
