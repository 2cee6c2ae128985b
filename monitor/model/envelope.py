"""The versioned JSON envelope records travel in on a bus that serialises (Kafka)."""

from __future__ import annotations

import json
import math

from monitor.model.alerts import Alert
from monitor.model.base import SCHEMA_VERSION, _show, to_json
from monitor.model.items import Item, Match
from monitor.model.stories import Story

Record = Item | Match | Alert | Story
_TYPES: dict[str, type[Item] | type[Match] | type[Alert] | type[Story]] = {
    "item": Item,
    "match": Match,
    "alert": Alert,
    "story": Story,
}
_NAMES = {v: k for k, v in _TYPES.items()}


def encode(record: Record) -> bytes:
    """The versioned JSON envelope of a record, as UTF-8 bytes."""
    envelope = {"type": _NAMES[type(record)], "v": SCHEMA_VERSION, "data": record.to_dict()}
    return to_json(envelope)


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # json.loads reads NaN and Infinity; RFC 8259 has none


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _int(text: str) -> int:
    value = int(text)  # ValueError past 4,300 digits
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"integer out of range: {text[:40]}")
    return value


def decode(raw: bytes) -> Record:
    """Inverse of :func:`encode`; ``ValueError``, and only that, on anything else. What
    :func:`~monitor.model.base.to_json` could not write again is refused here: NaN,
    Infinity, a number out of a double's range, an integer out of 64 bits."""
    try:
        envelope = json.loads(raw, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ValueError(f"not a JSON envelope: {exc}") from exc
    except RecursionError:
        raise ValueError("not a JSON envelope: nested too deeply") from None
    if not isinstance(envelope, dict):
        raise ValueError("envelope is not an object")
    kind, version = envelope.get("type"), envelope.get("v")
    if type(kind) is not str or kind not in _TYPES:
        raise ValueError(f"unknown record type {_show(kind)}")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise ValueError(f"unknown schema version {_show(version)} for {kind}")
    if set(envelope) != {"type", "v", "data"}:
        raise ValueError(f"envelope fields are {sorted(envelope)[:5]}, not type, v and data")
    try:
        return _TYPES[kind].from_dict(envelope["data"])
    except ValueError as exc:
        raise ValueError(f"bad {kind} record: {exc}") from exc
    except (KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        # what the type checks above should already have refused: still a bad record
        raise ValueError(f"bad {kind} record: {type(exc).__name__}: {exc}") from exc
