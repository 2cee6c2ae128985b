"""The records of ``<prefix>.deliveries``: one receiver partition's delivery state.

A compacted topic, the same partition count as ``<prefix>.outbox``; the owner of outbox
partition k writes partition k. Keys and values (JSON, ``"v": 1``)::

    a:<alert_id>           {"row": [...OutboxRow], "attempt": 1720764301.2 | null}
    t:<story_id>:<rcv>     {"row": [...DeliveryRow, thread as an object]}
    s:<story_id>           {"story": {...}}          the story its alerts render from
    e:<story_id>:<route>   {"row": [...EscalationRow]}
    f:<group key>          {"at": ...}                a digest's last send (group_interval)
    b:<receiver>           {"until": ...}             a Retry-After's hold

``attempt`` is set (and awaited) before a send and cleared by its outcome: a row that a
new owner finds with it may have reached the receiver already (the documented window).
:func:`merge` reconciles the partition with what this daemon's own state file kept (a
daemon restarted on it knows what it sent even when the last change did not reach Kafka).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from monitor.model import Story
from monitor.store import DeliveryRow, EscalationRow, OutboxRow

VERSION = 1
DONE = ("sent", "muted", "dead")  # states a row leaves only by `newsmon alerts retry`


@dataclass
class Partition:
    rows: dict[str, OutboxRow] = field(default_factory=dict)
    attempted: set[str] = field(default_factory=set)  # rows with a send begun, no outcome
    told: dict[tuple[str, str], DeliveryRow] = field(default_factory=dict)
    stories: dict[str, Story] = field(default_factory=dict)
    escalations: list[EscalationRow] = field(default_factory=list)
    flushed: dict[str, float] = field(default_factory=dict)
    blocked: dict[str, float] = field(default_factory=dict)
    unreadable: int = 0


def row_key(alert_id: str) -> bytes:
    return f"a:{alert_id}".encode()


def told_key(story_id: str, receiver: str) -> bytes:
    return f"t:{story_id}:{receiver}".encode()


def story_key(story_id: str) -> bytes:
    return f"s:{story_id}".encode()


def row_value(row: OutboxRow, attempt: float | None = None) -> bytes:
    return _dump({"row": [getattr(row, f) for f in OutboxRow.__dataclass_fields__],
                  "attempt": attempt})  # fmt: skip


def told_value(t: DeliveryRow) -> bytes:
    return _dump({"row": [t.story_id, t.receiver, dict(t.thread), t.shown, t.shown_at, t.told,
                          t.told_at, t.followed_at]})  # fmt: skip


def story_value(story: Story) -> bytes:
    return _dump({"story": story.to_dict()})


def escalation(e: EscalationRow) -> tuple[bytes, bytes]:
    key = f"e:{e.story_id}:{e.route}".encode()
    return key, _dump({"row": [e.story_id, e.route, e.version, e.severity, e.outlets, e.within,
                               e.at]})  # fmt: skip


def flushed(group_key: str, at: float) -> tuple[bytes, bytes]:
    return f"f:{group_key}".encode(), _dump({"at": at})


def blocked(receiver: str, until: float) -> tuple[bytes, bytes]:
    return f"b:{receiver}".encode(), _dump({"until": until})


def decode(records: dict[bytes, bytes]) -> Partition:
    out = Partition()
    for key, raw in records.items():
        try:
            text = key.decode()
            value = json.loads(raw)
            if not isinstance(value, dict) or value.get("v") != VERSION:
                raise ValueError("unknown version")
            _one(out, text[:2], text[2:], value)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            out.unreadable += 1
    return out


def _one(out: Partition, kind: str, name: str, v: dict[str, Any]) -> None:
    if kind == "a:":
        row = OutboxRow(*v["row"])
        out.rows[row.alert_id] = row
        if v.get("attempt") is not None and row.state == "pending":
            out.attempted.add(row.alert_id)
    elif kind == "t:":
        sid, receiver, thread, *rest = v["row"]
        out.told[(sid, receiver)] = DeliveryRow(sid, receiver, tuple(sorted(thread.items())),
                                                *rest)  # fmt: skip
    elif kind == "s:":
        story = Story.from_dict(v["story"])
        out.stories[story.story_id] = story
    elif kind == "e:":
        out.escalations.append(EscalationRow(*v["row"]))
    elif kind == "f:":
        out.flushed[name] = float(v["at"])
    elif kind == "b:":
        out.blocked[name] = float(v["until"])
    else:
        raise ValueError(f"unknown key kind {kind!r}")


def pick(local: OutboxRow | None, shared: OutboxRow | None) -> OutboxRow | None:
    """The row to keep of this daemon's own (``local``) and the changelog's: the one that
    is done, else the one tried more often, else the later; the changelog on a tie."""
    if local is None or shared is None:
        return local or shared
    if (shared.state in DONE) != (local.state in DONE):
        return shared if shared.state in DONE else local
    if (local.attempts, local.updated) > (shared.attempts, shared.updated):
        return local
    return shared


def pick_told(local: DeliveryRow | None, shared: DeliveryRow | None) -> DeliveryRow | None:
    if local is None or shared is None:
        return local or shared

    def rank(t: DeliveryRow) -> tuple[float, ...]:
        return (t.told, t.shown, t.followed_at, t.told_at, t.shown_at)

    return local if rank(local) > rank(shared) else shared


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps({"v": VERSION, **value}, ensure_ascii=False,
                      separators=(",", ":")).encode()  # fmt: skip
