"""The email sink: SMTP with STARTTLS (verified), optional auth, text + HTML.

``tls: starttls`` (the default) refuses a server that does not offer STARTTLS
(``other: STARTTLS not offered``, not retried: a downgrade is not a transient fault);
``tls: tls`` is implicit TLS (port 465); ``tls: none`` is plain SMTP (a local
relay only). The TLS context is ``ssl.create_default_context(cafile=...)``:
certificate and host name verified (smtplib's own default verifies nothing).
A ``cafile`` that is missing or not PEM stops startup (a config problem, named
``file:line``); one that disappears later (a certificate rotation) fails the
attempt as ``tls: cafile unusable``, retried, so alerts wait instead of being dropped.
Every socket operation has ``timeout``. What the mails say, and how they
thread (``Message-ID`` on the ``from`` domain; a follow-up's ``In-Reply-To``),
is :mod:`~monitor.alerts.sinks.email_compose`: a group of posts is one digest
mail, each follow-up a mail of its own, all sent in one SMTP session.
``timezone`` (IANA, default UTC) is the zone times are shown in, UTC beside.
``title_template`` (the subject), ``body_template`` (the HTML part, escaped as
HTML) and ``text_template`` (the plain part) are the receiver's templates.
A server that refuses some recipients but takes the others delivers the mail;
the refusals are logged (how many, which domains).

smtplib runs in a worker thread, which the delivery loop cannot stop when it
stops waiting (``delivery.timeout``, or shutdown). So a mail is never both
delivered and recorded as failed because we gave up on it: the thread asks a
:class:`Handover` right before the mail transaction (MAIL FROM, RCPT TO,
DATA). If the loop has given up by then, the thread says QUIT and sends
nothing (the attempt is a ``timeout``, retried). If the transaction has begun,
the sink waits for the thread's real outcome, bounded by the socket
``timeout`` of each of its steps, and reports it: taken -> sent, refused ->
that error. The window that remains is SMTP's own: the server accepted the
message data but its final ``250`` never reached us (the connection dropped,
or the reply took longer than ``timeout``); that attempt fails as ``timeout``
and is retried, and the desk may get the mail twice. SMTP has no way to ask
whether a message was taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import threading
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from monitor.alerts import templates
from monitor.alerts.sinks.base import Receipt, classify_smtp
from monitor.alerts.sinks.email_compose import (
    SUBJECT_MAX,
    EmailConfig,
    MailWords,
    compose,
    message,
    receipts,
    sender_domain,
    subject,
)
from monitor.alerts.sinks.options import timezone, zone_of
from monitor.config import ReceiverConfig, ReceiverSchema, Secret, reveal, values
from monitor.errors import ConfigError, DeliveryError, Problem
from monitor.model import Alert

__all__ = ["SUBJECT_MAX", "EmailConfig", "EmailSink", "build", "message", "subject"]

log = logging.getLogger(__name__)

SCHEMA = ReceiverSchema(
    required=frozenset({"host", "from", "to"}),
    optional=frozenset(
        {"port", "tls", "cafile", "username", "password", "timeout", "timezone", "text_template"}
    )
    | templates.OPTIONS,
    convs={
        "port": values.integer(1, 65535),
        "tls": values.choice("starttls", "tls", "none"),
        "to": values.strings,
        "timeout": values.duration,
        "timezone": timezone,
    },
)
PORTS = {"starttls": 587, "tls": 465, "none": 25}


class Handover:
    """Decides, once and under a lock, whether the mail transaction begins: the
    thread about to begin it and the event loop giving up on it race, and the
    first to ask wins (an Event alone would leave a gap between check and act)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "waiting"  # -> "begun" (thread) or "abandoned" (loop)

    def begin(self) -> bool:
        """The thread: True if it may begin the transaction (the loop still waits)."""
        with self._lock:
            if self._state == "waiting":
                self._state = "begun"
            return self._state == "begun"

    def abandon(self) -> bool:
        """The loop: True if the transaction will never begin (nothing is sent)."""
        with self._lock:
            if self._state == "waiting":
                self._state = "abandoned"
            return self._state == "abandoned"


def _context(config: EmailConfig) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=config.cafile)
    except OSError as exc:  # ssl.SSLError too: the cafile went missing or is not PEM
        raise DeliveryError("tls", "cafile unusable", retryable=True) from exc


def _send(config: EmailConfig, msgs: Sequence[EmailMessage], gate: Handover | None = None) -> None:
    """Blocking: connect, secure, authenticate, send each mail. Raises DeliveryError."""
    try:
        context = _context(config) if config.tls != "none" else None
        if config.tls == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            _transact(config, smtp, msgs, context, gate)
        finally:
            _quit(smtp)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise classify_smtp(max(codes, default=550)) from None
    except smtplib.SMTPResponseException as exc:
        raise classify_smtp(exc.smtp_code) from None
    except ssl.SSLCertVerificationError:
        raise DeliveryError("tls", "certificate verify failed", retryable=False) from None
    except ssl.SSLError:
        raise DeliveryError("tls", "TLS error", retryable=True) from None
    except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else "connect"
        raise DeliveryError(reason, retryable=True) from None
    except smtplib.SMTPException as exc:
        raise DeliveryError("other", f"SMTP: {type(exc).__name__}", retryable=True) from None


