"""Receivers' own templates: a custom Slack and a custom mail template render through
the real sinks to the real stand-ins, escaping hostile feed text; a template that
does not compile or render is a ``file:line`` config problem; the sandbox and the
output bound hold."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from helpers import alert, dispatcher, enqueue, settle
from standins import HookServer, SmtpServer
from support.daemon import newsmon
from test_injection import EVIL_LINKS, assert_inert_slack, hostile_update

from monitor.alerts import templates
from monitor.alerts.sinks import build
from monitor.alerts.sinks.email import EmailSink
from monitor.alerts.sinks.slack import SlackSink
from monitor.config import ReceiverConfig
from monitor.errors import ConfigError, DeliveryError

HOSTILE_TITLE = "<!channel> S-400 <script>alert(1)</script> <https://evil.example|bank> &"
SLACK_TITLE = "{{ alert.rules | join(', ') }} · {{ alert.title }}"
SLACK_BODY = """\
*Summary:* {{ alert.summary }}
{% for m in alert.members %}
{{ m.source }}: {{ link(m.link, m.title) }}
{% endfor %}
Read it: {{ link(alert.link, "the story") }} · {{ link("javascript:alert(1)", "click") }}
"""
MAIL_SUBJECT = "[{{ alert.severity | upper }}] {{ alert.title }}"
MAIL_BODY = """\
<html><body>
<h1 style="color:{{ colour(alert.severity) }}">{{ alert.title }}</h1>
<p>{{ alert.summary }}</p>
<ul>
{% for m in alert.members %}
<li>{{ link(m.link, m.source ~ ': ' ~ m.title) }}</li>
{% endfor %}
</ul>
<p>{{ link(alert.link, "Read " ~ alert.title) }}</p>
</body></html>
"""


def receiver(kind: str, **options: Any) -> ReceiverConfig:
    return ReceiverConfig("desk", kind, options, "/etc/newsmon/newsmon.yaml", 12)


def hostile(receiver: str = "desk") -> Any:
    story = hostile_update(receiver, "followup")
    summary = f"<b>pay</b> at {EVIL_LINKS}"
    return replace(story, mode="post", event="created", title=HOSTILE_TITLE, summary=summary,
                   link="https://wire.example/1")  # fmt: skip


async def test_a_custom_slack_template_renders_and_escapes_hostile_text(hook: HookServer) -> None:
    options = {"url": hook.url("/slack"), "title_template": SLACK_TITLE,
               "body_template": SLACK_BODY}  # fmt: skip
    sink = build(receiver("slack", **options), Path("."))
    assert isinstance(sink, SlackSink)
    story = hostile()
    async with sink:
        await sink.send([story])
    (request,) = hook.received("/slack", 200)
    linked = {story.link} | {m.link for m in story.members if m.link.startswith("https://")}
    assert len(linked) == 4  # the story's, and three members' (not the javascript: one)
    assert_inert_slack(request.body, linked)  # no link but those
    payload = json.loads(request.body)
    head, body = (b["text"]["text"] for b in payload["blocks"] if "text" in b)
    assert head.startswith("🟠 *<https://wire.example/1|s400 · &lt;!channel&gt; S-400 &lt;script")
    assert "&lt;https://evil.example|bank&gt; &amp;" in head
    assert body.startswith("*Summary:* &lt;b&gt;pay&lt;/b&gt; at &lt;https://evil.example|")
    assert "Read it: <https://wire.example/1|the story> · click" in body
    assert "Evil &lt;https://evil.example|https://bank.example&gt;" in body  # a member's outlet
    assert "javascript:" not in request.body.decode()
    assert payload["text"].startswith("🟠 [HIGH] s400 · &lt;!channel&gt;")  # the notification


async def test_a_custom_mail_template_renders_and_escapes_hostile_text(tmp_path: Path) -> None:
    (tmp_path / "mail.html.j2").write_text(MAIL_BODY, encoding="utf-8")
    with SmtpServer() as smtp:
        options = {"host": "127.0.0.1", "port": smtp.port, "tls": "none",
                   "from": "newsmon@desk.example", "to": ["desk@desk.example"],
                   "title_template": MAIL_SUBJECT + "\r\nBcc: spy@evil.example",
                   "body_template": "@mail.html.j2",
                   "text_template": "{{ alert.title }}\n{{ safe_link(alert.link) }}"}  # fmt: skip
        sink = build(receiver("email", **options), tmp_path)
        assert isinstance(sink, EmailSink)
        async with sink:
            await sink.send([replace(hostile(), title=HOSTILE_TITLE + "\r\nBcc: spy@evil.example")])
        (raw,), (envelope,) = smtp.messages, smtp.envelopes
    assert envelope == ("newsmon@desk.example", ["desk@desk.example"])
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Bcc"] is None
    assert str(message["Subject"]).startswith("[HIGH] <!channel> S-400 <script>alert(1)</script>")
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    markup = html.get_content()
    assert "<script" not in markup and "<!channel>" not in markup and "javascript:" not in markup
    assert '<h1 style="color:#e8710a">&lt;!channel&gt; S-400 &lt;script&gt;alert(1)' in markup
    assert "<p>&lt;b&gt;pay&lt;/b&gt; at &lt;https://evil.example|" in markup
    style = "color:#1a0dab;text-decoration:none;"
    assert f'<a href="https://wire.example/1" style="{style}">Read &lt;!channel&gt;' in markup
    assert "<li>Evil &lt;https://evil.example" in markup  # a member with a javascript: link
    assert text.get_content().startswith("<!channel> S-400 <script>alert(1)</script>")


def test_no_template_can_print_a_value_unescaped() -> None:
    for source in ("{{ alert.title | safe }}", "{{ alert.title.__html__() }}"):
        options = {"url": "https://hooks.example/x", "title_template": source}
        with pytest.raises(ConfigError):
            build(receiver("slack", **options), Path("."))


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ alert.title", "body_template (line 1 of the template): does not compile: unexpected"),
        ("ok\n{% for x in alert.rules %}\n{{ x }}", "(line 3 of the template): does not compile"),
        ("a\nb\n{{ alert.titel }}", "(line 3 of the template): does not render: 'monitor.model"),
        ("{{ alert.__class__.__mro__ }}", "does not render:"),
        ("{{ 'x' * 100000000 }}", "does not render: SecurityError: repetition too large"),
        ("{{ 7 ** 1000000 }}", "does not render: SecurityError: exponent too large"),
        ("{{ alerts.append(alert) }}", "does not render: SecurityError"),
    ],
)
def test_a_template_that_does_not_compile_or_render_is_a_config_problem(
    source: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as bad:
        build(receiver("slack", url="https://hooks.example/x", body_template=source), Path("."))
    (found,) = bad.value.problems
    assert str(found).startswith("/etc/newsmon/newsmon.yaml:12: receiver 'desk': ")
    assert problem in str(found)


def test_a_template_file_is_named_with_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "body.j2").write_text("one\ntwo\n{% if %}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as bad:
        build(receiver("console", body_template="@templates/body.j2"), tmp_path)
    (found,) = bad.value.problems
    assert str(found).startswith(f"{tmp_path / 'templates' / 'body.j2'}:3: receiver 'desk': ")
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.j2: No such file"):
        build(receiver("console", body_template="@missing.j2"), tmp_path)
    (tmp_path / "big.j2").write_bytes(b"x" * (templates.FILE_MAX + 1))
    with pytest.raises(ConfigError, match="larger than 256 KiB"):
        build(receiver("console", body_template="@big.j2"), tmp_path)


def test_the_output_is_bounded() -> None:
    source = "{% for i in range(90000) %}{{ alert.title }}{% endfor %}"
    sink = build(receiver("apprise", url="json://127.0.0.1:9/x", body_template=source), Path("."))
    out = sink.body.render([alert("desk")])  # type: ignore[attr-defined]
    assert len(out) <= templates.BODY_MAX and out.endswith("… [truncated]")


async def test_a_template_that_fails_at_send_dead_letters_the_alert(
    tmp_path: Path, hook: HookServer
) -> None:
    source = "{% if 'boom' in alert.title %}{{ 1 // 0 }}{% endif %}{{ title(alert) }}"
    sink = build(receiver("slack", url=hook.url("/s"), title_template=source), Path("."))
    async with dispatcher(tmp_path, {"desk": sink}) as (d, outbox, _):
        enqueue(d, outbox, [alert("desk", "boom: S-400"), alert("desk", "S-400 fine", n=2)])
        await settle(outbox)
        dead = outbox.entries("dead")
        sent = outbox.entries("sent")
    assert len(dead) == 1 and len(sent) == 1
    assert dead[0].last_error == (
        "other: template desk.title_template line 1: does not render: "
        "ZeroDivisionError: integer division or modulo by zero"
    )
    assert len(hook.received("/s", 200)) == 1
    with pytest.raises(DeliveryError) as failed:
        sink.words.title_template.render([alert("desk", "boom")])  # type: ignore[attr-defined]
    assert not failed.value.retryable


async def test_newsmon_check_reports_a_broken_template_with_its_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "subject.j2").write_text("newsmon: {{ alert.title }\n", encoding="utf-8")
    config = tmp_path / "newsmon.yaml"
    config.write_text(
        """rules: []
