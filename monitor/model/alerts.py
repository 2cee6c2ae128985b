"""Alert (alerts -> sinks): what a receiver is told of a story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.model.base import _OPT_STR, _STR, Fields, _checked, _show, iso, parse_iso, utcnow
from monitor.model.items import Evidence, _evidence, _evidence_dict
from monitor.model.stories import EVENTS, MODES, StoryMember


@dataclass(frozen=True, slots=True)
class Alert:
    """What a receiver is told of a story: the story as it stands, the rules it
    matched and the evidence, and what happened to it (``event``).

    ``mode`` says how: ``post`` a new message (a story created, or escalated for
    this receiver); ``edit`` bring the message already posted up to date in place
    (receivers that can: Slack's Web API); ``followup`` tell of a significant
    update (``changes``) beside the first message (a thread reply, a follow-up
    mail, an event). ``thread`` is the receiver's own reference to the story's
    first message (Slack channel and ts, an email's Message-ID), set on updates.

    ``to_dict`` is the JSONL line the file sink writes (ARCHITECTURE.md); the
    fields of the first version of newsmon are all there, so a ``created`` line
    reads as it always did."""

    alert_id: str
    story_id: str
    receiver: str
    rules: tuple[str, ...]
    severity: str
    title: str
    link: str | None
    source: str
    published: datetime | None
    matched: tuple[tuple[str, tuple[Evidence, ...]], ...]
    duplicates: tuple[str, ...] = ()
    summary: str = ""
    item_id: str = ""
    feed_url: str = ""
    created: datetime = field(default_factory=utcnow)
    item_seen: datetime | None = None  # when newsmon first saw the item (end-to-end latency)
    event: str = "created"  # one of EVENTS
    version: int = 1  # the story's version this alert shows (one more per change)
    outlets: tuple[str, ...] = ()  # every outlet that carried the story, the first first
    members: tuple[StoryMember, ...] = ()  # the story's items, in the order they joined
    changes: tuple[str, ...] = ()  # what is new since this receiver was last told
    mode: str = "post"  # one of MODES
    thread: tuple[tuple[str, str], ...] = ()  # the receiver's reference to its first message
    updated: datetime | None = None  # when the story last changed
    labels: tuple[tuple[str, str], ...] = ()  # its rules' labels (desk=defence), for silences

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "story_id": self.story_id,
            "receiver": self.receiver,
            "rules": list(self.rules),
            "severity": self.severity,
            "title": self.title,
            "link": self.link,
            "source": self.source,
            "published": iso(self.published),
            "matched": {
                term: [{k: v for k, v in _evidence_dict(e).items() if k != "term"} for e in ev]
                for term, ev in self.matched
            },
            "duplicates": list(self.duplicates),
            "summary": self.summary,
            "item_id": self.item_id,
            "feed_url": self.feed_url,
            "created": iso(self.created),
            "item_seen": iso(self.item_seen),
            "event": f"story.{self.event}",
            "version": self.version,
            "outlets": list(self.outlets),
            "members": [m.to_dict() for m in self.members],
            "changes": list(self.changes),
            "mode": self.mode,
            "thread": dict(self.thread),
            "updated": iso(self.updated),
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, d: object) -> Alert:
        f = _checked(d, "alert", _ALERT_REQUIRED, _ALERT_OPTIONAL)
        matched: dict[str, Any] = f.get("matched", {})
        if not all(isinstance(ev, list) for ev in matched.values()):
            raise ValueError("alert.matched holds something other than lists of evidence")
        texts = (
            *f["rules"],
            *f.get("duplicates", ()),
            *f.get("outlets", ()),
            *f.get("changes", ()),
        )
        if not all(type(x) is str for x in texts):
            raise ValueError("alert.rules, duplicates, outlets and changes hold strings only")
        event, mode = f.get("event", "story.created").removeprefix("story."), f.get("mode", "post")
        if event not in EVENTS or mode not in MODES:
            raise ValueError(f"alert.event or alert.mode unknown: {_show(event)}, {_show(mode)}")
        thread, named = f.get("thread", {}), f.get("labels", {})
        if not all(type(v) is str for v in (*thread.values(), *named.values())):
            raise ValueError("alert.thread and alert.labels hold something other than strings")
        return cls(
            alert_id=f["alert_id"],
            story_id=f["story_id"],
            receiver=f["receiver"],
            rules=tuple(f["rules"]),
            severity=f["severity"],
            title=f["title"],
            link=f.get("link"),
            source=f["source"],
            published=parse_iso(f.get("published")),
            matched=tuple(
                (term, tuple(_evidence(e, term) for e in ev)) for term, ev in matched.items()
            ),
            duplicates=tuple(f.get("duplicates", ())),
            summary=f.get("summary", ""),
            item_id=f.get("item_id", ""),
            feed_url=f.get("feed_url", ""),
            created=parse_iso(f.get("created")) or utcnow(),
            item_seen=parse_iso(f.get("item_seen")),
            event=event,
            version=f.get("version", 1),
            outlets=tuple(f.get("outlets", ())),
            members=tuple(StoryMember.from_dict(m) for m in f.get("members", ())),
            changes=tuple(f.get("changes", ())),
            mode=mode,
            thread=tuple(sorted(thread.items())),
            updated=parse_iso(f.get("updated")),
            labels=tuple(sorted(named.items())),
        )


_ALERT_REQUIRED: Fields = {
    "alert_id": _STR,
    "story_id": _STR,
    "receiver": _STR,
    "rules": (list,),
    "severity": _STR,
    "title": _STR,
    "source": _STR,
}
_ALERT_OPTIONAL: Fields = {
    "link": _OPT_STR, "published": _OPT_STR, "matched": (dict,), "duplicates": (list,),
    "summary": _STR, "item_id": _STR, "feed_url": _STR, "created": _OPT_STR, "item_seen": _OPT_STR,
    "event": _STR, "version": (int,), "outlets": (list,), "members": (list,), "changes": (list,),
    "mode": _STR, "thread": (dict,), "updated": _OPT_STR, "labels": (dict,),
}  # fmt: skip
