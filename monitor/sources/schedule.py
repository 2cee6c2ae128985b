"""When to poll each feed next: pure arithmetic over a feed's state.

A feed's interval starts at its configured interval (or the schedule default)
and adapts to what it observes: a poll that brings new items shortens it by a
quarter, one that brings nothing lengthens it by a quarter, always within
[min_interval, max_interval]. A feed whose interval is set explicitly in config
keeps it. The server's own hints are a floor (RSS ``<ttl>``,
``Cache-Control: max-age``), capped at max_interval so no feed is ever left
unpolled longer than that. After an error the wait doubles with each
consecutive error up to max_backoff (however many errors a feed has piled up),
unless the server said when to come back (``Retry-After`` on 429/503): that
is honoured, but never sooner than min_interval (a ``Retry-After: 0`` must
not make a feed polled every second) and never later than max_backoff. The
first success resets the error count: a feed is never given up on. Every
delay gets +/- ``jitter`` so feeds do not move in lockstep.

The first polls of a start are spread too (:func:`first_delay`): over
``feeds / START_RATE`` seconds, at most min(the feed's own interval, 60 s), so
thousands of feeds do not all fetch in the first second while a handful start at
once, and a feed polled every 3 s is first polled within 3 s.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.config import ScheduleConfig

START_RATE = 50.0  # first polls per second a fresh start aims at
MAX_START_SPREAD = 60.0  # seconds: the first polls of a start are spread over at most this
_MAX_DOUBLINGS = 32  # 2**32 x min_interval is past any max_backoff; 2**1024 overflows

_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one poll observed."""

    ok: bool
    new_items: int = 0
    ttl: float | None = None  # RSS <ttl>, seconds
    max_age: float | None = None  # Cache-Control max-age, seconds
    retry_after: float | None = None  # seconds, from a 429/503


@dataclass(frozen=True, slots=True)
class Next:
    interval: float  # the feed's adapted interval, kept in its state
    delay: float  # seconds until the next poll, jitter included


def max_age(headers: Mapping[str, str]) -> float | None:
    """``Cache-Control: max-age`` (or s-maxage) in seconds; None if absent or no-cache."""
    value = headers.get("cache-control", "")
    if "no-cache" in value.lower() or "no-store" in value.lower():
        return None
    found = _MAX_AGE.search(value)
    return float(found.group(1)) if found else None


def plan(
    outcome: Outcome,
    *,
    interval: float | None,
    errors: int,
    config: ScheduleConfig,
    fixed: float | None = None,
    rng: random.Random | None = None,
) -> Next:
    """The next interval and delay after a poll.

    ``interval`` is the feed's current adapted interval (None before its first
    poll), ``errors`` its consecutive errors *including* this poll's if it
    failed, ``fixed`` the interval set for this feed in config, if any."""
    current = fixed or interval or config.interval
    if outcome.ok:
        current = fixed or _adapt(current, outcome.new_items, config)
        hint = max(outcome.ttl or 0.0, outcome.max_age or 0.0)
        delay = max(current, min(hint, config.max_interval))
    elif outcome.retry_after is not None:
        delay = max(min(outcome.retry_after, config.max_backoff), config.min_interval)
        return Next(current, delay)  # the server's time: no jitter shortens it
    else:
        base = max(config.min_interval, min(current, config.max_interval))
        doublings = min(max(errors - 1, 0), _MAX_DOUBLINGS)
        delay = min(base * 2.0**doublings, config.max_backoff)
    return Next(current, _jitter(delay, config.jitter, rng))


def _adapt(interval: float, new_items: int, config: ScheduleConfig) -> float:
    factor = 0.75 if new_items > 0 else 1.25
    return min(max(interval * factor, config.min_interval), config.max_interval)


def _jitter(delay: float, jitter: float, rng: random.Random | None) -> float:
    if jitter <= 0:
        return delay
    r = (rng or random).uniform(-jitter, jitter)
    return delay * (1.0 + r)


def first_delay(
    config: ScheduleConfig,
    feeds: int,
    rng: random.Random | None = None,
    *,
    interval: float | None = None,
) -> float:
    """The delay of a feed's first poll after a start (or of an overdue one), random
    in a window that grows with the number of ``feeds``: ``feeds / START_RATE``
    seconds, at most MAX_START_SPREAD and at most the feed's own ``interval`` (the
    schedule's when None), so a 3 s feed starts within 3 s however many others
    there are. Three feeds start within 0.06 s; 3,000 within a minute."""
    own = interval or config.interval
    window = min(feeds / START_RATE, own, MAX_START_SPREAD)
    return (rng or random).uniform(0.0, max(window, 0.0))
