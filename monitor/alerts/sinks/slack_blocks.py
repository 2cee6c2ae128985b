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

What a message says is the receiver's templates (:class:`Words`: the
``title_template`` and ``body_template`` options, by default ``slack.title.j2``
and ``slack.body.j2``, which say what is described above); the frame around them
is built here: the severity's circle, the headline's bold link, the facts and
status line, a digest's header and dividers, the notification text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import Any

from monitor.alerts import render, templates
from monitor.alerts.templates.markup import mrkdwn as escape
from monitor.alerts.templates.markup import mrkdwn_url
from monitor.model import Alert

SECTION_MAX = 3000
TEXT_MAX = 3000
MAX_BLOCKS = 50  # Slack's limit per message
BLOCKS_PER_ALERT = 4  # head, facts, body, divider
PER_MESSAGE = (MAX_BLOCKS - 1) // BLOCKS_PER_ALERT  # 12: the header takes one block

Message = dict[str, Any]  # text (the notification fallback) and blocks


def _slack_template(name: str, limit: int) -> templates.Template:
    return templates.default(name, "slack", limit)


@dataclass(frozen=True, slots=True)
class Words:
    """What a receiver's messages say: its title template (a headline, one line)
    and body template (the text under it), both mrkdwn with every value escaped."""

    title_template: templates.Template = field(
        default_factory=lambda: _slack_template("slack.title.j2", templates.TITLE_MAX)
    )
    body_template: templates.Template = field(
        default_factory=lambda: _slack_template("slack.body.j2", SECTION_MAX)
    )

    def title(self, alert: Alert, zone: tzinfo) -> str:
        """The headline, escaped: one line, never empty."""
        return render.one_line(self.title_template.render([alert], zone)) or "(untitled)"

    def body(self, alert: Alert, zone: tzinfo) -> str:
        return self.body_template.render([alert], zone).rstrip()


def _words(words: Words | None) -> Words:
    return words if words is not None else _default_words()


@functools.cache
def _default_words() -> Words:
    return Words()


def link(url: str | None, label: str, room: int = SECTION_MAX) -> str:
    """``<url|label>`` for an http(s) URL, else the escaped label alone; also the
    label alone when the link would not fit ``room`` whole (never cut inside <>)."""
    return _link(url, escape(label), room)


def _link(url: str | None, label: str, room: int) -> str:
    """:func:`link` of a label already escaped."""
    safe = mrkdwn_url(url)
    if safe is None:
        return label
    linked = f"<{safe}|{label}>"
    return linked if len(linked) + 2 <= room else label


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": render.clip(text, SECTION_MAX), "verbatim": True}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def context(*lines: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn("\n".join(lines))]}


def _head(title: str, alert: Alert, label: str = "") -> str:
    prefix = f"{render.emoji(alert.severity)} {f'*{label}:* ' if label else ''}"
    return f"{prefix}*{_link(alert.link, title, SECTION_MAX - len(prefix) - 2)}*"


def alert_blocks(alert: Alert, zone: tzinfo, words: Words | None = None) -> list[dict[str, Any]]:
    """The three blocks of one alert: headline, facts and status, the body (by
    default the evidence and outlets)."""
    words = _words(words)
    label = "Spreading" if alert.event == "escalated" else ""
    if alert.mode == "followup":  # the story's own message, brought up to date
        alert = replace(alert, mode="post")
    return [
        section(_head(words.title(alert, zone), alert, label)),
        context(escape(render.facts(alert, zone)), escape(render.status(alert, zone))),
        section(words.body(alert, zone)),
    ]


def _header(first: int, count: int, group: int) -> str:
    if group <= count:
        return f"*{count} alerts*"
    span = f"{first + 1}" if count == 1 else f"{first + 1}–{first + count}"
    return f"*Alerts {span} of {group}* (the group continues in other messages)"


def _headline(alerts: Sequence[Alert], zone: tzinfo, words: Words) -> str:
    """:func:`render.headline` with the receiver's titles (escaped)."""
    if len(alerts) == 1:
        return f"[{alerts[0].severity.upper()}] {words.title(alerts[0], zone)}"
    top = max(alerts, key=lambda a: render.rank(a.severity))
    return f"{len(alerts)} alerts, top [{top.severity.upper()}] {words.title(top, zone)}"


def post(alerts: Sequence[Alert], zone: tzinfo, first: int = 0, group: int = 0,
         words: Words | None = None) -> Message:  # fmt: skip
    """One message showing ``alerts`` (at most PER_MESSAGE) whole; ``first`` and
    ``group`` say where they sit in a larger group, if they do."""
    if len(alerts) > PER_MESSAGE:
        raise ValueError(f"{len(alerts)} alerts do not fit one message ({PER_MESSAGE} do)")
    words = _words(words)
    group = max(group, first + len(alerts))
    blocks: list[dict[str, Any]] = []
    if group > 1:
        blocks.append(section(_header(first, len(alerts), group)))
    for alert in alerts:
        blocks += [*alert_blocks(alert, zone, words), {"type": "divider"}]
    if group == 1:
        blocks.pop()  # one alert alone needs no divider
    head = _headline(alerts, zone, words)
    if group > len(alerts):
        head = f"Alerts {first + 1}–{first + len(alerts)} of {group}: {head}"
    top = max(alerts, key=lambda a: render.rank(a.severity))
    fallback = render.clip(f"{render.emoji(top.severity)} {head}", TEXT_MAX)
    return {"text": fallback, "blocks": blocks}


def posts(alerts: Sequence[Alert], zone: tzinfo, first: int = 0, group: int = 0,
          words: Words | None = None) -> list[Message]:  # fmt: skip
    """``alerts`` as messages of at most PER_MESSAGE alerts each, none hidden."""
    group = max(group, first + len(alerts))
    return [
        post(alerts[i : i + PER_MESSAGE], zone, first + i, group, words)
        for i in range(0, len(alerts), PER_MESSAGE)
    ]


def followup(alert: Alert, zone: tzinfo, words: Words | None = None) -> Message:
    """A story's significant update: what is new (the body), and the story as it
    stands (a thread reply, or a short message of its own where there are no threads)."""
    words = _words(words)
    title, label = words.title(alert, zone), render.update_label(alert)
    told = escape("; ".join(render.changes(alert)) or "more coverage")
    count = render.plural(render.outlet_count(alert), "outlet")
    fallback = f"{render.emoji(alert.severity)} {label}: {title}: {told} ({count})"
    return {
        "text": render.clip(fallback, TEXT_MAX),
        "blocks": [
            section(_head(title, alert, label)),
            section(words.body(alert, zone)),
            context(escape(render.status(alert, zone)), escape(render.outlets(alert))),
        ],
    }
