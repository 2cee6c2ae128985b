"""From a story to what a receiver is told of it (pure).

:func:`alert_for` renders a :class:`~monitor.model.Story` as an :class:`Alert` for one
receiver: the first item (what alerts show), every rule with its evidence, every
outlet and member. :func:`changes_since` says what happened to a story after the
version a receiver was last told: the outlets that picked it up, and the
*significant* changes (a new rule, a new entity or number, an escalation) that earn
a follow-up. :func:`spreading` decides an escalation: N distinct outlets within T.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.config import Escalation
from monitor.model import Alert, Evidence, Story
from monitor.store import EscalationRow


def alert_id(story_id: str, receiver: str, kind: str = "") -> str:
    """One story alerts once per receiver (``kind`` "": its post, as ever); its
    escalation and each of its syncs have ids of their own."""
    basis = f"{story_id}\0{receiver}" + (f"\0{kind}" if kind else "")
    return hashlib.sha256(basis.encode()).hexdigest()[:20]


def alert_for(
    story: Story, receiver: str, *, ident: str | None = None, event: str = "created",
    mode: str = "post", severity: str | None = None, changes: Sequence[str] = (),
    thread: tuple[tuple[str, str], ...] = (), created: datetime | None = None,
) -> Alert:  # fmt: skip
    item = story.item
    matched: dict[str, list[Evidence]] = {}
    for hit in story.hits:
        for ev in hit.evidence:
            matched.setdefault(ev.term, []).append(ev)
    outlets = story.outlets or (item.source,)
    return Alert(
        alert_id=ident or alert_id(story.story_id, receiver),
        story_id=story.story_id, receiver=receiver, rules=story.rules,
        severity=severity or story.severity, title=item.title, link=item.link,
        source=item.source, published=item.published,
        matched=tuple((term, tuple(ev)) for term, ev in matched.items()),
        duplicates=outlets[1:], summary=item.summary, item_id=item.id,
        feed_url=item.feed_url, created=created or datetime.now(UTC), item_seen=item.seen,
        event=event, version=story.version, outlets=outlets, members=story.members,
        changes=tuple(changes), mode=mode, thread=thread, updated=story.updated,
        labels=tuple(sorted({pair for hit in story.hits for pair in hit.labels})),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened to a story since a version: ``lines`` for people,
    ``significant`` if any earns a follow-up, ``escalated`` if one is an escalation
    (sent at once, whatever the route's update interval)."""

    lines: tuple[str, ...] = ()
    significant: bool = False
    escalated: bool = False
    new_members: int = 0


def changes_since(
    story: Story, version: int, told_at: float, escalations: Sequence[EscalationRow] = ()
) -> Changes:
    """The changes of ``story`` after ``version`` (members joined since) and the
    escalations decided after ``told_at``."""
    before, after = story.members[:version], story.members[version:]
    lines: list[str] = []
    significant = False
    rules = _new(before, after, "rules")
    if rules:
        lines.append("new rule" + "s" * (len(rules) > 1) + ": " + ", ".join(rules))
    for what, key in (("entity", "entities"), ("number", "numbers")):
        if found := _new(before, after, key):
            lines.append(f"new {what}{'s' * (len(found) > 1)}: " + ", ".join(found[:8]))
    significant = bool(lines)
    seen = {m.source for m in before}
    outlets = list(dict.fromkeys(m.source for m in after if m.source not in seen))
    if outlets:
        total = len(story.outlets)
        shown = ", ".join(outlets[:5]) + (
            f" and {len(outlets) - 5} more" if len(outlets) > 5 else ""
        )
        lines.append(f"+{len(outlets)} outlet{'s' * (len(outlets) > 1)}: {shown} ({total} in all)")
    fresh = [e for e in escalations if e.at > told_at]
    for e in fresh:
        lines.insert(0, f"spreading: {e.outlets} outlets within {_span(e.within)}"
                        f" (now {e.severity.upper()})")  # fmt: skip
    return Changes(tuple(lines), significant or bool(fresh), bool(fresh), len(after))


def _new(before: Sequence[object], after: Sequence[object], key: str) -> list[str]:
    had = {value for m in before for value in getattr(m, key)}
    return list(dict.fromkeys(v for m in after for v in getattr(m, key) if v not in had))


def spreading(story: Story, escalation: Escalation) -> bool:
    """Whether ``escalation.outlets`` distinct outlets carried the story within any
    ``escalation.within`` seconds (on the story's clock: each outlet counted at its
    first member)."""
    firsts: dict[str, float] = {}
    for m in story.members:
        at = (m.at or story.created).timestamp()
        firsts[m.source] = min(at, firsts.get(m.source, at))
    times = sorted(firsts.values())
    need = escalation.outlets
    return any(times[i + need - 1] - times[i] <= escalation.within
               for i in range(len(times) - need + 1))  # fmt: skip


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"
