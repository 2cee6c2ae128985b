"""Receiver options more than one sink takes: ``timezone`` (IANA, default UTC), the
zone a receiver's desk reads times in (UTC is always shown beside)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, tzinfo
from typing import Any

from monitor.config import values


def timezone(value: Any) -> tzinfo:
    """An IANA time zone (``Europe/Moscow``, ``UTC``), or :class:`values.Invalid`
    with a did-you-mean."""
    key = values.string(value).strip()
    if key.upper() in ("UTC", "Z"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = values.hint(key, zoneinfo.available_timezones())
        close = close if close.startswith(" (did you mean") else ""
        raise values.Invalid(
            f"expected an IANA time zone such as 'Europe/London', got {values.show(value)}{close}"
        ) from None


def zone_of(options: Any) -> tzinfo:
    """The receiver's ``timezone`` option (already checked at load), else UTC."""
    return timezone(options["timezone"]) if options.get("timezone") else UTC
