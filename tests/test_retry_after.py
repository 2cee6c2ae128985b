"""The one Retry-After parser, shared by the fetcher and delivery."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.retry_after import parse_retry_after

NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def test_delay_seconds() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    assert parse_retry_after(" 120 ", NOW) == 120.0
    assert parse_retry_after("0", NOW) == 0.0


def test_http_dates_future_and_past() -> None:
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", NOW) == 0.0  # past: now
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60


def test_unreadable_values_are_none() -> None:
    for value in (None, "", "soon", "-5", "1.5", "Thu, 99 Foo 2026", "Mon, 01 Jan"):
        assert parse_retry_after(value, NOW) is None, value
