"""Stories for the web: the list (filters, search) and one story's audit.

The list is the stories of the window, the latest update first, each with its
severity, rules, outlets, entities (the terms its rules matched: what a silence's
``entity=`` matches) and the receivers it went to. The audit of one story is its
members in join order, each with how it joined (tier, score, the member it
matched), its near miss, the evidence per rule, and every alert and update sent
to each receiver with its state (a muted one names its silence).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.alerts.render import safe_link
from monitor.dedup.stories import Member, Story
from monitor.model import SEVERITIES, RuleHit, iso
from monitor.store import OutboxRow
from monitor.web.desk import Desk, Problem, when

MAX_LIMIT = 1000
MAX_QUERY = 200  # characters of a title search


@dataclass(frozen=True, slots=True)
class StoryFilter:
    rule: str | None = None
    severity: str | None = None
    entity: str | None = None
    receiver: str | None = None
    q: str | None = None
    limit: int = 200

    @classmethod
    def of(cls, query: Mapping[str, str]) -> StoryFilter:
        """From a request's query string; Problem(400) names a bad value."""
        got = {k: (query.get(k) or "").strip() or None for k in ("rule", "severity", "entity",
                                                                  "receiver", "q")}  # fmt: skip
        if got["severity"] is not None and got["severity"] not in SEVERITIES:
            raise Problem(400, f"severity: expected one of {', '.join(SEVERITIES)}", "severity")
        if got["q"] is not None and len(got["q"]) > MAX_QUERY:
            raise Problem(400, f"q: at most {MAX_QUERY} characters", "q")
        return cls(**got, limit=_limit(query.get("limit"), 200))

    def accepts(self, story: Story, receivers: set[str]) -> bool:
        if self.rule is not None and self.rule not in story.rules:
            return False
        if self.severity is not None and story.severity != self.severity:
            return False
        if self.entity is not None and self.entity.casefold() not in {
            e.casefold() for e in entities(story)
        }:
            return False
        if self.receiver is not None and self.receiver not in receivers:
            return False
        if self.q is not None:
            needle = self.q.casefold()
            return any(needle in m.item.title.casefold() for m in story.members)
        return True

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "entity": self.entity,
                "receiver": self.receiver, "q": self.q, "limit": self.limit}  # fmt: skip


def _limit(text: str | None, default: int) -> int:
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise Problem(400, f"limit: expected a whole number from 1 to {MAX_LIMIT}", "limit")
    return int(text)


def entities(story: Story) -> list[str]:
    """The terms the story's rules matched, over every member, in order of first match."""
    terms = [e.term for m in story.members for h in m.hits for e in h.evidence]
    terms += [e.term for h in story.hits for e in h.evidence]
    return list(dict.fromkeys(terms))


def changed(desk: Desk) -> str:
    """A tag that changes whenever the list may have: a story changed or left the store
    (one index read), the rules were reloaded, or a minute passed (the window moved)."""
    count, last = desk.store.stories_changed()
    return f"{count}-{last:.6f}-{id(desk.engine()):x}-{int(desk.clock() // 60)}"


def story_list(desk: Desk, wanted: StoryFilter) -> dict[str, Any]:
    ids = desk.store.story_ids_since(desk.clock() - desk.book.window)
    receivers = desk.store.outbox_receivers(ids)
    stories = [s for sid in ids if (s := desk.book.get(sid)) is not None]
    stories.sort(key=lambda s: (s.last_seen, s.created), reverse=True)
    summaries = _summaries(desk, stories, receivers)
    shown = [s for s in stories if wanted.accepts(s, receivers.get(s.story_id, set()))]
    terms = Counter(t for s in summaries.values() for t in s["entities"])
    return {
        "stories": [summaries[s.story_id] for s in shown[: wanted.limit]],
        "total": len(shown),
        "in_window": len(stories),
        "filters": wanted.as_dict(),
        "facets": {
            "rules": [r.name for r in desk.engine().rules],
            "severities": list(SEVERITIES),
            "entities": [t for t, _ in terms.most_common(100)],
            "receivers": list(desk.receivers),
        },
    }


