"""What every record shares: UTC times as ISO 8601 text, the strict field check
``from_dict`` runs (exact types, no unknown field, every required one), and the JSON
text records are kept and sent as (:func:`to_json`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

SCHEMA_VERSION = 1
Fields = dict[str, tuple[type, ...]]  # field name -> the JSON types it may have
_STR, _OPT_STR = (str,), (str, type(None))


def to_json(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8, non-ASCII as it is (``orjson``: an alert's
    payload, a story's rows and a bus envelope in a third of ``json.dumps``'s time; every
    newsmon record and story row encodes a tree of str-keyed dicts, lists, str, numbers)."""
    return orjson.dumps(value)


def from_json(text: str | bytes) -> Any:
    """What :func:`to_json` wrote, or ``json.dumps`` before it (``ValueError`` on anything
    else). For newsmon's own rows; a bus message is read by :func:`~monitor.model.decode`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # a row an older newsmon wrote: NaN and Infinity were JSON


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: object) -> datetime | None:
    """An ISO 8601 time as UTC; None for None or ""; ``ValueError`` for anything else."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 time, got {type(text).__name__}")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError as exc:  # e.g. year 1 at +01:00: before datetime.min in UTC
        raise ValueError(f"time out of range: {text[:40]!r}") from exc


def _checked(
    d: object, what: str, required: Fields, optional: Fields | None = None
) -> dict[str, Any]:
    """``d`` if it is an object with every ``required`` field, no field it does not
    know, and each of the types listed for it (exactly: ``True`` is not an int);
    else ``ValueError`` naming the first problem."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} is {type(d).__name__}, not an object")
    optional = optional or {}
    for key, value in d.items():
        types = required.get(key) or optional.get(key)
        if types is None:
            raise ValueError(f"{what} has an unknown field {str(key)[:40]!r}")
        if type(value) not in types:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ValueError(f"{what}.{key} is {type(value).__name__}, expected {expected}")
    if missing := [key for key in required if key not in d]:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    return d


def _show(value: object) -> str:
    """A bounded repr of a scalar; a container by its type alone."""
    if value is None or type(value) in (str, int, float, bool):
        return repr(value)[:40]
    return type(value).__name__
