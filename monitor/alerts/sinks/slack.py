"""The Slack sink: an incoming webhook, Block Kit with a plain-text fallback.

Feed text is untrusted. Every piece of it is escaped (``&`` ``<`` ``>``), so
``<!channel>``, ``<!here>``, ``<@U123>`` or ``<https://evil|https://bank>`` in a
title arrive as text; mrkdwn objects are ``verbatim`` (no auto-linking of
names or URLs); only http(s) links are linked, with ``|`` ``<`` ``>`` and spaces
percent-encoded; a link that would not fit its section whole is left out (the
title stays); every field is clipped (Slack: 3000 characters per section) with
a visible marker. A digest is built against Slack's 50 blocks per message:
each alert takes 4 (3 + a divider), so a message shows the alerts that fit
(12) and always ends with "… N more alerts not shown" when some do not. The
webhook URL is a secret: it is never logged, and errors never carry it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.alerts import render
from monitor.alerts.sinks.base import HttpSink
from monitor.config import ReceiverConfig, ReceiverSchema, reveal
from monitor.model import Alert

SCHEMA = ReceiverSchema(required=frozenset({"url"}), optional=frozenset())
SECTION_MAX = 3000
TEXT_MAX = 3000
MAX_BLOCKS = 50  # Slack's limit per message


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """``<url|label>`` for an http(s) URL, else the escaped label alone."""
    safe = render.safe_link(url)
    if safe is None:
        return escape(label)
    for char, code in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        safe = safe.replace(char, code)
    linked = f"<{safe.replace('&', '&amp;')}|{escape(label)}>"
    return linked if len(linked) + 2 <= SECTION_MAX else escape(label)  # never cut inside <>


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": render.clip(text, SECTION_MAX), "verbatim": True}


def alert_blocks(alert: Alert) -> list[dict[str, Any]]:
    head = f"*{link(alert.link, render.title(alert))}*"
    lines = [escape(line) for line in render.evidence(alert)]
    if other := render.also_in(alert):
        lines.append(escape(other))
    return [
        {"type": "section", "text": _mrkdwn(head)},
        {"type": "context", "elements": [_mrkdwn(escape(render.facts(alert)))]},
        {"type": "section", "text": _mrkdwn("\n".join(lines) or "(no evidence)")},
    ]


def payload(alerts: Sequence[Alert]) -> dict[str, Any]:
    """The message: a digest's count, each alert that fits in MAX_BLOCKS, and a
    marker saying how many did not (it always fits: room for it is kept)."""
    blocks: list[dict[str, Any]] = []
    if len(alerts) > 1:
        blocks.append({"type": "section", "text": _mrkdwn(f"*{len(alerts)} alerts*")})
    shown = 0
    for alert in alerts:
        more = [*alert_blocks(alert), {"type": "divider"}]
        marker = 1 if shown + 1 < len(alerts) else 0  # room for the marker if others follow
        if len(blocks) + len(more) + marker > MAX_BLOCKS:
            break
        blocks.extend(more)
        shown += 1
    if shown < len(alerts):
        hidden = len(alerts) - shown
        more_text = f"{render.TRUNCATED} {hidden} more alert{'s' if hidden != 1 else ''} not shown"
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(more_text))]})
    fallback = render.clip(escape(render.headline(alerts)), TEXT_MAX)
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


class SlackSink(HttpSink):
    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url

    def __repr__(self) -> str:
        return "SlackSink(url='***')"

    async def send(self, alerts: Sequence[Alert]) -> None:
        body = json.dumps(payload(alerts), ensure_ascii=False).encode()
        await self.post(self._url, body, {"Content-Type": "application/json"})


def build(receiver: ReceiverConfig, base_dir: Path) -> SlackSink:
    return SlackSink(reveal(receiver.options["url"]))
