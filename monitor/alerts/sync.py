"""What to send a receiver that has a story's first message and whose story changed (pure).

A pending ``sync`` row stands for "bring this receiver up to date with this story";
when it is due, :func:`plan` compares the story as it stands with what the receiver
was told (:class:`~monitor.store.DeliveryRow`) and says what to send now:

* a **follow-up** (``mode="followup"``: a Slack thread reply, a mail in the first
  one's thread, a webhook event) when the route's ``updates`` wants one (``all``:
  any new member; ``significant``: a new rule, entity or number, or an escalation)
  and the route's ``update_interval`` since the last follow-up has passed (the
  first follow-up goes at once); the
  changes are collected meanwhile, so a held follow-up loses nothing. An escalation
  is sent at once.
* else an **edit** (``mode="edit"``) for a receiver that edits in place (Slack's Web
  API), so its first message shows the story as it stands, at most every
  ``EDIT_EVERY`` seconds;
* else nothing; and when something is held, the time to look again (``defer``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from monitor.alerts.story import alert_for, changes_since
from monitor.model import SEVERITIES, Alert, Story
from monitor.store import DeliveryRow, EscalationRow

EDIT_EVERY = 10.0  # seconds between two edits of one message in place


@dataclass(frozen=True, slots=True)
class Options:
    """A route's update options, as a sync row keeps them."""

    updates: str = "significant"  # none | significant | all
    interval: float = 600.0  # at most one follow-up per story per this many seconds


@dataclass(frozen=True, slots=True)
class Plan:
    alert: Alert | None  # what to send now, if anything
    defer: float | None  # keep the sync pending until then (something is held)
    told: DeliveryRow  # what the receiver will have been told once ``alert`` is sent


def plan(
    story: Story, told: DeliveryRow, options: Options, *, edits: bool, now: float,
    ident: str, escalations: Sequence[EscalationRow] = (),
) -> Plan:  # fmt: skip
    """What to send ``told.receiver`` of ``story`` now (see the module docstring)."""
    if options.updates == "none":
        return Plan(None, None, told)
    changes = changes_since(story, told.told, told.told_at, escalations)
    severity = _raised(story.severity, escalations)  # an escalated story stays escalated
    wanted = changes.significant or (options.updates == "all" and changes.new_members > 0)
    defer = math.inf
    if wanted:
        due = told.followed_at + options.interval  # the cap is between follow-ups
        if changes.escalated or now >= due:
            event = "escalated" if changes.escalated else "updated"
            alert = alert_for(story, told.receiver, ident=ident, event=event,
                              mode="followup", severity=severity, changes=changes.lines,
                              thread=told.thread)  # fmt: skip
            after = replace(told, told=story.version, told_at=now, followed_at=now)
            if edits:  # the follow-up brings the first message up to date too
                after = replace(after, shown=story.version, shown_at=now)
            return Plan(alert, None, after)
        defer = due
    if edits and story.version > told.shown:
        if now >= told.shown_at + EDIT_EVERY:
            alert = alert_for(story, told.receiver, ident=ident, event="updated", mode="edit",
                              severity=severity, thread=told.thread)  # fmt: skip
            after = replace(told, shown=story.version, shown_at=now)
            return Plan(alert, None if math.isinf(defer) else defer, after)
        defer = min(defer, told.shown_at + EDIT_EVERY)
    return Plan(None, None if math.isinf(defer) else defer, told)


def _raised(severity: str, escalations: Sequence[EscalationRow]) -> str:
    """The story's severity, or the highest an escalation raised it to."""
    ranked = [severity, *(e.severity for e in escalations)]
    return max(ranked, key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else -1)
