"""Converters: a plain value from YAML -> a setting, or :class:`Invalid` saying what
was expected and what was given (never showing a secret).

Durations are seconds (``30``, ``0.5``) or ``90s``, ``5m``, ``1h30m``, ``2d``; sizes
are bytes or ``64KiB``, ``10MiB``, ``1MB``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from monitor.config.secrets import Secret

Conv = Callable[[Any], Any]
MISSING: Any = object()  # a value already reported as a problem
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_BYTES = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_BYTES |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}


class Invalid(Exception):
    """A value is unusable; the message says what was expected and what was given."""


def show(value: Any) -> str:
    """A value for an error message: short, and never a secret."""
    if isinstance(value, Secret):
        return "a value from ${...} (hidden)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def plain(value: Any) -> Any:
    """The value with a :class:`Secret` revealed."""
    return value.reveal() if isinstance(value, Secret) else value


def hint(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)``, else `` (expected one of: ...)``; "" if nothing is known."""
    known = sorted(known)
    if not known:
        return ""
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(known)})"


def seconds(value: float) -> str:
    """A duration for a message: ``90s``."""
    return f"{value:g}s"


def duration(value: Any) -> float:
    """Positive seconds from ``30``, ``0.5``, ``'90s'``, ``'5m'``, ``'1h30m'``, ``'2d'``."""
    v = plain(value)
    secs: float | None = None
    if isinstance(v, int | float) and not isinstance(v, bool):
        secs = float(v)
    elif isinstance(v, str) and _DURATION.fullmatch(text := v.replace(" ", "")):
        secs = sum(float(n) * _SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if secs is None:
        raise Invalid(f"expected a duration such as 30, '90s', '5m' or '1h30m', got {show(value)}")
    if not (math.isfinite(secs) and secs > 0):
        raise Invalid(f"expected a positive duration, got {show(value)}")
    return secs


def size(value: Any) -> int:
    """Positive bytes from ``65536``, ``'64KiB'``, ``'10MiB'``, ``'1MB'``."""
    v = plain(value)
    n: int | None = None
    if isinstance(v, int) and not isinstance(v, bool):
        n = v
    elif isinstance(v, str) and (m := _SIZE.fullmatch(v.strip().lower())) and m[2] in _BYTES:
        n = int(float(m[1]) * _BYTES[m[2]])
    if n is None or n <= 0:
        raise Invalid(
            f"expected a positive size such as 65536, '64KiB' or '10MiB', got {show(value)}"
        )
    return n


def integer(lo: int, hi: int) -> Conv:
    """A whole number from ``lo`` to ``hi`` (a numeric string too)."""

    def conv(value: Any) -> int:
        v = plain(value)
        if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise Invalid(f"expected a whole number from {lo} to {hi}, got {show(value)}")
        return v

    return conv


def real(lo: float, hi: float, *, above: bool = False) -> Conv:
    """A number from ``lo`` (or above it) to ``hi``."""

    def conv(value: Any) -> float:
        v = plain(value)
        try:
            number = float(v) if not isinstance(v, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not (lo < number <= hi if above else lo <= number <= hi):
            low = f"above {lo:g}" if above else f"from {lo:g}"
            raise Invalid(f"expected a number {low} to {hi:g}, got {show(value)}")
        return number

    return conv


def string(value: Any) -> str:
    """A non-empty string (a number is taken as its text)."""
    v = plain(value)
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str) or not v.strip():
        raise Invalid(f"expected a non-empty string, got {show(value)}")
    return v


def secret_string(value: Any) -> str | Secret:
    """:func:`string`, kept a :class:`Secret` when it came from ``${...}``."""
    text = string(value)
    return Secret(text) if isinstance(value, Secret) else text


def boolean(value: Any) -> bool:
    """true/false, also as yes/no/on/off strings."""
    v = plain(value)
    if isinstance(v, str) and v.lower() in ("true", "false", "yes", "no", "on", "off"):
        v = v.lower() in ("true", "yes", "on")
    if not isinstance(v, bool):
        raise Invalid(f"expected true or false, got {show(value)}")
    return v


def choice(*options: str) -> Conv:
    """One of ``options``, case-insensitively; returned lower-cased."""

    def conv(value: Any) -> str:
        v = plain(value)
        if isinstance(v, str) and v.lower() in options:
            return v.lower()
        close = hint(v, options) if isinstance(v, str) else ""
        raise Invalid(f"expected {' | '.join(options)}, got {show(value)}{close}")

    return conv


def strings(value: Any) -> tuple[str, ...]:
    """Non-empty strings from a list or a comma-separated string, stripped."""
    v = plain(value)
    items = v.split(",") if isinstance(v, str) else v
    if not isinstance(items, list):
        raise Invalid(f"expected a list or a comma-separated string, got {show(value)}")
    return tuple(string(item).strip() for item in items)


# --- nodes ---------------------------------------------------------------------------
