"""The email sink: SMTP with STARTTLS (verified), optional auth, text + HTML.

``tls: starttls`` (the default) refuses a server that does not offer STARTTLS
(``starttls_unavailable``, not retried: a downgrade is not a transient fault);
``tls: tls`` is implicit TLS (port 465); ``tls: none`` is plain SMTP (a local
relay only). The TLS context is ``ssl.create_default_context(cafile=...)``:
certificate and host name verified (smtplib's own default verifies nothing).
Every socket operation has ``timeout``. The subject is one line, stripped of
CR/LF and control characters; the HTML part escapes all feed text. A group of
alerts is one digest mail. smtplib runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from monitor import yamlfile as y
from monitor.alerts import render
from monitor.alerts.deliver import classify_smtp
from monitor.config import ReceiverConfig, ReceiverSchema, Secret, reveal
from monitor.errors import DeliveryError
from monitor.model import Alert

SCHEMA = ReceiverSchema(
    required=frozenset({"host", "from", "to"}),
    optional=frozenset({"port", "tls", "cafile", "username", "password", "timeout"}),
    convs={
        "port": y.integer(1, 65535),
        "tls": y.choice("starttls", "tls", "none"),
        "to": y.strings,
        "timeout": y.duration,
    },
)
PORTS = {"starttls": 587, "tls": 465, "none": 25}
SUBJECT_MAX = 200


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


def subject(alerts: Sequence[Alert]) -> str:
    return render.clip("newsmon: " + render.one_line(render.headline(alerts)), SUBJECT_MAX)


def message(config: EmailConfig, alerts: Sequence[Alert]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(alerts)
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="newsmon")
    msg.set_content(render.text(alerts))
    msg.add_alternative(html_body(alerts), subtype="html")
    return msg


def html_body(alerts: Sequence[Alert]) -> str:
    parts = []
    for a in alerts:
        title = html.escape(render.title(a))
        url = render.safe_link(a.link)
        head = f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url else title
        items = "".join(f"<li>{html.escape(e)}</li>" for e in render.evidence(a))
        also = f"<p>{html.escape(other)}</p>" if (other := render.also_in(a)) else ""
        summary = f"<p>{html.escape(s)}</p>" if (s := render.summary(a)) else ""
        parts.append(
            f"<h3>{head}</h3><p><small>{html.escape(render.facts(a))}</small></p>"
            f"<ul>{items}</ul>{also}{summary}"
        )
    return "<!doctype html><html><body>" + "<hr>".join(parts) + "</body></html>"


def _send(config: EmailConfig, msg: EmailMessage) -> None:
    """Blocking: connect, secure, authenticate, send. Raises DeliveryError."""
    context = ssl.create_default_context(cafile=config.cafile)
    try:
        if config.tls == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with smtp:
            smtp.ehlo()
            if config.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError("starttls_unavailable", retryable=False)
                smtp.starttls(context=context)
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, reveal(config.password or ""))
            smtp.send_message(msg, config.sender, list(config.to))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise classify_smtp(max(codes, default=550)) from None
    except smtplib.SMTPResponseException as exc:
        raise classify_smtp(exc.smtp_code) from None
    except ssl.SSLCertVerificationError:
        raise DeliveryError("tls_verify", retryable=False) from None
    except ssl.SSLError:
        raise DeliveryError("tls", retryable=True) from None
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else "connect"
        raise DeliveryError(reason, retryable=True) from None
    except smtplib.SMTPException:
        raise DeliveryError("smtp", retryable=True) from None


class EmailSink:
    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    async def __aenter__(self) -> EmailSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> None:
        await asyncio.to_thread(_send, self.config, message(self.config, alerts))


def build(receiver: ReceiverConfig, base_dir: Path) -> EmailSink:
    o = receiver.options
    tls = y.choice("starttls", "tls", "none")(o.get("tls", "starttls"))
    cafile = reveal(o["cafile"]) if o.get("cafile") else None
    if cafile and not Path(cafile).is_absolute():
        cafile = str(base_dir / cafile)
    config = EmailConfig(
        host=reveal(o["host"]),
        port=y.integer(1, 65535)(o.get("port", PORTS[tls])),
        sender=reveal(o["from"]),
        to=y.strings(o["to"]),
        tls=tls,
        cafile=cafile,
        username=reveal(o["username"]) if o.get("username") else None,
        password=o.get("password"),
        timeout=y.duration(o.get("timeout", 20.0)),
    )
    return EmailSink(config)
