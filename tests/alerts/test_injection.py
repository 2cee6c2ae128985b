"""Acceptance: hostile feed text arrives inert, asserted on the bytes the stand-in
Slack webhook, Slack Web API and SMTP server received, in every mode (a post, an
edit, a follow-up; feed text in titles, summaries, members, outlets, changes).

Slack: ``<!channel>``, ``<!here>``, ``<@U123>`` and ``<https://evil|https://bank>``
in a title or summary must not become mentions or disguised links: the only
``<...|...>`` construct in a payload is the item's own http(s) link. Email: a
title carrying CR/LF must not add headers or recipients; HTML is escaped.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from feedserver import FeedServer, rss
from helpers import alert, dispatcher, enqueue, settle
from lifecycle import created, update
from prometheus_client import CollectorRegistry
from standins import HookServer, SlackApi, SmtpServer

from monitor.alerts.sinks import schemas
from monitor.alerts.sinks.email import EmailConfig, EmailSink
from monitor.alerts.sinks.slack import SlackSink
from monitor.alerts.sinks.slack_api import SlackApiSink
from monitor.app import App
from monitor.config import load_config
from monitor.model import StoryMember

HOSTILE_FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Evil Wire</title>
<item><title>&lt;!channel&gt; &lt;!here&gt; S-400 deal &lt;@U123&gt; via
 &lt;https://evil.example/phish|https://bank.example/login&gt;</title>
<link>https://evil.example/story</link><guid>evil-1</guid>
<description>S-400 &lt;script&gt;alert(1)&lt;/script&gt; pay at
 &lt;https://evil.example|bank&gt; &lt;!subteam^S123&gt;</description></item>
<item><title><![CDATA[S-400 <!everyone> <@W999> in a CDATA title]]></title>
<link>javascript:alert(1)</link><guid>evil-2</guid></item>
</channel></rss>"""
MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@W999>", "<!subteam")
LINK = re.compile(r"<([^<>]*)>")


def texts(node: Any) -> list[str]:
    """Every ``text`` string of a Block Kit payload (and its fallback)."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "text" and isinstance(v, str)] + [
            t for v in node.values() for t in texts(v)
        ]
    if isinstance(node, list):
        return [t for v in node for t in texts(v)]
    return []


def assert_inert_slack(body: bytes, allowed_links: set[str]) -> None:
    for mention in MENTIONS:
        assert mention.encode() not in body
    payload = json.loads(body)
    for text in texts(payload):
        for construct in LINK.findall(text):
            url, _, _label = construct.partition("|")
            assert url in allowed_links, construct


async def test_hostile_feed_text_through_the_daemon_arrives_inert(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    async with SlackApi() as api:
        await _through_the_daemon(tmp_path, feed_server, hook, api)
    posted = api.made("chat.postMessage")
    assert len(posted) == 2 and api.problems == []
    for body in posted:
        assert_inert_slack(json.dumps(body).encode(), {"https://evil.example/story"})
    assert "&lt;!channel&gt;" in json.dumps(posted, ensure_ascii=False)


async def _through_the_daemon(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer, api: SlackApi
) -> None:
    url = feed_server.add("/evil.xml", rss(HOSTILE_FEED))
    (tmp_path / "rules.yaml").write_text(
        'rules:\n  - {name: s400, keywords: ["S-400"], severity: high}\n', encoding="utf-8"
    )
    with SmtpServer() as smtp:
        config = tmp_path / "newsmon.yaml"
        config.write_text(
            f"""feeds: ['{url}']
rules: [rules.yaml]
state: {{path: state.db}}
fetch: {{allow_networks: ['127.0.0.1/32'], timeout: 5s}}
http: {{enabled: false}}
receivers:
  - {{name: slack, kind: slack, url: '{hook.url("/slack")}'}}
  - {{name: api, kind: slack, token: '{api.token}', channel: '#desk', api_url: '{api.url}'}}
  - {{name: mail, kind: email, host: 127.0.0.1, port: {smtp.port}, tls: none,
      from: newsmon@desk.example, to: [desk@desk.example], timeout: 5s}}
