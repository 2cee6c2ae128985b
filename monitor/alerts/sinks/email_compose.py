"""The mails of an alert batch (pure): a digest of the posts, a follow-up per update.

Every mail has a ``Message-ID`` on the domain of the ``from`` address (mail
systems and spam filters expect the sender's own domain there). A post's
receipt is ``{"message_id": ..., "subject": ...}``: the story's thread. A
follow-up (``mode == "followup"``) is a mail of its own whose Subject is
``"Re: "`` + the first mail's and whose ``In-Reply-To`` and ``References``
are the first mail's Message-ID, so Gmail, Outlook and Thunderbird show it in
the story's conversation. The subject is one line, stripped of CR/LF and
control characters; the HTML part escapes all feed text, and a plain-text part
says the same.

What the mails say is the receiver's templates (:class:`MailWords`): the
``title_template`` (the subject, default ``email.subject.j2``), the
``body_template`` (the HTML part, default ``email.body.html.j2``) and the
``text_template`` (the plain part, default ``text.body.j2``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from monitor.alerts import render, templates
from monitor.config import Secret
from monitor.model import Alert

SUBJECT_MAX = 200
_MSGID = re.compile(r"<[^<>\s@]{1,200}@[^<>\s@]{1,200}>")
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")
Receipt = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MailWords:
    """A receiver's mail templates: the subject (text, one line), the HTML part
    (HTML-escaped) and the plain part (text)."""

    subject: templates.Template
    html: templates.Template
    text: templates.Template


@functools.cache
def default_words() -> MailWords:
    return MailWords(templates.default("email.subject.j2", "text", templates.TITLE_MAX),
                     templates.default("email.body.html.j2", "html"),
                     templates.default("text.body.j2", "text"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class EmailConfig:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    tls: str = "starttls"
    cafile: str | None = None
    username: str | None = None
    password: str | Secret | None = None
    timeout: float = 20.0
    zone: tzinfo = UTC  # the receiver's time zone (UTC is shown beside)
    words: MailWords = field(default_factory=default_words)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One mail, and the receipt it gives the posts it shows (None for a follow-up)."""

    message: EmailMessage
    receipt: Receipt | None


def sender_domain(sender: str) -> str | None:
    """The domain of the ``from`` address (IDNA-encoded), or None if it has none."""
    _, at, domain = parseaddr(sender)[1].rpartition("@")
    domain = domain.strip().rstrip(".") if at else ""
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return domain.lower() if domain and _DOMAIN.fullmatch(domain) else None


def subject(alerts: Sequence[Alert], words: MailWords | None = None, zone: tzinfo = UTC) -> str:
    line = (words or default_words()).subject.render(alerts, zone)
    return render.clip(render.one_line(line), SUBJECT_MAX)


def _parts(msg: EmailMessage, config: EmailConfig, alerts: Sequence[Alert]) -> None:
    """The plain and the HTML part of ``alerts``, from the receiver's templates."""
    words, zone = config.words, config.zone
    msg.set_content(words.text.render(alerts, zone).rstrip() + "\n")
    msg.add_alternative(words.html.render(alerts, zone).rstrip() + "\n", subtype="html")


def _base(config: EmailConfig, title: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = title
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender_domain(config.sender) or "localhost")
    return msg


def message(config: EmailConfig, alerts: Sequence[Alert]) -> EmailMessage:
    """One mail showing ``alerts`` (a story's first mail, or a digest)."""
    msg = _base(config, subject(alerts, config.words, config.zone))
    _parts(msg, config, alerts)
    return msg


def followup(config: EmailConfig, alert: Alert) -> EmailMessage:
    """A story's significant update, threaded under its first mail when known."""
    thread = dict(alert.thread)
    first = render.clip(render.one_line(thread.get("subject", "")), SUBJECT_MAX)
    first = first or subject([alert], config.words, config.zone)
    msg = _base(config, first if first.lower().startswith("re: ") else f"Re: {first}")
    if _MSGID.fullmatch(parent := thread.get("message_id", "").strip()):
        msg["In-Reply-To"] = parent
        msg["References"] = parent
    _parts(msg, config, [alert])
    return msg


def compose(config: EmailConfig, alerts: Sequence[Alert]) -> list[Outgoing]:
    """The posts as one digest mail, then a follow-up mail per update; an edit
    (never given: the email sink does not edit) is let go."""
    out = []
    if posts := [a for a in alerts if a.mode == "post"]:
        msg = message(config, posts)
        out.append(
            Outgoing(msg, {"message_id": str(msg["Message-ID"]), "subject": str(msg["Subject"])})
        )
    out += [Outgoing(followup(config, a), None) for a in alerts if a.mode == "followup"]
    return out


def receipts(alerts: Sequence[Alert], sent: Sequence[Outgoing]) -> list[Receipt | None]:
    """Each post's receipt (the digest mail's), None for the others."""
    receipt = sent[0].receipt if sent else None
    return [receipt if a.mode == "post" else None for a in alerts]
