"""Acceptance (issue 11): a living-story update (a copy arriving after the alert) reaches
the receiver exactly once even when the owner changes between the alert and the update.

Daemon A alone alerts a story in Slack (Web API stand-in: one parent message); its post
is recorded as sent in Kafka; then A hands over to daemon B (SIGTERM while B runs in the
group) or dies (SIGKILL, B started after). B rebuilds the story and what Slack was told
(the parent's channel and ts) from Kafka; the copy that brings a new rule then gets
exactly one thread reply under that parent, and no second parent."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from alerts.standins import SlackApi
from feedserver import FeedServer
from support.config import write_config
from support.daemon import Daemon, until
from support.net import free_port

from monitor.bus.kafka_txn import read_changelog
from monitor.cluster import delivery_changelog

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

RULES = """rules:
  - {name: s400, keywords: ["S-400"], severity: high, labels: {desk: defence}}
  - {name: sanctions, keywords: ["sanctions"], severity: medium, labels: {desk: defence}}
"""
LEAD = ("MOSCOW, July 12 - Russia is ready to share some of the technology behind its S-400"
        " air defence system with Turkey as part of a deal for a second regiment, the head of"
        " the state arms exporter said on Friday.")  # fmt: skip
MEMBERS = [  # (outlet, title, the phase it first appears in)
    ("Anka Wire", "Russia to share S-400 technology with Turkey", 1),
    ("Caspian Times", "Russia to share S-400 technology with Turkey despite sanctions threat", 2),
]
TOKEN = "xoxb-test-token"


def serve(server: FeedServer, phase: list[int]) -> list[str]:
    urls = []
    for n, (outlet, title, appears) in enumerate(MEMBERS):

        async def handler(request: web.Request, n: int = n, outlet: str = outlet,
                          title: str = title, appears: int = appears) -> web.Response:  # fmt: skip
            item = (f"<item><title>{title}</title><link>https://wire{n}.example/s400</link>"
                    f"<guid>w{n}-s400</guid><description>{LEAD}</description>"
                    "<pubDate>Fri, 12 Jul 2019 06:05:00 GMT</pubDate></item>")  # fmt: skip
            body = (f'<rss version="2.0"><channel><title>{outlet}</title>'
                    f"{item if phase[0] >= appears else ''}</channel></rss>")  # fmt: skip
            return web.Response(body=body.encode(), content_type="application/rss+xml")

        urls.append(server.add(f"/feed{n}.xml", handler))
    return urls


def config(folder: Path, urls: list[str], slack: SlackApi, bootstrap: str, prefix: str,
           port: int) -> Path:  # fmt: skip
    folder.mkdir(exist_ok=True)
    (folder / "rules.yaml").write_text(RULES, encoding="utf-8")
    bus = (f"{{kind: kafka, bootstrap_servers: ['{bootstrap}'], topic_prefix: {prefix},"
           f" group_id: {prefix}, partitions: 3, session_timeout: 6s, heartbeat_interval: 1s,"
           " max_poll_interval: 30s}")  # fmt: skip
    return write_config(
        folder, urls, rules="[rules.yaml]", bus=bus,
        http=f"{{enabled: true, listen: '127.0.0.1:{port}'}}",
        schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, jitter: 0}",
        receivers=[f"{{name: desk, kind: slack, token: '${{SLACK_TOKEN}}', channel: '#desk',"
                   f" api_url: '{slack.url}'}}"],
        extra="route: {receiver: desk, update_interval: 10m}",
    )  # fmt: skip


def post_recorded(bootstrap: str, prefix: str) -> bool:
    """Whether Kafka holds the desk's first alert as sent (what a new owner reads)."""
    kafka = {"bootstrap_servers": [bootstrap]}
    for partition in range(3):
        state = delivery_changelog.decode(read_changelog(kafka, f"{prefix}.deliveries", partition))
        if any(r.receiver == "desk" and r.kind == "alert" and r.state == "sent"
               for r in state.rows.values()):  # fmt: skip
            return True
    return False


async def ready(port: int) -> bool:
    """Whether the daemon's /readyz says ready (every partition it owns rebuilt)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.write(b"GET /readyz HTTP/1.0\r\nHost: x\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200")


def owns_everything(daemon: Daemon) -> bool:
    """Whether the daemon's last assignments give it every partition of both roles."""
    lines = daemon.log().splitlines()
    for role in ("stories", "delivery"):
        mine = [line for line in lines if f"partitions_assigned role={role} " in line]
        if not mine or "partitions=[0, 1, 2]" not in mine[-1]:
            return False
    return True


async def stop(daemon: Daemon) -> int:
    return await daemon.stop() if daemon.proc is not None else 0


async def until_async(condition: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await condition():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise TimeoutError(f"gave up waiting for {what} after {timeout:g}s") from None


def polls(server: FeedServer) -> int:
    return min(len(server.hits(f"/feed{n}.xml")) for n in range(len(MEMBERS)))


@pytest.mark.parametrize("how", ["handover", "sigkill"])
async def test_an_update_after_the_owner_changed_reaches_slack_once(
    tmp_path: Path, feed_server: FeedServer, kafka_bootstrap: str, topic_prefix: str, how: str
) -> None:
    phase = [1]
    env = dict(os.environ, SLACK_TOKEN=TOKEN)
    async with SlackApi(token=TOKEN) as slack:
        urls = serve(feed_server, phase)
        port = free_port()
        a = Daemon(config(tmp_path / "a", urls, slack, kafka_bootstrap, topic_prefix,
                          free_port()), env=env, check=False)  # fmt: skip
        b = Daemon(config(tmp_path / "b", urls, slack, kafka_bootstrap, topic_prefix, port),
                   env=env, check=False)  # fmt: skip
        try:
            await a.start()
            await until(lambda: len(slack.parents()) == 1, "the story's alert in Slack", 90)
            await until(lambda: post_recorded(kafka_bootstrap, topic_prefix),
                        "the alert recorded as sent in Kafka", 60)  # fmt: skip
            if how == "handover":
                await b.start()
                await until(lambda: "partitions_assigned role=delivery" in b.log(),
                            "B in the group", 90)  # fmt: skip
                assert await a.stop() == 0, a.log()[-3000:]
            else:
                await a.kill()
                await b.start()
            await until(lambda: owns_everything(b), "B owning every partition", 90)
            await until_async(lambda: ready(port), "B rebuilt and ready", 60)
            phase[0] = 2
            start = polls(feed_server)
            await until(lambda: polls(feed_server) >= start + 2, "B polling the copy", 60)
            (parent,) = slack.parents()
            await until(lambda: len(slack.replies(parent.ts)) >= 1, "the update in Slack", 60)
            assert await b.stop() == 0, b.log()[-3000:]
        finally:
            await stop(a)
            await stop(b)
        assert slack.problems == []
        (parent,) = slack.parents()  # never a second first message
        (reply,) = slack.replies(parent.ts)  # the update, once
        assert "sanctions" in json.dumps(reply.now)
        assert "alert_resent" not in b.log()