""",
            encoding="utf-8",
        )
        settings = load_config(config, receivers=schemas())
        app = App(settings, registry=CollectorRegistry())
        await asyncio.wait_for(app.run(asyncio.Event(), once=True), 60)
        mails, envelopes = list(smtp.messages), list(smtp.envelopes)

    slack = hook.received("/slack", 200)
    assert len(slack) == 2  # both items alerted: the hostile text was not lost
    for request in slack:
        assert_inert_slack(request.body, {"https://evil.example/story"})
    everything = b" ".join(r.body for r in slack)
    assert b"&lt;!channel&gt;" in everything  # shown as text, not swallowed
    assert b"javascript:" not in everything

    assert len(mails) == 2
    assert all(rcpts == ["desk@desk.example"] for _, rcpts in envelopes)
    for raw in mails:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        html = message.get_body(("html",))
        assert html is not None
        markup = html.get_content()
        assert "<script" not in markup and "<!channel>" not in markup
        assert "javascript:" not in markup


async def test_crlf_in_a_title_adds_no_header_and_no_recipient(tmp_path: Path) -> None:
    hostile = alert("mail", "S-400 deal\r\nBcc: spy@evil.example\r\nX-Injected: yes\nSubject: x")
    with SmtpServer() as smtp:
        config = EmailConfig(host="127.0.0.1", port=smtp.port, sender="newsmon@desk.example",
                             to=("desk@desk.example",), tls="none", timeout=5.0)  # fmt: skip
        async with dispatcher(tmp_path, {"mail": EmailSink(config)}) as (d, outbox, _):
            enqueue(d, outbox, [hostile])
            await settle(outbox)
        (raw,), (envelope,) = smtp.messages, smtp.envelopes
    assert envelope == ("newsmon@desk.example", ["desk@desk.example"])
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    names = [line.split(b":", 1)[0].lower() for line in head.splitlines() if line[:1].isalpha()]
    assert b"bcc" not in names and b"x-injected" not in names
    assert names.count(b"subject") == 1
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert "\n" not in str(message["Subject"]) and "S-400 deal" in str(message["Subject"])


async def test_a_link_with_a_pipe_cannot_relabel_itself_in_slack(
    tmp_path: Path, hook: HookServer
) -> None:
    forged = alert("slack", "<!here> S-400 <https://evil.example|https://bank.example>",
                   link="https://evil.example/a|https://bank.example/login")  # fmt: skip
    not_http = alert("slack", "S-400 <@U123>", n=2, link="javascript:alert(1)")
    async with dispatcher(tmp_path, {"slack": SlackSink(hook.url("/slack"))}) as (d, outbox, _):
        enqueue(d, outbox, [forged, not_http])
        await settle(outbox)
    bodies = [r.body for r in hook.received("/slack", 200)]
    assert len(bodies) == 2
    for body in bodies:
        assert_inert_slack(body, {"https://evil.example/a%7Chttps://bank.example/login"})
    assert b"javascript:" not in b" ".join(bodies)


EVIL_LINKS = "<https://evil.example|https://bank.example> <!channel> <@U123> <!here>"


def hostile_update(receiver: str, mode: str, thread: dict[str, str] | None = None) -> Any:
    """A story whose members, outlets and changes all carry hostile text."""
    changes = (f"new entity: {EVIL_LINKS}", "new\r\nBcc: spy@evil.example")
    story = update(created(receiver), 3, mode=mode, thread=thread, changes=changes)
    evil = StoryMember(f"Evil {EVIL_LINKS}", f"<script>x</script> {EVIL_LINKS}",
                  "javascript:alert(1)", None, "event")  # fmt: skip
    return replace(story, members=(*story.members, evil),
                   outlets=(*story.outlets, f"Evil {EVIL_LINKS}"))  # fmt: skip


async def test_hostile_updates_arrive_inert_in_the_web_api_and_webhook_modes(
    hook: HookServer,
) -> None:
    allowed = {"https://wire.example/1"}
    async with SlackApi() as api:
        async with SlackApiSink(api.token, "#desk", api_url=api.url) as sink:
            (receipt,) = await sink.send([created("api")])  # type: ignore[misc]
            await sink.send([hostile_update("api", "edit", dict(receipt or {}))])
            await sink.send([hostile_update("api", "followup", dict(receipt or {}))])
        assert api.problems == []
        bodies = [json.dumps(body).encode() for _, body, _, answer in api.calls if answer["ok"]]
        assert len(bodies) == 4  # post, edit, the follow-up's update and its reply
    async with SlackSink(hook.url("/slack")) as webhook:
        await webhook.send([hostile_update("slack", "followup")])
    bodies += [r.body for r in hook.received("/slack", 200)]
    for body in bodies:
        assert_inert_slack(body, allowed)
    everything = b" ".join(bodies)
    assert b"javascript:" not in everything and b"Evil &lt;https://evil.example" in everything


async def test_a_hostile_followup_mail_is_escaped_and_adds_no_header() -> None:
    thread = {"message_id": "<a.1@desk.example>", "subject": "newsmon: x\r\nBcc: spy@evil.example"}
    with SmtpServer() as smtp:
        config = EmailConfig(host="127.0.0.1", port=smtp.port, sender="newsmon@desk.example",
                             to=("desk@desk.example",), tls="none", timeout=5.0)  # fmt: skip
        async with EmailSink(config) as sink:
            await sink.send([hostile_update("mail", "followup", thread)])
        (raw,), (envelope,) = smtp.messages, smtp.envelopes
    assert envelope == ("newsmon@desk.example", ["desk@desk.example"])
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None and message["In-Reply-To"] == "<a.1@desk.example>"
    html = message.get_body(("html",))
    assert html is not None
    markup = html.get_content()
    assert "<script" not in markup and "<!channel>" not in markup and "javascript:" not in markup
    assert "&lt;script&gt;" in markup and "Evil &lt;https://evil.example" in markup
