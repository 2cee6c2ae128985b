from __future__ import annotations

import random

import pytest

from monitor.config import ScheduleConfig
from monitor.sources.schedule import (
    MAX_START_SPREAD,
    START_RATE,
    Outcome,
    first_delay,
    max_age,
    plan,
)

CFG = ScheduleConfig(interval=300, min_interval=60, max_interval=3600, jitter=0.0, max_backoff=7200)


@pytest.mark.parametrize(
    ("outcome", "interval", "errors", "fixed", "expected_interval", "expected_delay"),
    [
        # new items shorten the interval, quiet polls lengthen it, within [min, max]
        (Outcome(ok=True, new_items=3), 300.0, 0, None, 225.0, 225.0),
        (Outcome(ok=True, new_items=0), 300.0, 0, None, 375.0, 375.0),
        (Outcome(ok=True, new_items=5), 70.0, 0, None, 60.0, 60.0),
        (Outcome(ok=True, new_items=0), 3500.0, 0, None, 3600.0, 3600.0),
        (Outcome(ok=True), None, 0, None, 375.0, 375.0),  # first poll starts at the default
        # a fixed per-feed interval does not adapt
        (Outcome(ok=True, new_items=9), 120.0, 0, 120.0, 120.0, 120.0),
        # server hints are a floor, capped at max_interval
        (Outcome(ok=True, new_items=1, ttl=1800.0), 300.0, 0, None, 225.0, 1800.0),
        (Outcome(ok=True, new_items=1, max_age=900.0), 300.0, 0, None, 225.0, 900.0),
        (Outcome(ok=True, new_items=1, ttl=86400.0), 300.0, 0, None, 225.0, 3600.0),
        # errors back off exponentially up to max_backoff
        (Outcome(ok=False), 300.0, 1, None, 300.0, 300.0),
        (Outcome(ok=False), 300.0, 2, None, 300.0, 600.0),
        (Outcome(ok=False), 300.0, 4, None, 300.0, 2400.0),
        (Outcome(ok=False), 300.0, 30, None, 300.0, 7200.0),
        # however many errors piled up (persisted across restarts): max_backoff, no overflow
        (Outcome(ok=False), 300.0, 1025, None, 300.0, 7200.0),
        (Outcome(ok=False), 300.0, 10**9, None, 300.0, 7200.0),
        # Retry-After wins, from min_interval up to max_backoff
        (Outcome(ok=False, retry_after=420.0), 300.0, 1, None, 300.0, 420.0),
        (Outcome(ok=False, retry_after=99999.0), 300.0, 1, None, 300.0, 7200.0),
        (Outcome(ok=False, retry_after=0.0), 300.0, 1, None, 300.0, 60.0),
        (Outcome(ok=False, retry_after=1.0), 300.0, 3, None, 300.0, 60.0),
        (Outcome(ok=False, retry_after=42.0), 300.0, 1, None, 300.0, 60.0),
    ],
)
def test_plan(
    outcome: Outcome,
    interval: float | None,
    errors: int,
    fixed: float | None,
    expected_interval: float,
    expected_delay: float,
) -> None:
    nxt = plan(outcome, interval=interval, errors=errors, config=CFG, fixed=fixed)
    assert nxt.interval == pytest.approx(expected_interval)
    assert nxt.delay == pytest.approx(expected_delay)


def test_recovery_after_errors_returns_to_normal_interval() -> None:
    failing = plan(Outcome(ok=False), interval=300.0, errors=5, config=CFG)
    assert failing.delay == 4800.0
    recovered = plan(Outcome(ok=True, new_items=1), interval=failing.interval, errors=0, config=CFG)
    assert recovered.delay == 225.0


def test_jitter_stays_within_bounds_and_varies() -> None:
    cfg = ScheduleConfig(interval=300, jitter=0.1)
    rng = random.Random(7)
    delays = {
        plan(Outcome(ok=True), interval=300.0, errors=0, config=cfg, rng=rng).delay
        for _ in range(50)
    }
    assert all(375 * 0.9 <= d <= 375 * 1.1 for d in delays)
    assert len(delays) > 40


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=120, must-revalidate", 120.0),
        ('s-maxage="30"', 30.0),
        ("no-cache, max-age=600", None),
        ("private", None),
        ("", None),
    ],
)
def test_max_age(header: str, expected: float | None) -> None:
    assert max_age({"cache-control": header} if header else {}) == expected


@pytest.mark.parametrize("feeds", [1, 3, 30, 3000, 100_000])
def test_first_polls_are_spread_with_the_number_of_feeds(feeds: int) -> None:
    cfg = ScheduleConfig(interval=300, jitter=0.0)
    rng = random.Random(3)
    delays = [first_delay(cfg, feeds, rng) for _ in range(500)]
    window = min(feeds / START_RATE, MAX_START_SPREAD)
    assert all(0.0 <= d <= window for d in delays)
    assert max(delays) > window * 0.9  # the whole window is used, not its start only


def test_first_polls_are_spread_within_the_interval() -> None:
    cfg = ScheduleConfig(interval=2, min_interval=1, max_interval=5, jitter=0.0)
    delays = [first_delay(cfg, 10_000, random.Random(n)) for n in range(200)]
    assert all(0.0 <= d <= 2.0 for d in delays)