http: {enabled: false}
receivers:
  - {name: desk-mail, kind: email, host: 127.0.0.1, from: n@desk.example, to: [d@desk.example],
     title_template: "@subject.j2"}
  - name: phones
    kind: apprise
    url: json://127.0.0.1:9/x
    body_template: "{{ alert.title }}{% endfor %}"
""",
        encoding="utf-8",
    )
    code, out, err = await newsmon("check", "-c", str(config))
    assert code == 1, out
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{tmp_path / 'subject.j2'}:1: receiver 'desk-mail': title_template")
    assert lines[1].startswith(f"{config}:6: receiver 'phones': body_template (line 1 of the")
    assert "does not compile" in lines[0] and "does not compile" in lines[1]


def test_a_template_may_include_a_default_and_nothing_else() -> None:
    options = {"url": "https://hooks.example/x",
               "body_template": "{% include 'slack.body.j2' %}\n_sent by the desk_"}  # fmt: skip
    sink = build(receiver("slack", **options), Path("."))
    body = sink.words.body(alert("desk"), UTC)  # type: ignore[attr-defined]
    assert body == "S-400 (title): “S-400”\nOutlets: Wire\n_sent by the desk_"
    for name in ("markup.py", "../../config/secrets.py", "/etc/passwd"):
        options["body_template"] = f"{{% include '{name}' %}}"
        with pytest.raises(ConfigError, match="TemplateNotFound"):
            build(receiver("slack", **options), Path("."))
