"""The records that flow between stages, and their versioned JSON envelope.

``Item`` (sources -> rules), ``Match`` (rules -> dedup/alerts), ``Story`` (dedup ->
alerts: a story as it stands) and ``Alert`` (alerts -> sinks) are frozen and hold
only plain values, so any stage can be fed, tested and benchmarked in isolation. On
a bus that serialises (Kafka), each record travels as an envelope::

    {"type": "item", "v": 1, "data": {...}}

``decode`` refuses unknown types and versions, and any envelope that is not
exactly what ``encode`` writes (a field missing, unknown or of the wrong type, a
time that is not ISO 8601 text, JSON nested too deep), with ``ValueError``
and nothing else, so a consumer can dead-letter it instead of guessing.

Modules: ``base`` (times, the field check), ``items`` (Item, Evidence, RuleHit,
Match), ``stories`` (Story, StoryMember), ``alerts`` (Alert), ``envelope``.
"""

from __future__ import annotations

from monitor.model.alerts import Alert
from monitor.model.base import SCHEMA_VERSION, from_json, iso, parse_iso, to_json, utcnow
from monitor.model.envelope import Record, decode, encode
from monitor.model.items import Evidence, Item, Match, RuleHit
from monitor.model.stories import EVENTS, MODES, SEVERITIES, Story, StoryMember

__all__ = [
    "EVENTS",
    "MODES",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "Alert",
    "Evidence",
    "Item",
    "Match",
    "Record",
    "RuleHit",
    "Story",
    "StoryMember",
    "decode",
    "encode",
    "from_json",
    "iso",
    "parse_iso",
    "to_json",
    "utcnow",
]
