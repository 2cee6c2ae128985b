"""What a template sees (pure): the alerts, and the pieces :mod:`monitor.alerts.render`
makes of them, as functions.

Variables: ``alert`` (the alert rendered, or the first of a digest), ``alerts``
(every alert of the message), ``first`` and ``group`` (where the message sits in a
group sent in parts: the index of its first alert, the group's size) and
``receiver`` (its name). ``alert`` is the :class:`~monitor.model.Alert` record
itself: ``alert.title``, ``alert.severity``, ``alert.rules``, ``alert.link``,
``alert.source``, ``alert.published``, ``alert.summary``, ``alert.members``,
``alert.outlets``, ``alert.changes``, ``alert.mode`` (post, followup), ``alert.event``
(created, updated, escalated), ``alert.labels``; feed text there is as it came,
and the channel escapes it when printed.

Functions (times in the receiver's zone, UTC beside; every piece one line and
bounded): ``title(a)``, ``summary(a)``, ``facts(a)``, ``status(a)``, ``outlets(a)``,
``evidence(a)``, ``changes(a)``, ``members(a)`` (lists of lines), ``member(m)``,
``joined(m)`` (first, copy, rewrite), ``headline(alerts)``, ``followup(a)``,
``update_label(a)`` (Update, Spreading), ``also_in(a)``, ``emoji(severity)``,
``colour(severity)``, ``when(time)``, ``iso(time)``, ``outlet_count(a)``,
``plural(n, word)``, ``name(text)``, ``clip(text, n)``, ``one_line(text)``,
``safe_link(url)``; ``link(url, label)`` in the channel's own markup (a Slack
``<url|label>``, an HTML ``<a href>``, or the URL in text), only for http(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from monitor.alerts import render
from monitor.alerts.templates.markup import LINKS
from monitor.model import Alert, Evidence, StoryMember, iso


def joined(m: StoryMember) -> str:
    """How a member joined its story: first, copy (the same article) or rewrite."""
    return {"copy": "copy", "event": "rewrite"}.get(m.tier, "first")


def helpers(channel: str) -> dict[str, Any]:
    """The functions and constants every template of ``channel`` may call."""
    names = ("title", "summary", "outlets", "evidence", "changes", "headline", "followup",
             "update_label", "also_in", "emoji", "colour", "outlet_count", "plural", "name",
             "clip", "one_line", "safe_link", "rank")  # fmt: skip
    found: dict[str, Any] = {n: getattr(render, n) for n in names}
    return found | {"iso": iso, "joined": joined, "link": LINKS[channel],
                    "MEMBERS_MAX": render.MEMBERS_MAX, "TRUNCATED": render.TRUNCATED}  # fmt: skip


def variables(alerts: Sequence[Alert], zone: tzinfo, receiver: str = "", first: int = 0,
              group: int = 0) -> dict[str, Any]:  # fmt: skip
    """What one rendering sees besides the helpers: the alerts, and the functions
    that show times in the receiver's zone."""
    return {
        "alert": alerts[0], "alerts": list(alerts), "receiver": receiver or alerts[0].receiver,
        "first": first,
        "group": max(group, first + len(alerts)),
        "when": lambda ts: render.when(ts, zone),
        "facts": lambda a: render.facts(a, zone),
        "status": lambda a: render.status(a, zone),
        "members": lambda a: render.members(a, zone),
        "member": lambda m: render.member(m, zone),
    }  # fmt: skip


def samples() -> list[list[Alert]]:
    """Messages of every shape a template meets (a post, a digest, a follow-up, an
    escalation, an alert with nothing optional), rendered by ``newsmon check`` so a
    template that cannot render them fails there, not at the first alert."""
    at = datetime(2019, 7, 12, 6, 5, tzinfo=UTC)
    members = tuple(
        StoryMember(source, f"{source}: S-400 deal signed", f"https://{source.lower()}.example/1",
                    at + timedelta(minutes=7 * i), tier, at + timedelta(minutes=7 * i), ("s400",),
                    ("S-400",))
        for i, (source, tier) in enumerate((("Wire", "first"), ("AP", "event"), ("TASS", "copy")))
    )  # fmt: skip
    post = Alert(
        alert_id="sample", story_id="story-sample", receiver="sample", rules=("s400",),
        severity="high", title="S-400 deal signed", link="https://wire.example/1",
        source="Wire", published=at, matched=(("S-400", (Evidence("S-400", "title", "S-400",
                                                                   0, 5),)),),
        duplicates=("AP", "TASS"), summary="Ankara and Moscow sign.", created=at,
        outlets=("Wire", "AP", "TASS"), members=members, updated=members[-1].at,
        labels=(("desk", "defence"),),
    )  # fmt: skip
    bare = replace(post, alert_id="bare", link=None, published=None, matched=(), duplicates=(),
                   summary="", outlets=(), members=(), labels=(), severity="low")  # fmt: skip
    followup = replace(post, mode="followup", event="updated", version=3,
                       changes=("new rule: sanctions",), thread=(("ts", "1.0"),))  # fmt: skip
    escalated = replace(post, event="escalated", severity="critical",
                        changes=("spreading: 3 outlets within 30m",))  # fmt: skip
    return [[post], [post, bare], [bare], [followup], [escalated],
            [replace(followup, event="escalated")]]  # fmt: skip
