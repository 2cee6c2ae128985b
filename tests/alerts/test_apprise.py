"""The apprise receiver against a real local HTTP stand-in, through the Apprise
library's own ``json://`` service (Apprise POSTs its JSON notification to
127.0.0.1), driven through the one delivery loop like every sink."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import FAST, alert, dispatcher, enqueue, outcome, settle
from lifecycle import created, update
from standins import HookServer

from monitor.alerts.sinks import apprise as apprise_sink
from monitor.alerts.sinks import build, schemas
from monitor.alerts.sinks.base import Batch
from monitor.config import ReceiverConfig, Secret
from monitor.errors import ConfigError, DeliveryError


def receiver(*urls: str | Secret, **options: object) -> ReceiverConfig:
    given: dict[str, object] = {"url": urls[0]} if len(urls) == 1 else {"urls": list(urls)}
    return ReceiverConfig("phones", "apprise", given | options, "newsmon.yaml", 7)


def json_url(hook: HookServer, path: str) -> str:
    return f"json://127.0.0.1:{hook.port}{path}"


def sink(*urls: str | Secret, **options: object) -> apprise_sink.AppriseSink:
    made = build(receiver(*urls, **options), Path("."))
    assert isinstance(made, apprise_sink.AppriseSink)
    return made


def notifications(hook: HookServer, path: str) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in hook.received(path, 200)]


async def test_a_post_arrives_as_apprise_json_with_title_body_and_severity_type(
    hook: HookServer,
) -> None:
    hostile = alert("phones", "<!channel> S-400 <script>x</script>", link="javascript:alert(1)")
    async with sink(json_url(hook, "/apprise")) as s:
        assert await s.send([hostile]) is None  # no receipts: nothing to thread
    (note,) = notifications(hook, "/apprise")
    assert note["title"] == "[HIGH] <!channel> S-400 <script>x</script>"  # text: Apprise escapes
    message = str(note["message"])
    assert message.startswith("[HIGH] <!channel> S-400 <script>x</script>\nWire · ")
    assert "(no link)" in message and "javascript:" not in message  # only http(s) links shown
    assert "S-400 (title): “S-400”" in message and note["type"] == "warning"  # high: warning


async def test_a_digest_is_one_notification_and_a_followup_one_of_its_own(
    hook: HookServer,
) -> None:
    first = created("phones")
    grown = update(first, 3, mode="followup", changes=("new rule: sanctions",))
    posts = [replace(alert("phones", f"Story {n}", n=n), severity=s)
             for n, s in ((1, "low"), (2, "critical"))]  # fmt: skip
    async with sink(json_url(hook, "/a")) as s:
        await s.send([*posts, grown])
    digest, told = notifications(hook, "/a")
    assert digest["title"] == "2 alerts, top [CRITICAL] Story 2" and digest["type"] == "failure"
    assert "[LOW] Story 1" in str(digest["message"]) and "[CRITICAL] Story 2" in str(
        digest["message"]
    )
    assert str(told["title"]).startswith("Update: [HIGH] Russia to share S-400")
    assert "  new: new rule: sanctions" in str(told["message"])
    async with sink(json_url(hook, "/quiet"), followups=False) as s:
        await s.send([grown])
    assert hook.received("/quiet") == []


async def test_500_then_200_is_retried_and_delivered_once(tmp_path: Path, hook: HookServer) -> None:
    hook.script("/flaky", 500)
    async with dispatcher(tmp_path, {"phones": sink(json_url(hook, "/flaky"))}) as (
        d, outbox, metrics,
    ):  # fmt: skip
        enqueue(d, outbox, [alert("phones")])
        await settle(outbox)
        assert [e.state for e in outbox.entries()] == ["sent"]
    assert [r.status for r in hook.received("/flaky")] == [500, 200]
    assert outcome(metrics, "phones", "retried") == 1
    assert outcome(metrics, "phones", "sent") == 1


async def test_a_target_that_never_takes_it_is_dead_lettered_at_the_horizon(
    tmp_path: Path, hook: HookServer
) -> None:
    hook.default = 503
    config = replace(FAST, horizon=1.5, timeout=5, backoff=0.2, max_backoff=0.4)
    async with dispatcher(tmp_path, {"phones": sink(json_url(hook, "/down"))}, config) as (
        d, outbox, metrics,
    ):  # fmt: skip
        enqueue(d, outbox, [alert("phones")])
        await settle(outbox)
        (entry,) = outbox.entries("dead")
    assert entry.last_error == "other: apprise: 1 of 1 targets refused: #1 (json)"
    assert entry.attempts >= 2 and len(hook.received("/down")) == entry.attempts
    assert outcome(metrics, "phones", "dead_lettered") == 1


async def test_a_retry_goes_only_to_the_targets_that_refused(
    tmp_path: Path, hook: HookServer
) -> None:
    hook.script("/b", 500, 500)
    s = sink(json_url(hook, "/a"), json_url(hook, "/b"))
    async with dispatcher(tmp_path, {"phones": s}) as (d, outbox, _):
        enqueue(d, outbox, [alert("phones")])
        await settle(outbox)
        (entry,) = outbox.entries()
    assert (entry.state, entry.attempts) == ("sent", 3)
    assert [r.status for r in hook.received("/a")] == [200]  # took it once, never again
    assert [r.status for r in hook.received("/b")] == [500, 500, 200]


class Kept(logging.Handler):
    """A handler on the root logger, as ``newsmon run`` sets one up."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.getMessage()))