def _summaries(
    desk: Desk, stories: list[Story], receivers: dict[str, set[str]]
) -> dict[str, dict[str, Any]]:
    """Each story's summary, rebuilt only for those that changed since the last list
    (and the cache kept to the stories of this one)."""
    kept, fresh = desk.summaries, {}
    for s in stories:
        went = frozenset(receivers.get(s.story_id, ()))
        hit = kept.get(s.story_id)
        if hit is None or hit[0] != s.version or hit[1] != went:
            hit = (s.version, went, summary(s, set(went)))
        fresh[s.story_id] = hit
    kept.clear()
    kept.update(fresh)
    return {sid: entry[2] for sid, entry in fresh.items()}


def summary(story: Story, receivers: set[str]) -> dict[str, Any]:
    item = story.item
    return {
        "story_id": story.story_id,
        "version": story.version,
        "title": item.title,
        "link": safe_link(item.link),
        "source": item.source,
        "severity": story.severity,
        "rules": list(story.rules),
        "outlets": list(story.outlets),
        "outlet_count": len(story.outlets),
        "members": len(story.members),
        "entities": entities(story),
        "receivers": sorted(receivers),
        "first_seen": when(story.created),
        "updated": when(story.last_seen),
    }


def audit(desk: Desk, story_id: str) -> dict[str, Any]:
    story = desk.book.get(story_id)
    if story is None:
        raise Problem(404, f"no story {story_id!r} in the window")
    rows = desk.store.outbox_for_story(story_id)
    miss = story.near_miss
    return {
        **summary(story, {r.receiver for r in rows}),
        "members": [member(story, n) for n in range(len(story.members))],
        "member_count": len(story.members),
        "near_miss": None if miss is None else {
            "story_id": miss.story_id, "member": miss.member, "score": round(miss.score, 1),
            "veto": miss.veto,
        },
        "evidence": [hit(h) for h in story.hits],
        "deliveries": deliveries(desk, story_id, rows),
    }  # fmt: skip


def member(story: Story, n: int) -> dict[str, Any]:
    m: Member = story.members[n]
    seq = next((i + 1 for i, o in enumerate(story.members) if o.item.id == m.matched), None)
    if m.tier == "first":
        why = "started the story"
    elif seq is not None:
        other = story.members[seq - 1].item
        why = f"{m.tier} of #{seq} ({other.source}), score {m.score:.1f}"
    else:
        why = f"{m.tier} of {m.matched}, score {m.score:.1f}"
    return {
        "seq": n + 1, "item_id": m.item.id, "source": m.item.source, "title": m.item.title,
        "link": safe_link(m.item.link), "published": iso(m.item.published),
        "at": when(m.at), "tier": m.tier,
        "score": round(m.score, 1), "matched": m.matched, "matched_seq": seq, "why": why,
        "rules": list(m.rules), "evidence": [hit(h) for h in m.hits],
    }  # fmt: skip


def hit(h: RuleHit) -> dict[str, Any]:
    return {
        "rule": h.rule, "severity": h.severity, "labels": dict(h.labels),
        "evidence": [{"term": e.term, "field": e.field, "text": e.text, "start": e.start,
                      "end": e.end, "score": round(e.score, 1)} for e in h.evidence],
    }  # fmt: skip


def deliveries(desk: Desk, story_id: str, rows: list[OutboxRow]) -> list[dict[str, Any]]:
    """Per receiver: what it was told (versions) and each alert and update, oldest first."""
    told = {d.receiver: d for d in desk.store.deliveries(story_id)}
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row.receiver, {"receiver": row.receiver, "sends": []})
        entry["sends"].append(send(row))
    for receiver, entry in out.items():
        d = told.get(receiver)
        entry["told"] = None if d is None else {"shown": d.shown, "told": d.told,
                                                "told_at": when(d.told_at)}  # fmt: skip
    return list(out.values())


def send(row: OutboxRow) -> dict[str, Any]:
    data = _payload(row)
    event = str(data.get("event", "story.updated" if row.kind == "sync" else "story.created"))
    silence = (row.last_error or "").removeprefix("silenced by ") if row.state == "muted" else None
    return {
        "alert_id": row.alert_id, "kind": row.kind, "event": event.removeprefix("story."),
        "mode": data.get("mode"), "version": data.get("version"), "state": row.state,
        "attempts": row.attempts, "last_error": row.last_error, "muted_by": silence or None,
        "created": when(row.created), "updated": when(row.updated),
    }  # fmt: skip


def _payload(row: OutboxRow) -> dict[str, Any]:
    """The alert a row sent or holds; a pending update holds only its route's options."""
    try:
        data = json.loads(row.payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) and "alert_id" in data else {}
