"""The email sink against aiosmtpd: a mail is never both delivered and recorded as
failed because we stopped waiting; cafile problems; partly refused recipients."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import alert, dispatcher, enqueue, outcome, settle
from standins import Collect, SmtpServer
from test_delivery import email_config

from monitor.alerts.sinks import build, schemas
from monitor.alerts.sinks.email import EmailSink
from monitor.config import DeliveryConfig, load_config
from monitor.errors import ConfigError
from monitor.store import Store

# the delivery loop gives up after 1 s; the SMTP socket timeout is 10 s
IMPATIENT = DeliveryConfig(horizon=3600, timeout=1, backoff=0.2, max_backoff=0.5)


class Counting(Collect):
    """Counts the commands that matter; ``entered`` is set when DATA's end arrives."""

    data_delay = 0.0
    first_ehlo_delay = 0.0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.mails = 0  # MAIL FROM commands: mail transactions begun
        self.quits = 0
        self.ehlos = 0
        self.entered = threading.Event()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:  # fmt: skip
        self.ehlos += 1
        if self.ehlos == 1:
            await asyncio.sleep(self.first_ehlo_delay)
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        self.mails += 1
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.entered.set()
        await asyncio.sleep(self.data_delay)  # a slow relay (a content scan, say)
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


class SlowData(Counting):
    data_delay = 2.0


class VerySlowData(Counting):
    data_delay = 3.0


class SlowFirstEhlo(Counting):
    first_ehlo_delay = 2.5


async def wait_for(condition: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_a_reply_slower_than_the_timeout_is_waited_for_and_sent_once(
    tmp_path: Path,
) -> None:
    with SmtpServer(handler=SlowData) as smtp:
        sinks = {"mail": EmailSink(email_config(smtp.port, tls="none", timeout=10.0))}
        async with dispatcher(tmp_path, sinks, IMPATIENT) as (d, outbox, metrics):
            enqueue(d, outbox, [alert("mail")])
            await settle(outbox)
            (entry,) = outbox.entries()
        await wait_for(lambda: smtp.handler.quits == 1)
    assert len(smtp.messages) == 1 and smtp.handler.mails == 1
    assert (entry.state, entry.attempts, entry.last_error) == ("sent", 1, None)
    assert outcome(metrics, "mail", "sent") == 1 and outcome(metrics, "mail", "retried") == 0


async def test_a_send_given_up_before_its_transaction_sends_nothing(tmp_path: Path) -> None:
    with SmtpServer(handler=SlowFirstEhlo) as smtp:
        sinks = {"mail": EmailSink(email_config(smtp.port, tls="none", timeout=10.0))}
        async with dispatcher(tmp_path, sinks, IMPATIENT) as (d, outbox, metrics):
            enqueue(d, outbox, [alert("mail")])
            await settle(outbox)
            (entry,) = outbox.entries()
            # the abandoned connection finishes its EHLO, then says QUIT without a mail
            await wait_for(lambda: smtp.handler.quits == 2)
    assert smtp.handler.ehlos == 2 and smtp.handler.mails == 1
    assert len(smtp.messages) == 1
    assert (entry.state, entry.attempts) == ("sent", 2)  # one failed try, then the send
    assert outcome(metrics, "mail", "retried") == 1 and outcome(metrics, "mail", "sent") == 1


async def test_shutdown_waits_for_a_begun_transaction_and_records_it(tmp_path: Path) -> None:
    with SmtpServer(handler=VerySlowData) as smtp:
        sinks = {"mail": EmailSink(email_config(smtp.port, tls="none", timeout=10.0))}
        async with dispatcher(tmp_path, sinks, IMPATIENT) as (d, outbox, metrics):
            enqueue(d, outbox, [alert("mail")])
            await asyncio.to_thread(smtp.handler.entered.wait, 30)
        # leaving the dispatcher stopped the worker (and cancelled it, the send lasting
        # longer than the grace period) while the server held the mail: it was recorded
        assert len(smtp.messages) == 1
    assert outcome(metrics, "mail", "sent") == 1
    with Store(tmp_path / "state.db") as store:
        assert [r.state for r in store.outbox()] == ["sent"]


async def test_a_cafile_gone_after_start_fails_as_tls_cafile_and_is_retried(
    tmp_path: Path, cert: tuple[Path, Path]
) -> None:
    cafile = tmp_path / "ca.pem"
    with SmtpServer(tls=cert) as smtp:
        sinks = {"mail": EmailSink(email_config(smtp.port, cafile=str(cafile)))}
        async with dispatcher(tmp_path, sinks) as (d, outbox, metrics):
            enqueue(d, outbox, [alert("mail")])
            await wait_for(lambda: outbox.entries()[0].attempts >= 2)
            (entry,) = outbox.entries()
            assert (entry.state, entry.last_error) == ("pending", "tls: cafile unusable")
            shutil.copy(cert[0], cafile)  # the rotated certificate arrives
            await settle(outbox)
        assert len(smtp.messages) == 1
    failed = metrics.registry.get_sample_value(
        "newsmon_deliveries_failed_total", {"receiver": "mail", "reason": "tls"}
    )
    assert failed is not None and failed >= 2


@pytest.mark.parametrize(
    ("content", "problem"), [(None, "does not exist"), ("not a cert\n", "holds no PEM certificate")]
)
def test_a_bad_cafile_stops_startup_naming_the_receiver(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    if content is not None:
        (tmp_path / "ca.pem").write_text(content, encoding="utf-8")
    path = tmp_path / "newsmon.yaml"
    path.write_text(
        "receivers:\n"
        "  - {name: desk, kind: file, path: alerts.jsonl}\n"
        "  - {name: mail, kind: email, host: 127.0.0.1, from: a@desk.example,\n"
        "     to: [b@desk.example], cafile: ca.pem}\n",
        encoding="utf-8",
    )
    settings = load_config(path, receivers=schemas())
    with pytest.raises(ConfigError) as caught:
        build(settings.receivers[1], path.parent)
    expected = f"{path}:3: receiver 'mail': cafile '{tmp_path / 'ca.pem'}' {problem}"
    assert [str(p) for p in caught.value.problems] == [expected]
    # `newsmon check` says so too, before anyone runs the daemon
    check = subprocess.run([sys.executable, "-m", "monitor.cli", "check", "-c", str(path)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 1 and check.stderr.splitlines() == [expected]


class RefuseOneDomain(Collect):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        if address.endswith("@gone.example"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_partly_refused_recipients_deliver_and_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitor.alerts.sinks.email")
    to = ("desk@desk.example", "old@gone.example", "risk@desk.example")
    with SmtpServer(handler=RefuseOneDomain) as smtp:
        sinks = {"mail": EmailSink(email_config(smtp.port, tls="none", to=to))}
        async with dispatcher(tmp_path, sinks) as (d, outbox, _):
            enqueue(d, outbox, [alert("mail")])
            await settle(outbox)
            assert [e.state for e in outbox.entries()] == ["sent"]
    assert smtp.envelopes == [("newsmon@desk.example", ["desk@desk.example", "risk@desk.example"])]
    (record,) = [r for r in caplog.records if "recipients_refused" in r.getMessage()]
    assert (
        record.getMessage()
        == "email_recipients_refused refused=1 recipients=3 domains=gone.example"
    )
