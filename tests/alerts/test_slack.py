"""The Slack sink in incoming-webhook mode: Slack's 50-block budget (a digest
continues in further messages, none hidden), follow-ups as short messages, links
too long to link; checked on what the stand-in received, every block read back
by slack_sdk's Block Kit models."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path
from typing import Any

from helpers import alert, dispatcher, settle
from lifecycle import created, update
from standins import HookServer, block_problem

from monitor.alerts.outbox import MAX_BATCH
from monitor.alerts.render import LINK_MAX, safe_link, text
from monitor.alerts.route import Routed
from monitor.alerts.sinks.slack import SlackSink
from monitor.alerts.sinks.slack_blocks import MAX_BLOCKS, PER_MESSAGE, link, post, posts

STORY = re.compile(r"Story number (\d+)\b")


def shown_stories(doc: dict[str, Any]) -> list[int]:
    """The stories a message shows whole: each headline section linking one."""
    heads = [b["text"]["text"] for b in doc["blocks"] if b["type"] == "section"]
    return [int(m[1]) for h in heads if (m := STORY.search(h)) and "*<https://" in h]


def digest(n: int) -> list[Any]:
    return [alert("slack", title=f"Story number {i}", n=i) for i in range(1, n + 1)]


async def test_a_digest_of_30_reaches_slack_whole_across_messages(
    tmp_path: Path, hook: HookServer
) -> None:
    sinks = {"slack": SlackSink(hook.url("/slack"))}
    async with dispatcher(tmp_path, sinks) as (d, outbox, _):
        grouped = Routed("slack", "0", group_wait=0.5)
        outbox.enqueue(((grouped, a) for a in digest(30)), 0.0)  # due at once, one group
        d.wake({"slack"})
        await settle(outbox)
    docs = [json.loads(r.body) for r in hook.received("/slack", 200)]
    assert len(docs) == 3  # 12 + 12 + 6
    assert [n for doc in docs for n in shown_stories(doc)] == list(range(1, 31))
    for doc in docs:
        assert len(doc["blocks"]) <= MAX_BLOCKS and block_problem(doc["blocks"]) is None
        assert "not shown" not in json.dumps(doc)
    heads = [doc["blocks"][0]["text"]["text"] for doc in docs]
    assert heads[0].startswith("*Alerts 1–12 of 30*") and heads[2].startswith("*Alerts 25–30 of")
    assert docs[2]["text"].startswith("🟠 Alerts 25–30 of 30:")


def test_every_digest_size_is_shown_whole() -> None:
    for n in [1, 2, 11, 12, 13, 14, 15, 20, 25, MAX_BATCH]:
        docs = posts(digest(n), UTC)
        assert [n for doc in docs for n in shown_stories(doc)] == list(range(1, n + 1)), n
        assert all(len(doc["blocks"]) <= MAX_BLOCKS for doc in docs), n
        assert len(docs) == -(-n // PER_MESSAGE), n  # as few messages as the budget allows
        assert all(block_problem(doc["blocks"]) is None for doc in docs), n


def test_one_alert_alone_is_three_blocks_and_a_lone_part_says_where_it_sits() -> None:
    (one,) = digest(1)
    assert len(post([one], UTC)["blocks"]) == 3
    part = post([one], UTC, first=12, group=13)
    assert part["blocks"][0]["text"]["text"].startswith("*Alerts 13 of 13*")


async def test_a_followup_is_a_short_message_with_the_outlets_count(hook: HookServer) -> None:
    first = created("slack")
    async with SlackSink(hook.url("/slack")) as s:
        assert await s.send([first]) is None  # a webhook gives no receipt
        await s.send([update(first, 4, mode="followup", changes=("new rule: sanctions",))])
    _, doc = (json.loads(r.body) for r in hook.received("/slack", 200))
    assert doc["text"] == (
        "🟠 Update: Russia to share S-400 technology with Turkey: new rule: sanctions (4 outlets)"
    )
    assert block_problem(doc["blocks"]) is None
    assert "Outlets: Wire, AP, TASS, Daily Sabah" in json.dumps(doc, ensure_ascii=False)


async def test_followups_off_sends_nothing_for_them(hook: HookServer) -> None:
    first = created("slack")
    async with SlackSink(hook.url("/slack"), followups=False) as s:
        await s.send([update(first, 4, mode="followup", changes=("new rule: sanctions",))])
    assert hook.received("/slack") == []


def test_a_link_too_long_is_not_linked_and_the_title_survives() -> None:
    long = "https://x.example/" + "a" * 5000
    (head, *_) = post([alert("slack", title="S-400 deal signed", link=long)], UTC)["blocks"]
    assert head["text"]["text"] == "🟠 *S-400 deal signed*"
    assert safe_link(long) is None
    assert "(no link)" in text([alert("email", link=long)])  # nor in an email

    fits = "https://x.example/" + "a" * (LINK_MAX - len("https://x.example/"))
    assert safe_link(fits) == fits
    assert link(fits, "title") == f"<{fits}|title>"
    # within LINK_MAX but too long for a section once its pipes are %-encoded
    piped = "https://x.example/" + "|" * 1900
    assert link(piped, "title") == "title"
