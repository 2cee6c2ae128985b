"""Slack messages as Block Kit payloads (pure): a story's post, its follow-up, a digest.

Feed text is untrusted. Every piece of it is escaped (``&`` ``<`` ``>``), so
``<!channel>``, ``<!here>``, ``<@U123>`` or ``<https://evil|https://bank>`` in a
title arrive as text; mrkdwn objects are ``verbatim`` (no auto-linking of
names or URLs); only http(s) links are linked, with ``|`` ``<`` ``>`` and spaces
percent-encoded; a link that would not fit its section whole is left out (the
title stays); every field is clipped (Slack: 3000 characters per section) with
a visible marker.

A post shows the severity as a leading coloured circle (also in the
notification text), the source and times in the receiver's zone with UTC
beside, the status line ("N outlets · latest: ...", which edits keep current),
the outlets and the evidence. A digest is built against Slack's 50 blocks per
message: a header, then 4 blocks per alert (3 + a divider), so one message
shows :data:`PER_MESSAGE` alerts whole; more are split into further messages
(never hidden), each header saying which part of the group it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

from monitor.alerts import render
from monitor.model import Alert

SECTION_MAX = 3000
TEXT_MAX = 3000
MAX_BLOCKS = 50  # Slack's limit per message
BLOCKS_PER_ALERT = 4  # head, facts, body, divider
PER_MESSAGE = (MAX_BLOCKS - 1) // BLOCKS_PER_ALERT  # 12: the header takes one block

Message = dict[str, Any]  # text (the notification fallback) and blocks


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str, room: int = SECTION_MAX) -> str:
    """``<url|label>`` for an http(s) URL, else the escaped label alone; also the
    label alone when the link would not fit ``room`` whole (never cut inside <>)."""
    safe = render.safe_link(url)
    if safe is None:
        return escape(label)
    for char, code in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        safe = safe.replace(char, code)
    linked = f"<{safe.replace('&', '&amp;')}|{escape(label)}>"
    return linked if len(linked) + 2 <= room else escape(label)


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": render.clip(text, SECTION_MAX), "verbatim": True}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def context(*lines: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn("\n".join(lines))]}


def _head(alert: Alert, label: str = "") -> str:
    prefix = f"{render.emoji(alert.severity)} {f'*{label}:* ' if label else ''}"
    return f"{prefix}*{link(alert.link, render.title(alert), SECTION_MAX - len(prefix) - 2)}*"


def alert_blocks(alert: Alert, zone: tzinfo) -> list[dict[str, Any]]:
    """The three blocks of one alert: headline, facts and status, outlets and evidence."""
    escalated = alert.event == "escalated"
    lines = [escape(f"New: {c}") for c in render.changes(alert)] if escalated else []
    lines += [escape(line) for line in render.evidence(alert)]
    lines.append(escape(render.outlets(alert)))
    return [
        section(_head(alert, "Spreading" if escalated else "")),
        context(escape(render.facts(alert, zone)), escape(render.status(alert, zone))),
        section("\n".join(lines)),
    ]


def _header(first: int, count: int, group: int) -> str:
    if group <= count:
        return f"*{count} alerts*"
    span = f"{first + 1}" if count == 1 else f"{first + 1}–{first + count}"
    return f"*Alerts {span} of {group}* (the group continues in other messages)"


def post(alerts: Sequence[Alert], zone: tzinfo, first: int = 0, group: int = 0) -> Message:
    """One message showing ``alerts`` (at most PER_MESSAGE) whole; ``first`` and
    ``group`` say where they sit in a larger group, if they do."""
    if len(alerts) > PER_MESSAGE:
        raise ValueError(f"{len(alerts)} alerts do not fit one message ({PER_MESSAGE} do)")
    group = max(group, first + len(alerts))
    blocks: list[dict[str, Any]] = []
    if group > 1:
        blocks.append(section(_header(first, len(alerts), group)))
    for alert in alerts:
        blocks += [*alert_blocks(alert, zone), {"type": "divider"}]
    if group == 1:
        blocks.pop()  # one alert alone needs no divider
    head = render.headline(alerts)
    if group > len(alerts):
        head = f"Alerts {first + 1}–{first + len(alerts)} of {group}: {head}"
    top = max(alerts, key=lambda a: render.rank(a.severity))
    fallback = render.clip(escape(f"{render.emoji(top.severity)} {head}"), TEXT_MAX)
    return {"text": fallback, "blocks": blocks}


def posts(alerts: Sequence[Alert], zone: tzinfo, first: int = 0, group: int = 0) -> list[Message]:
    """``alerts`` as messages of at most PER_MESSAGE alerts each, none hidden."""
    group = max(group, first + len(alerts))
    return [
        post(alerts[i : i + PER_MESSAGE], zone, first + i, group)
        for i in range(0, len(alerts), PER_MESSAGE)
    ]


def followup(alert: Alert, zone: tzinfo) -> Message:
    """A story's significant update: what is new, and the story as it stands (a
    thread reply, or a short message of its own where there are no threads)."""
    told = render.changes(alert) or ["more coverage"]
    fallback = f"{render.emoji(alert.severity)} {render.followup(alert)}"
    return {
        "text": render.clip(escape(fallback), TEXT_MAX),
        "blocks": [
            section(_head(alert, render.update_label(alert))),
            section("\n".join(escape(f"• {line}") for line in told)),
            context(escape(render.status(alert, zone)), escape(render.outlets(alert))),
        ],
    }
