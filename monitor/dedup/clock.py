"""The story clock (pure): when an item happened, for the window and the event tier.

An item's time is its **published** time when that is plausible, else when newsmon
**first saw** it (``Item.seen``, never later than the processing time ``now``: a first
sighting cannot be in the future). Plausible: not after the first sighting (allowing
:data:`FUTURE_SKEW` for a publisher's clock running fast; a later one is a wrong time
zone or a scheduled post), and not more than :data:`MAX_AGE` before it (older is a
feed that dates every entry at its own creation, or 1970). So a backfill of week-old
items keeps their week-old times: they join each other, never today's stories, and a
two-day window or a twelve-hour event span holds for them as it does for live items.
"""

from __future__ import annotations

from datetime import datetime

from monitor.model import Item

FUTURE_SKEW = 10 * 60.0  # seconds a published time may run ahead of the first sighting
MAX_AGE = 30 * 86400.0  # seconds a published time may lie before it


def first_seen(item: Item, now: float) -> float:
    return min(item.seen.timestamp(), now)


def story_time(item: Item, now: float) -> float:
    """The item's time on the story clock (epoch seconds)."""
    seen = first_seen(item, now)
    published = _timestamp(item.published)
    if published is None or not seen - MAX_AGE <= published <= seen + FUTURE_SKEW:
        return seen
    return min(published, seen)


def _timestamp(ts: datetime | None) -> float | None:
    if ts is None:
        return None
    try:
        return ts.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