@pytest.fixture
def root_log() -> Iterator[Kept]:
    root, kept = logging.getLogger(), Kept()
    level = root.level
    root.addHandler(kept)
    root.setLevel(logging.DEBUG)
    yield kept
    root.removeHandler(kept)
    root.setLevel(level)


async def test_refusals_are_logged_at_debug_without_the_url(
    hook: HookServer, root_log: Kept
) -> None:
    hook.default = 500
    secret = Secret(f"json://127.0.0.1:{hook.port}/hooks/tok3n-s3cr3t-value")
    async with sink(secret) as s:
        with pytest.raises(DeliveryError) as failed:
            await s.send([alert("phones")])
    assert "tok3n-s3cr3t-value" not in str(failed.value) and "(json)" in str(failed.value)
    refused = [m for _, m in root_log.lines if m.startswith("apprise_refused")]
    assert len(refused) == 1 and "error=500" in refused[0]
    everything = " ".join(m for _, m in root_log.lines)
    assert "tok3n" not in everything and str(hook.port) not in everything
    assert [n for n, _ in root_log.lines if not n.startswith("monitor")] == []  # none of theirs


def test_urls_apprise_cannot_use_are_config_problems_without_the_url() -> None:
    with pytest.raises(ConfigError) as bad:
        build(receiver("nosuchservice://tok3n@host/x", "json://127.0.0.1:9/ok"), Path("."))
    (problem,) = bad.value.problems
    assert str(problem).startswith("newsmon.yaml:7: receiver 'phones': urls #1 (nosuchservice")
    assert "tok3n" not in str(problem)
    with pytest.raises(ConfigError, match="needs url"):
        build(ReceiverConfig("phones", "apprise", {}, "newsmon.yaml", 7), Path("."))
    both = {"url": "json://127.0.0.1:9/a", "urls": ["json://127.0.0.1:9/b"]}
    with pytest.raises(ConfigError, match="not both"):
        build(ReceiverConfig("phones", "apprise", both, "newsmon.yaml", 7), Path("."))
    assert {"url", "urls", "title_template", "body_template"} <= schemas()["apprise"].optional


async def test_a_hanging_target_is_a_timeout(hook: HookServer) -> None:
    hook.script("/slow", "hang")
    async with sink(json_url(hook, "/slow"), timeout=1) as s:
        with pytest.raises(DeliveryError, match="refused") as failed:
            await asyncio.wait_for(s.send([alert("phones")]), 30)
    assert failed.value.reason == "timeout" and failed.value.retryable


async def test_a_group_sent_in_parts_says_where_each_part_sits(hook: HookServer) -> None:
    part = Batch([alert("phones", f"Story {n}", n=n) for n in range(11, 21)], first=10, group=25)
    async with sink(json_url(hook, "/parts")) as s:
        assert s.max_batch == 10
        await s.send(part)
    (note,) = notifications(hook, "/parts")
    assert str(note["title"]).startswith("Alerts 11–20 of 25: 10 alerts, top [HIGH] Story 1")
    assert str(note["message"]).count("[HIGH] Story ") == 10
