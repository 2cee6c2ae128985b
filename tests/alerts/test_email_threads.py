"""Email follow-ups against aiosmtpd: the first mail's Message-ID (on the from
domain) is the receipt, a follow-up threads under it (Re: subject, In-Reply-To,
References); the HTML is styled inline with a severity band, times in the
receiver's zone with UTC beside, the outlets, members and changes; a text part."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lifecycle import created, update
from standins import SmtpServer
from test_delivery import email_config
from test_email import Counting

from monitor.alerts.sinks import build, schemas
from monitor.alerts.sinks.email import EmailSink
from monitor.alerts.sinks.email_compose import sender_domain
from monitor.config import load_config
from monitor.errors import ConfigError

MOSCOW = ZoneInfo("Europe/Moscow")


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    html, plain = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and plain is not None
    return html.get_content(), plain.get_content()


async def test_a_followup_threads_under_the_first_mail() -> None:
    first = created("mail")
    with SmtpServer() as smtp:
        async with EmailSink(email_config(smtp.port, tls="none", zone=MOSCOW)) as sink:
            (receipt,) = await sink.send([first])  # type: ignore[misc]
            changes = ("new rule: sanctions", "new entity: Erdoğan")
            later = update(first, 4, mode="followup", changes=changes, thread=receipt)
            assert await sink.send([later]) == [None]
        one, two = (parsed(raw) for raw in smtp.messages)
    assert receipt is not None
    assert one["Message-ID"] == receipt["message_id"]
    assert one["Message-ID"].endswith("@desk.example>")  # the from domain, not @newsmon
    assert two["Message-ID"] != one["Message-ID"] and two["Message-ID"].endswith("@desk.example>")
    assert two["In-Reply-To"] == one["Message-ID"] and two["References"] == one["Message-ID"]
    assert two["Subject"] == "Re: " + one["Subject"]
    assert one["Subject"] == "newsmon: [HIGH] Russia to share S-400 technology with Turkey"

    html, plain = parts(two)
    assert "new rule: sanctions" in html and "new entity: Erdoğan" in html
    assert "HIGH · UPDATE" in html
    assert "4 outlets · latest: Daily Sabah, 2019-07-12 09:26 MSK (06:26 UTC)" in html
    for outlet in ("Wire", "AP", "TASS", "Daily Sabah"):
        assert f"{outlet} · 2019-07-12" in html  # each member, with its time
    assert "Update: [HIGH] Russia to share S-400" in plain
    assert "new: new rule: sanctions" in plain and "Daily Sabah" in plain


async def test_the_html_is_styled_inline_for_gmail_and_outlook() -> None:
    with SmtpServer() as smtp:
        async with EmailSink(email_config(smtp.port, tls="none", zone=MOSCOW)) as sink:
            await sink.send([created("mail")])
        (message,) = (parsed(raw) for raw in smtp.messages)
    html, plain = parts(message)
    assert "<style" not in html.lower() and "class=" not in html  # nothing a client strips
    assert 'bgcolor="#e8710a" style="background-color:#e8710a;' in html  # the orange band
    assert "<table" in html and 'style="' in html
    assert "2019-07-12 09:05 MSK (06:05 UTC)" in html and "2019-07-12 09:05 MSK" in plain
    assert "Outlets: Wire" in html and "Outlets: Wire" in plain


async def test_a_digest_and_two_followups_go_in_one_session() -> None:
    first, other = created("mail", n=1), created("mail", n=2)
    receipt = {"message_id": "<first.1@desk.example>", "subject": "newsmon: [HIGH] earlier"}
    batch = [first, other, update(first, 3, mode="followup", changes=("a",), thread=receipt),
             update(other, 2, mode="followup", changes=("b",))]  # fmt: skip
    with SmtpServer(handler=Counting) as smtp:
        async with EmailSink(email_config(smtp.port, tls="none")) as sink:
            receipts = await sink.send(batch)
        mails = [parsed(raw) for raw in smtp.messages]
        assert smtp.handler.ehlos == 1 and smtp.handler.mails == 3
    digest, threaded, unthreaded = mails
    assert receipts is not None and receipts[2:] == [None, None]
    # (a long subject is folded right after "Subject:": its value reads back with a space)
    assert receipts[0] == receipts[1] == {"message_id": digest["Message-ID"],
                                          "subject": digest["Subject"].strip()}  # fmt: skip
    assert digest["Subject"].strip().startswith("newsmon: 2 alerts")
    assert threaded["Subject"] == "Re: newsmon: [HIGH] earlier"
    assert threaded["In-Reply-To"] == "<first.1@desk.example>"
    assert unthreaded["In-Reply-To"] is None  # its first mail is not known: a mail of its own
    assert unthreaded["Subject"].startswith("Re: newsmon: [HIGH]")


def test_a_thread_that_is_not_a_message_id_is_not_put_in_a_header() -> None:
    from monitor.alerts.sinks.email_compose import followup

    forged = {"message_id": "<a@b>\r\nBcc: spy@evil.example", "subject": "x\r\nBcc: y@z"}
    mail = followup(email_config(25), update(created("mail"), 2, mode="followup", thread=forged))
    assert mail["In-Reply-To"] is None and mail["Bcc"] is None
    assert mail["Subject"] == "Re: x Bcc: y@z"


def test_sender_domain() -> None:
    assert sender_domain("Desk Alerts <alerts@Desk.Example>") == "desk.example"
    assert sender_domain("newsmon@bücher.example") == "xn--bcher-kva.example"
    assert sender_domain("newsmon") is None and sender_domain("a@") is None


def test_a_from_without_a_domain_and_a_bad_time_zone_are_config_problems(
    tmp_path: Path,
) -> None:
    path = tmp_path / "newsmon.yaml"
    path.write_text(
        "receivers:\n"
        "  - {name: mail, kind: email, host: 127.0.0.1, from: newsmon, to: [b@desk.example]}\n"
        "  - {name: late, kind: email, host: 127.0.0.1, from: a@desk.example,\n"
        "     to: [b@desk.example], timezone: Europe/Moscw}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, receivers=schemas())
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:4: receiver 'late': timezone: expected an IANA")
    assert "did you mean 'Europe/Moscow'?" in str(problem)

    path.write_text(path.read_text().replace("Europe/Moscw", "Asia/Dubai"), encoding="utf-8")
    settings = load_config(path, receivers=schemas())
    with pytest.raises(ConfigError) as caught:
        build(settings.receivers[0], tmp_path)
    (problem,) = caught.value.problems
    assert str(problem) == (
        f"{path}:2: receiver 'mail': from 'newsmon' is not an address with a domain "
        "(name@example.org): mails are identified by it (Message-ID)"
    )
    late = build(settings.receivers[1], tmp_path)
    assert isinstance(late, EmailSink) and late.config.zone == ZoneInfo("Asia/Dubai")


def test_an_escalation_mail_says_spreading_in_its_subject() -> None:
    from dataclasses import replace

    from monitor.alerts.sinks.email_compose import subject

    spreading = update(created("oncall"), 5, mode="post", event="escalated", changes=("5 in 1h",))
    assert subject([replace(spreading, severity="critical")]) == (
        "newsmon: Spreading: [CRITICAL] Russia to share S-400 technology with Turkey"
    )
