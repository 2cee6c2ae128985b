"""Acceptance (living stories): one story whose six members arrive over three polls,
through the real daemon, to Slack's Web API (a stand-in that reads every payload back
through slack_sdk's Block Kit models), an escalation receiver and aiosmtpd: one parent
message updated in place, at most two thread replies, one escalation when five outlets
carried it within the hour; the first mail and a follow-up in its thread."""

from __future__ import annotations

import email
import email.policy
import json
import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from feedserver import FeedServer
from standins import HookServer, SlackApi, SmtpServer
from support.config import write_config
from support.daemon import Daemon, until

RULES = """rules:
  - {name: s400, keywords: ["S-400"], severity: high, labels: {desk: defence}}
  - {name: sanctions, keywords: ["sanctions"], severity: medium, labels: {desk: defence}}
"""
LEAD = ("MOSCOW, July 12 - Russia is ready to share some of the technology behind its S-400"
        " air defence system with Turkey as part of a deal for a second regiment, the head of"
        " the state arms exporter said on Friday.")  # fmt: skip
# (outlet, title, the poll it first appears in): six outlets carry the story over 3 polls
MEMBERS = [
    ("Anka Wire", "Russia to share S-400 technology with Turkey", 1),
    ("Baltic Post", "UPDATE 1-Russia to share S-400 technology with Turkey", 1),
    ("Caspian Times", "Russia to share S-400 technology with Turkey despite sanctions threat", 2),
    ("Danube Herald", "Russia will share S-400 technology with Turkey, exporter says", 2),
    ("Euphrates Daily", "Russia set to share S-400 know-how with Turkey", 3),
    ("Fjord Courier", "Russia offers Turkey S-400 technology in new deal", 3),
]


def feeds(server: FeedServer, phase: Callable[[], int]) -> list[str]:
    """Six feeds, one outlet each; a feed carries its item from its member's poll on."""
    urls = []
    for n, (outlet, title, appears) in enumerate(MEMBERS):

        async def handler(request: web.Request, n: int = n, outlet: str = outlet,
                          title: str = title, appears: int = appears) -> web.Response:  # fmt: skip
            item = (f"<item><title>{title}</title><link>https://wire{n}.example/s400</link>"
                    f"<guid>w{n}-s400</guid><description>{LEAD}</description>"
                    "<pubDate>Fri, 12 Jul 2019 06:05:00 GMT</pubDate></item>")  # fmt: skip
            body = (f'<rss version="2.0"><channel><title>{outlet}</title>'
                    f"{item if phase() >= appears else ''}</channel></rss>")  # fmt: skip
            return web.Response(body=body.encode(), headers={"Content-Type": "application/rss+xml"})

        urls.append(server.add(f"/feed{n}.xml", handler))
    return urls


def polls(server: FeedServer) -> int:
    """Polls each feed has had (the slowest one's count)."""
    return min(len(server.hits(f"/feed{n}.xml")) for n in range(len(MEMBERS)))


async def run_phases(server: FeedServer, phase: list[int], done: Callable[[int], bool]) -> None:
    for step in (1, 2, 3):
        phase[0] = step
        start = polls(server)
        await until(lambda start=start: polls(server) >= start + 2, f"poll {step} of every feed")  # type: ignore[misc]
        await until(lambda step=step: done(step), f"what poll {step} brings")  # type: ignore[misc]


async def test_a_story_in_slack_grows_in_place_and_escalates_once(
    tmp_path: Path, feed_server: FeedServer, hook: HookServer
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    phase = [0]
    async with SlackApi(token="xoxb-test-token") as slack:
        config = write_config(
            tmp_path, feeds(feed_server, lambda: phase[0]), rules="[rules.yaml]",
            schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, jitter: 0}",
            receivers=[
                f"{{name: desk, kind: slack, token: '${{SLACK_TOKEN}}', channel: '#desk',"
                f" api_url: '{slack.url}', timezone: Europe/Moscow}}",
                f"{{name: oncall, kind: webhook, url: '{hook.url('/oncall')}'}}",
            ],
            extra="route: {receiver: desk, update_interval: 10m,"
                  " escalate: {outlets: 5, within: 1h, severity: critical, receiver: oncall}}",
        )  # fmt: skip
        env = dict(os.environ, SLACK_TOKEN="xoxb-test-token")

        def done(step: int) -> bool:
            parents = slack.parents()
            replies = slack.replies(parents[0].ts) if parents else []
            return (len(parents) == 1 and len(replies) >= step - 1
                    and (step < 3 or len(hook.received("/oncall")) == 1))  # fmt: skip

        async with Daemon(config, env=env) as daemon:
            await run_phases(feed_server, phase, done)
        assert slack.problems == []
        (parent,) = slack.parents()
        replies = slack.replies(parent.ts)
        assert len(replies) == 2, [r.now["text"] for r in replies]
        assert "sanctions" in json.dumps(replies[0].now)  # the new rule, told in the thread
        assert "spreading" in json.dumps(replies[1].now).lower()
        assert len(parent.versions) >= 2  # updated in place
        assert "6 outlets" in json.dumps(parent.now) or "5 outlets" in json.dumps(parent.now)
        (escalated,) = hook.received("/oncall")
        (alert,) = json.loads(escalated.body)["alerts"]
        assert (alert["event"], alert["severity"]) == ("story.escalated", "critical")
        assert len(alert["outlets"]) >= 5
        assert "story_escalated" in daemon.log()


async def test_an_email_follow_up_threads_under_the_first_mail(
    tmp_path: Path, feed_server: FeedServer, cert: tuple[Path, Path]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    phase = [0]
    with SmtpServer(tls=cert) as smtp:
        config = write_config(
            tmp_path, feeds(feed_server, lambda: phase[0]), rules="[rules.yaml]",
            schedule="{interval: 1s, min_interval: 1s, max_interval: 1s, jitter: 0}",
            receivers=[f"{{name: mail, kind: email, host: 127.0.0.1, port: {smtp.port},"
                       f" from: newsmon@desk.example, to: [desk@desk.example],"
                       f" cafile: '{cert[0]}', timeout: 5s}}"],
        )  # fmt: skip

        def done(step: int) -> bool:
            return len(smtp.messages) >= min(step, 2)

        async with Daemon(config):
            await run_phases(feed_server, phase, done)
    first, follow, *more = [email.message_from_bytes(m, policy=email.policy.default)
                            for m in smtp.messages]  # fmt: skip
    assert first["Message-ID"].endswith("@desk.example>")
    assert follow["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in follow["References"]
    assert follow["Subject"].strip().startswith("Re: ")
    assert all(m["In-Reply-To"] == first["Message-ID"] for m in more)  # the escalation too
