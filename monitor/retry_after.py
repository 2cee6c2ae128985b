"""``Retry-After`` (RFC 9110): how long a server asked us to wait, in seconds.

One parser for every stage that talks HTTP: the fetcher (a feed answering 429 or
503) and delivery (a receiver answering 429 or 503). A stage may import this
module; stages still never import each other.
"""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds (``120``) or an
    HTTP-date (``Wed, 21 Oct 2015 07:28:00 GMT``; a date in the past is 0); None when
    absent or unreadable. ``now`` is Unix time (default: the clock)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
