"""A fixed set of alerts, and what each sink makes of them, for the golden test of
message templates (tests/alerts/test_templates_default.py).

``goldens/rendering.json`` holds what the sinks rendered *before* they were routed
through templates (made at commit 765727a by ``python tests/alerts/rendering_cases.py``,
with PYTHONPATH=tests, from the repository's root); the test renders the same cases through today's
sinks and compares. Re-run it only to accept a deliberate change of rendering.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from support import records

from monitor.alerts.sinks import slack_blocks
from monitor.alerts.sinks.console import ConsoleSink
from monitor.alerts.sinks.email_compose import EmailConfig, compose
from monitor.model import Alert, StoryMember

GOLDENS = Path(__file__).parent / "goldens" / "rendering.json"
HOSTILE = "<!channel> S-400 & <script>alert('x')</script> \"deal\" <https://evil.example|bank>"
MOSCOW = ZoneInfo("Europe/Moscow")


def _members(
    n: int,
    title: str = "Russia to share S-400 technology with Turkey",
) -> tuple[StoryMember, ...]:
    outlets = ("Wire", "AP", "TASS", "Daily Sabah", "Defense News", "Reuters")
    return tuple(
        StoryMember(
            f"{outlets[i % 6]}{'' if i < 6 else f' {i}'}",
            f"{outlets[i % 6]}: {title}",
            f"https://{outlets[i % 6].lower().replace(' ', '')}.example/{i}",
            records.PUBLISHED + timedelta(minutes=7 * i),
            ("first", "copy", "event")[min(i, 2) if i < 3 else i % 3],
        )
        for i in range(n)
    )


def _alert(n: int, size: int = 1, **fields: Any) -> Alert:
    base = records.alert("desk", n, summary=fields.pop("summary", "Ankara and Moscow agree."))
    grown = _members(size)
    alert = replace(
        base,
        outlets=tuple(dict.fromkeys(m.source for m in grown)),
        members=grown,
        updated=grown[-1].published,
    )
    return replace(alert, **fields)


def cases() -> dict[str, tuple[list[Alert], tzinfo]]:
    """name -> (the alerts of one message, the receiver's zone)."""
    post = _alert(1)
    grown = _alert(1, 4, version=4)
    hostile = _alert(
        7,
        3,
        title=HOSTILE + "\r\nBcc: spy@evil.example",
        link="javascript:alert(1)",
        summary="<b>bold</b> & <!here> " + "long " * 200,
        source="Evil <@U123> Wire",
        changes=("new entity: <!everyone>", "x\r\ny & z"),
        members=(
            *_members(2),
            StoryMember("Evil <!here>", "<script>x</script>", "javascript:alert(1)", None, "event"),
        ),
    )
    many = [
        replace(
            _alert(i),
            severity=("low", "medium", "high", "critical")[i % 4],
            title=f"Story {i}: S-400",
        )
        for i in range(1, 14)
    ]
    return {
        "post": ([post], UTC),
        "post_moscow": ([post], MOSCOW),
        "post_undated_unlinked": ([replace(post, published=None, link=None, duplicates=())], UTC),
        "post_grown": ([grown], UTC),
        "digest_3": (many[:3], MOSCOW),
        "digest_13": (many, UTC),
        "followup": (
            [
                replace(
                    grown,
                    mode="followup",
                    event="updated",
                    changes=("new rule: sanctions", "+3 outlets: AP, TASS, Daily Sabah (4 in all)"),
                )
            ],
            MOSCOW,
        ),
        "followup_bare": ([replace(grown, mode="followup", event="updated")], UTC),
        "escalated_post": (
            [
                replace(
                    grown,
                    event="escalated",
                    severity="critical",
                    changes=("spreading: 4 outlets within 30m (now CRITICAL)",),
                )
            ],
            UTC,
        ),
        "escalated_followup": (
            [
                replace(
                    grown,
                    mode="followup",
                    event="escalated",
                    changes=("spreading: 4 outlets within 30m",),
                )
            ],
            MOSCOW,
        ),
        "hostile_post": ([hostile], UTC),
        "hostile_followup": ([replace(hostile, mode="followup", event="updated")], UTC),
        "many_members": ([_alert(3, 26, title="x" * 400)], UTC),
    }


def slack(alerts: Sequence[Alert], zone: tzinfo) -> list[dict[str, Any]]:
    if alerts[0].mode == "followup":
        return [slack_blocks.followup(a, zone) for a in alerts]
    return slack_blocks.posts(alerts, zone)


def slack_kept_current(alerts: Sequence[Alert], zone: tzinfo) -> list[dict[str, Any]]:
    """Each alert as the Web API keeps its story's message current (chat.update)."""
    return [slack_blocks.post([a], zone) for a in alerts]


def mails(alerts: Sequence[Alert], zone: tzinfo) -> list[dict[str, str]]:
    config = EmailConfig(
        host="127.0.0.1",
        port=25,
        sender="newsmon@desk.example",
        to=("desk@desk.example",),
        zone=zone,
    )
    out = []
    for mail in compose(config, alerts):
        parsed = email.message_from_bytes(mail.message.as_bytes(), policy=email.policy.default)
        text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
        assert text is not None and html is not None
        out.append(
            {
                "subject": str(parsed["Subject"]),
                "text": text.get_content(),
                "html": html.get_content(),
            }
        )
    return out


def console(alerts: Sequence[Alert]) -> str:
    stream = io.StringIO()
    asyncio.run(ConsoleSink(stream).send(alerts))
    return stream.getvalue()


def rendered() -> dict[str, dict[str, Any]]:
    return {
        name: {
            "slack": slack(alerts, zone),
            "slack_kept_current": slack_kept_current(alerts, zone),
            "email": mails(alerts, zone),
            "console": console(alerts),
        }
        for name, (alerts, zone) in cases().items()
    }


if __name__ == "__main__":
    GOLDENS.parent.mkdir(exist_ok=True)
    GOLDENS.write_text(json.dumps(rendered(), ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"wrote {GOLDENS}", file=sys.stderr)
