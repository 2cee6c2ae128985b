"""The records of ``<prefix>.stories``: one desk partition's stories and what was decided.

A compacted topic, the same partition count as ``<prefix>.matches``; the owner of
matches partition k writes partition k. Keys and values (JSON)::

    s:<story_id>        {"v": 1, "row": [story_id, created, last_seen, title_sig,
                         lead_sig, data], "posted": [[alert_id, receiver, at], ...],
                         "escalations": [[story_id, route, version, severity, outlets,
                         within, at], ...]}
    m:<story_id>:<seq>  {"v": 1, "row": [story_id, seq, item_id, link_key, data]}

``row`` is the store's row as ``monitor.dedup`` wrote it (its JSON ``data`` is the
dedup stage's own), so a rebuilt StoryBook decides as the one that wrote it did. Each
member is written once, when it joins; the story record on every change. ``posted``
is every first alert decided for the story (the receivers that have it, escalations'
alerts included), ``escalations`` every escalation recorded: what the alerts stage
needs not to decide twice. A story that leaves the window is tombstoned, its members
with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.store import EscalationRow, MemberRow, OutboxRow, StoryRow

VERSION = 1


@dataclass
class Restored:
    """A changelog partition, decoded: the stories (rows and members) and decisions."""

    stories: dict[str, StoryRow] = field(default_factory=dict)
    members: dict[str, list[MemberRow]] = field(default_factory=dict)
    posted: list[OutboxRow] = field(default_factory=list)
    escalations: list[EscalationRow] = field(default_factory=list)
    unreadable: int = 0


def story_key(story_id: str) -> bytes:
    return f"s:{story_id}".encode()


def member_key(story_id: str, seq: int) -> bytes:
    return f"m:{story_id}:{seq}".encode()


def encode_story(
    row: StoryRow, posted: Iterable[OutboxRow], escalations: Iterable[EscalationRow]
) -> bytes:
    value = {
        "v": VERSION, "row": list(_story_values(row)),
        "posted": [[p.alert_id, p.receiver, p.created] for p in posted],
        "escalations": [[e.story_id, e.route, e.version, e.severity, e.outlets, e.within, e.at]
                        for e in escalations],
    }  # fmt: skip
    return _dump(value)


def encode_member(row: MemberRow) -> bytes:
    return _dump({"v": VERSION, "row": [row.story_id, row.seq, row.item_id, row.link_key,
                                        row.data]})  # fmt: skip


def decode(records: dict[bytes, bytes]) -> Restored:
    """A partition's last value per key, as :class:`Restored` (unreadable ones counted)."""
    out = Restored()
    for key, raw in records.items():
        try:
            kind = key.decode()[:2]
            value = json.loads(raw)
            if not isinstance(value, dict) or value.get("v") != VERSION:
                raise ValueError("unknown version")
            if kind == "s:":
                _story(out, value)
            elif kind == "m:":
                member = MemberRow(*value["row"])
                out.members.setdefault(member.story_id, []).append(member)
            else:
                raise ValueError(f"unknown key {key[:40]!r}")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            out.unreadable += 1
    for members in out.members.values():
        members.sort(key=lambda m: m.seq)
    return out


def _story(out: Restored, value: dict[str, Any]) -> None:
    row = StoryRow(*value["row"])
    out.stories[row.story_id] = row
    for alert_id, receiver, at in value["posted"]:
        out.posted.append(OutboxRow(str(alert_id), row.story_id, str(receiver), "sent", "{}",
                                    f"alert:{alert_id}", float(at), float(at),
                                    updated=float(at)))  # fmt: skip
    out.escalations += [EscalationRow(*e) for e in value["escalations"]]


def _story_values(row: StoryRow) -> tuple[object, ...]:
    return (row.story_id, row.created, row.last_seen, row.title_sig, row.lead_sig, row.data)


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