def _transact(config: EmailConfig, smtp: smtplib.SMTP, msgs: Sequence[EmailMessage],
              context: ssl.SSLContext | None, gate: Handover | None) -> None:  # fmt: skip
    smtp.ehlo()
    if config.tls == "starttls":
        if not smtp.has_extn("starttls"):
            raise DeliveryError("other", "STARTTLS not offered", retryable=False)
        smtp.starttls(context=context)
        smtp.ehlo()
    if config.username:
        smtp.login(config.username, reveal(config.password or ""))
    if gate is not None and not gate.begin():
        raise DeliveryError("other", "abandoned", retryable=True)  # nobody waits: send nothing
    for msg in msgs:
        refused = smtp.send_message(msg, config.sender, list(config.to))
        if refused:
            domains = sorted({address.rpartition("@")[2] for address in refused})
            log.warning("email_recipients_refused refused=%d recipients=%d domains=%s",
                        len(refused), len(config.to), ",".join(domains))  # fmt: skip


def _quit(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close; after the mail is handed over nothing here may fail it."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    smtp.close()


class EmailSink:
    edits = False  # see Sink
    max_batch: int | None = None

    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    async def __aenter__(self) -> EmailSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, alerts: Sequence[Alert]) -> Sequence[Receipt | None] | None:
        """The posts as one digest mail, each follow-up as a mail threaded under
        its story's first; the receipts are the posts' (the digest's Message-ID)."""
        mails = compose(self.config, alerts)
        if not mails:
            return None
        gate = Handover()
        work = asyncio.ensure_future(
            asyncio.to_thread(_send, self.config, [m.message for m in mails], gate)
        )
        work.add_done_callback(_consume)
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            if gate.abandon():
                raise  # the transaction never begins: nothing is sent
            await self._outcome(work, len(mails))  # it has begun: report what really happened
        return receipts(alerts, mails)

    async def _outcome(self, work: asyncio.Future[None], mails: int) -> None:
        """Wait for a begun session's outcome (for each mail MAIL, each RCPT, DATA,
        the data and its reply; then QUIT: each bounded by ``timeout``), holding off
        cancellation."""
        loop = asyncio.get_running_loop()
        steps = (len(self.config.to) + 4) * mails + 1
        deadline = loop.time() + self.config.timeout * steps + 1
        while not work.done() and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(asyncio.CancelledError):  # shutdown: worth the wait
                await asyncio.wait({work}, timeout=left)
        if not work.done():
            raise DeliveryError("timeout", retryable=True)  # outcome unknown (see above)
        work.result()  # None: the server took the mail; else the DeliveryError it meant


def _consume(work: asyncio.Future[None]) -> None:
    """Retrieve the outcome of a send nobody awaits any more (no 'never retrieved')."""
    if not work.cancelled():
        work.exception()


def _cafile_problem(cafile: str) -> str | None:
    """Why ``cafile`` cannot verify a server, or None if it can."""
    try:
        ssl.create_default_context(cafile=cafile)
    except FileNotFoundError:
        return "does not exist"
    except ssl.SSLError:
        return "holds no PEM certificate"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None


def build(receiver: ReceiverConfig, base_dir: Path) -> EmailSink:
    o = receiver.options
    tls = values.choice("starttls", "tls", "none")(o.get("tls", "starttls"))
    cafile = reveal(o["cafile"]) if o.get("cafile") else None
    if cafile and not Path(cafile).is_absolute():
        cafile = str(base_dir / cafile)
    problems = []
    if cafile and (problem := _cafile_problem(cafile)):
        shown = "(from the environment)" if isinstance(o["cafile"], Secret) else repr(cafile)
        problems.append(f"cafile {shown} {problem}")
    if sender_domain(sender := reveal(o["from"])) is None:
        shown = "(from the environment)" if isinstance(o["from"], Secret) else repr(sender)
        problems.append(f"from {shown} is not an address with a domain (name@example.org): "
                        "mails are identified by it (Message-ID)")  # fmt: skip
    if problems:
        where = receiver.file, receiver.line
        raise ConfigError([Problem(*where, f"receiver {receiver.name!r}: {p}") for p in problems])
    config = EmailConfig(
        host=reveal(o["host"]),
        port=values.integer(1, 65535)(o.get("port", PORTS[tls])),
        sender=sender,
        to=values.strings(o["to"]),
        tls=tls,
        cafile=cafile,
        username=reveal(o["username"]) if o.get("username") else None,
        password=o.get("password"),
        timeout=values.duration(o.get("timeout", 20.0)),
        zone=zone_of(o),
        words=words(receiver, base_dir),
    )
    return EmailSink(config)


def words(receiver: ReceiverConfig, base_dir: Path) -> MailWords:
    """The receiver's mail templates (its own, else the defaults), compiled and tried."""

    def load(option: str, channel: str, fallback: str, limit: int) -> templates.Template:
        return templates.load(receiver, base_dir, option, channel=channel, fallback=fallback,
                              limit=limit)  # fmt: skip

    return MailWords(load("title_template", "text", "email.subject.j2", templates.TITLE_MAX),
                     load("body_template", "html", "email.body.html.j2", templates.BODY_MAX),
                     load("text_template", "text", "text.body.j2", templates.BODY_MAX))  # fmt: skip
