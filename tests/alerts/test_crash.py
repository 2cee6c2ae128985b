"""Acceptance: SIGKILL while alerts are pending; after a restart every alert is
delivered and none twice (the outbox is written before each send and marked
after it)."""

from __future__ import annotations

import json
from pathlib import Path

import support.config
from feedserver import FeedServer, rss
from standins import HookServer
from support.daemon import Daemon, newsmon, until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stories"
RULES = """rules:
  - {name: s400, keywords: ["S-400", "S400"], severity: high}
  - {name: f35, keywords: ["F-35"], severity: high}
"""


def write_config(tmp: Path, feeds: FeedServer, hook: HookServer) -> Path:
    (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
    urls = [feeds.add(f"/{f}", rss((FIXTURES / f).read_bytes()))
            for f in ("reuters.xml", "aljazeera.xml", "sabah.xml")]  # fmt: skip
    return support.config.write_config(
        tmp, urls, rules="[rules.yaml]", delivery="{backoff: 0.3s, max_backoff: 1s, timeout: 5s}",
        receivers=[f"{{name: hook, kind: webhook, url: '{hook.url('/hook')}'}}"],
    )  # fmt: skip


async def test_sigkill_with_pending_alerts_then_restart_delivers_each_once(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    config = write_config(tmp_path, feed_server, hook)
    hook.script("/hook", 200)  # the first alert goes through ...
    hook.default = 503  # ... the others fail until the receiver recovers
    daemon = Daemon(config)
    await daemon.start()
    await until(lambda: len(hook.received("/hook")) >= 4, "four attempts")
    await daemon.kill()
    assert len(hook.received("/hook", 200)) == 1

    hook.default = 200
    code, _, err = await newsmon("run", "-c", str(config), "--once")
    assert code == 0, err
    accepted = [json.loads(r.body)["alerts"][0]["alert_id"] for r in hook.received("/hook", 200)]
    assert len(accepted) == 3
    assert len(set(accepted)) == 3  # none twice


async def test_sigkill_while_an_update_is_in_flight_then_restart_sends_it_once(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    """A story's follow-up is being sent (the receiver has not answered) when the daemon
    is killed: after a restart it is sent again, and the receiver takes it once."""
    from test_living_stories import RULES as STORY_RULES
    from test_living_stories import feeds, polls

    (tmp_path / "rules.yaml").write_text(STORY_RULES, encoding="utf-8")
    phase = [1]
    config = support.config.write_config(
        tmp_path, feeds(feed_server, lambda: phase[0]), rules="[rules.yaml]",
        schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, jitter: 0}",
        delivery="{backoff: 0.3s, max_backoff: 1s, timeout: 60s}",
        receivers=[f"{{name: hook, kind: webhook, url: '{hook.url('/hook')}'}}"],
    )  # fmt: skip

    def events(status: int | None = 200) -> list[str]:
        return [json.loads(r.body)["alerts"][0]["event"] for r in hook.received("/hook", status)]

    daemon = Daemon(config)
    await daemon.start()
    try:
        await until(lambda: events() == ["story.created"], "the story's first alert")
        hook.script("/hook", "hang")  # the next request, the follow-up, gets no answer
        start = polls(feed_server)
        phase[0] = 2  # a new rule joins the story: a significant update
        await until(lambda: polls(feed_server) > start and len(hook.requests) == 2,
                    "the follow-up in flight")  # fmt: skip
    finally:
        await daemon.kill()
    assert events() == ["story.created"]  # nothing accepted but the first alert

    async with Daemon(config) as again:
        await until(lambda: events() == ["story.created", "story.updated"], "the follow-up")
    followups = [json.loads(r.body)["alerts"][0] for r in hook.received("/hook", 200)][1:]
    assert len(followups) == 1 and "new rule: sanctions" in followups[0]["changes"]
    assert "story_update_sent" in again.log()
