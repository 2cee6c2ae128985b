"""The records of ``<prefix>.outbox``: what the stories owner decided for one receiver.

One record per story change and receiver (keyed by the receiver, so one receiver's
records are in one partition, in order), JSON::

    {"v": 1, "receiver": "desk", "at": 1720764300.5, "story": {...},   # the story now
     "posts": [{"routed": {...}, "alert": {...}}],      # first alerts (an escalation's too)
     "syncs": [{...routed}],                            # "bring the receiver up to date"
     "escalations": [[story_id, route, version, severity, outlets, within, at]]}

The delivery owner applies it with the same ``Outbox.enqueue`` / ``enqueue_sync`` calls
the memory bus makes (at the decision's time ``at``), so digests, mute windows, the
retry horizon and the one pending sync per story stay as they are; ``story`` is what
its alerts render from (the copies seen while an alert waits are counted in it).
A route's escalation options stay with the stories owner: the record carries the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from monitor.alerts.route import Routed
from monitor.config.routes import TimeInterval
from monitor.model import Alert, Story
from monitor.store import EscalationRow

VERSION = 1


@dataclass(frozen=True, slots=True)
class Intent:
    receiver: str
    at: float
    story: Story
    posts: tuple[tuple[Routed, Alert], ...] = ()
    syncs: tuple[Routed, ...] = ()
    escalations: tuple[EscalationRow, ...] = ()


def routed_dict(r: Routed) -> dict[str, Any]:
    mute = [{"name": i.name, "times": [list(t) for t in i.times], "weekdays": list(i.weekdays),
             "location": i.location} for i in r.mute]  # fmt: skip
    return {"receiver": r.receiver, "route": r.route, "group_wait": r.group_wait,
            "group_interval": r.group_interval, "mute": mute, "group_by": list(r.group_by),
            "updates": r.updates, "update_interval": r.update_interval}  # fmt: skip


def routed_from(d: dict[str, Any]) -> Routed:
    mute = tuple(TimeInterval(str(i["name"]), tuple((int(a), int(b)) for a, b in i["times"]),
                              tuple(int(w) for w in i["weekdays"]), str(i["location"]))
                 for i in d["mute"])  # fmt: skip
    return Routed(str(d["receiver"]), str(d["route"]), float(d["group_wait"]),
                  float(d["group_interval"]), mute, tuple(str(g) for g in d["group_by"]),
                  str(d["updates"]), float(d["update_interval"]))  # fmt: skip


def encode(intent: Intent) -> bytes:
    return json.dumps({
        "v": VERSION, "receiver": intent.receiver, "at": intent.at,
        "story": intent.story.to_dict(),
        "posts": [{"routed": routed_dict(r), "alert": a.to_dict()} for r, a in intent.posts],
        "syncs": [routed_dict(r) for r in intent.syncs],
        "escalations": [list(_escalation(e)) for e in intent.escalations],
    }, ensure_ascii=False, separators=(",", ":")).encode()  # fmt: skip


def decode(raw: bytes) -> Intent:
    """An outbox record; ``ValueError`` for anything that is not one."""
    try:
        d = json.loads(raw)
        if not isinstance(d, dict) or d.get("v") != VERSION:
            raise ValueError(f"not an outbox record of version {VERSION}")
        return Intent(
            str(d["receiver"]), float(d["at"]), Story.from_dict(d["story"]),
            tuple((routed_from(p["routed"]), Alert.from_dict(p["alert"])) for p in d["posts"]),
            tuple(routed_from(r) for r in d["syncs"]),
            tuple(EscalationRow(*e) for e in d["escalations"]),
        )  # fmt: skip
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValueError(f"bad outbox record: {type(exc).__name__}: {exc}") from exc


def _escalation(e: EscalationRow) -> tuple[object, ...]:
    return (e.story_id, e.route, e.version, e.severity, e.outlets, e.within, e.at)
