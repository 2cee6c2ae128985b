"""Acceptance: 4 syndicated copies of one story over 3 feeds + 2 distinct stories on
the same entities, through the real daemon (in process), to a Slack stand-in, an
SMTP server with STARTTLS (a self-signed certificate the receiver trusts) and a
webhook: exactly 3 messages each, with the right duplicates."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from pathlib import Path

import support.config
from feedserver import FeedServer, rss
from prometheus_client import CollectorRegistry
from standins import HookServer, SmtpServer

from monitor.alerts.sinks import schemas
from monitor.app import App
from monitor.config import load_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stories"
FEEDS = {"reuters": "reuters.xml", "aljazeera": "aljazeera.xml", "sabah": "sabah.xml"}
OUTLETS = {"Reuters World", "Al Jazeera", "Daily Sabah"}
RULES = """rules:
  - {name: s400, keywords: ["S-400", "S400"], severity: high, labels: {desk: defence}}
  - {name: f35, keywords: ["F-35"], severity: high, labels: {desk: defence}}
  - {name: patriot, keywords: ["Patriot"], severity: medium, labels: {desk: defence}}
"""


def write_config(tmp: Path, feeds: FeedServer, hook: HookServer, smtp_port: int,
                 cafile: Path, extra: str = "") -> Path:  # fmt: skip
    (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
    urls = {name: feeds.add(f"/{name}.xml", rss((FIXTURES / f).read_bytes()))
            for name, f in FEEDS.items()}  # fmt: skip
    receivers = [
        f"{{name: slack, kind: slack, url: '{hook.url('/slack')}'}}",
        f"{{name: hook, kind: webhook, url: '{hook.url('/hook')}', secret: '${{HOOK_SECRET}}'}}",
        f"{{name: mail, kind: email, host: 127.0.0.1, port: {smtp_port},"
        f" from: newsmon@desk.example, to: [desk@desk.example], cafile: '{cafile}', timeout: 5s}}",
    ]
    route = """route:
  receiver: slack
  group_wait: 3s        # hold each story's alert so the copies that follow are counted
  group_by: [story]
  routes:
    - {receiver: slack, continue: true}
    - {receiver: mail, continue: true}
    - {receiver: hook, continue: true}
"""
    return support.config.write_config(
        tmp, urls, rules="[rules.yaml]", receivers=receivers,
        delivery="{backoff: 0.5s, max_backoff: 2s, timeout: 10s}", extra=route + extra,
    )  # fmt: skip


async def test_syndicated_copies_alert_once_per_receiver(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer, cert: tuple[Path, Path]
) -> None:
    with SmtpServer(tls=cert) as smtp:
        path = write_config(tmp_path, feed_server, hook, smtp.port, cert[0])
        settings = load_config(path, env={"HOOK_SECRET": "s3cret"}, receivers=schemas())
        app = App(settings, registry=CollectorRegistry())
        await asyncio.wait_for(app.run(asyncio.Event(), once=True), 60)
        mails = list(smtp.messages)

    hooks = [json.loads(r.body) for r in hook.received("/hook", 200)]
    slack = [json.loads(r.body) for r in hook.received("/slack", 200)]
    assert len(hooks) == 3 and len(slack) == 3 and len(mails) == 3
    by_title = {doc["alerts"][0]["title"]: doc["alerts"][0] for doc in hooks}
    copies = [a for t, a in by_title.items() if "S-400 technology" in t or "S400 tech" in t]
    assert len(copies) == 1
    (shared,) = copies
    assert len(shared["duplicates"]) == 2
    assert {shared["source"], *shared["duplicates"]} == OUTLETS
    trump = by_title["Trump says Obama's Patriot refusal forced Erdogan into S-400 deal"]
    assert trump["rules"] == ["s400", "patriot"] and trump["duplicates"] == []
    assert by_title["Pentagon moves to suspend Turkey from the F-35 programme"]["duplicates"] == []

    texts = " ".join(json.dumps(doc) for doc in slack)
    assert "3 outlets" in texts and texts.count("1 outlet") == 2
    subjects = sorted(
        str(email.message_from_bytes(m, policy=email.policy.default)["Subject"]) for m in mails
    )
    assert any("Pentagon moves to suspend Turkey" in s for s in subjects)
    registry = app.metrics.registry
    assert registry.get_sample_value("newsmon_stories_created_total") == 3
    assert registry.get_sample_value("newsmon_story_duplicates_total") == 3

    # a second run sends nothing again: the stories and the sent log persist
    hook.requests.clear()
    with SmtpServer(tls=cert) as smtp2:
        path = write_config(tmp_path, feed_server, hook, smtp2.port, cert[0])
        settings = load_config(path, env={"HOOK_SECRET": "s3cret"}, receivers=schemas())
        await asyncio.wait_for(App(settings, registry=CollectorRegistry()).run(
            asyncio.Event(), once=True), 60)  # fmt: skip
        assert smtp2.messages == []
    assert hook.requests == []
