"""The Slack sink in Web API mode against the Slack stand-in: a story posted once,
kept current in place, its significant updates replied in its thread; digests
split across messages with none hidden; errors classified without the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import dispatcher, enqueue, settle
from lifecycle import created, update
from standins import SlackApi
from test_slack import shown_stories

from monitor.alerts.sinks.base import Batch
from monitor.alerts.sinks.slack_api import SlackApiSink, classify
from monitor.errors import DeliveryError

TOKEN = "xoxb-test-token"
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
async def slack() -> AsyncIterator[SlackApi]:
    async with SlackApi(token=TOKEN) as server:
        yield server


def sink(slack: SlackApi, **kw: object) -> SlackApiSink:
    return SlackApiSink(TOKEN, "#desk", api_url=slack.url, **kw)  # type: ignore[arg-type]


def text_of(message: dict[str, object]) -> str:
    return str(message["text"]) + " " + str(message["blocks"])


async def test_a_story_is_one_message_kept_current_with_its_updates_in_its_thread(
    slack: SlackApi,
) -> None:
    first = created("slack")
    async with sink(slack, zone=MOSCOW) as s:
        (receipt,) = await s.send([first])  # type: ignore[misc]
        assert receipt is not None and set(receipt) == {"channel", "ts"}
        assert receipt["channel"] == "C0DESK"  # the id Slack answered, not "#desk"
        await s.send([update(first, 3, mode="edit", thread=receipt)])
        new_rule = ("new rule: sanctions",)
        assert await s.send([update(first, 4, mode="followup", changes=new_rule,
                                    thread=receipt)]) == [None]  # fmt: skip
        erdogan = ("new entity: Erdoğan", "new number: 2.5 billion")
        await s.send([update(first, 6, mode="followup", changes=erdogan, thread=receipt)])
    assert slack.problems == []  # every payload read back by slack_sdk's Block Kit models
    (parent,) = slack.parents()
    assert parent.ts == receipt["ts"]
    assert len(parent.versions) == 4  # posted, then updated in place three times
    assert "1 outlet" in text_of(parent.versions[0])
    assert "3 outlets · latest: TASS, 2019-07-12 09:19 MSK (06:19 UTC)" in text_of(
        parent.versions[1]
    )
    assert "6 outlets · latest: Reuters" in text_of(parent.now)
    assert "Outlets: Wire, AP, TASS, Daily Sabah, Defense News, Reuters" in text_of(parent.now)
    replies = slack.replies(parent.ts)
    assert len(replies) == 2
    assert "new rule: sanctions" in text_of(replies[0].now)
    assert "new entity: Erdoğan" in text_of(replies[1].now)
    assert "new number: 2.5 billion" in text_of(replies[1].now)
    assert replies[1].now["text"].startswith("🟠 Update: Russia to share S-400")
    assert all(r.versions == [r.now] for r in replies)  # replies are never edited


async def test_severity_is_a_coloured_circle_and_an_escalation_says_spreading(
    slack: SlackApi,
) -> None:
    first = created("oncall")
    spreading = update(first, 5, mode="post", event="escalated",
                       changes=("spreading: 5 outlets within 1h",))  # fmt: skip
    async with sink(slack) as s:
        await s.send([replace(spreading, severity="critical")])
        await s.send([replace(created("x", n=2), severity="low")])
    escalation, low = (m.now for m in slack.parents())
    assert escalation["text"].startswith("🔴 ")
    head = escalation["blocks"][0]["text"]["text"]
    assert head.startswith("🔴 *Spreading:* *<https://wire.example/1|")
    assert "New: spreading: 5 outlets within 1h" in text_of(escalation)
    assert "5 outlets" in text_of(escalation)
    assert low["text"].startswith("⚪ ")


async def test_a_20_alert_digest_reaches_the_channel_whole_in_two_messages(
    slack: SlackApi,
) -> None:
    group = [created("slack", n=i, title=f"Story number {i}") for i in range(1, 21)]
    async with sink(slack) as s:
        size = s.max_batch
        assert size is not None and size < 20
        receipts = []
        for first in range(0, 20, size):  # as the delivery loop sends a group: a batch at a time
            part = Batch(group[first : first + size], first=first, group=20)
            receipts += list(await s.send(part) or [])
        # an edit cannot rewrite one alert of a digest (the others would be lost): let go;
        # a follow-up goes to the digest's thread
        await s.send([update(group[4], 3, mode="edit", thread=receipts[4])])  # type: ignore[arg-type]
        await s.send([update(group[4], 4, mode="followup", changes=("new rule: f35",),
                             thread=receipts[4])])  # type: ignore[arg-type]  # fmt: skip
    first_part, second_part = slack.parents()
    assert shown_stories(first_part.versions[0]) + shown_stories(second_part.versions[0]) == list(
        range(1, 21)
    )
    assert first_part.now["blocks"][0]["text"]["text"].startswith("*Alerts 1–12 of 20*")
    assert second_part.now["blocks"][0]["text"]["text"].startswith("*Alerts 13–20 of 20*")
    assert all(len(m.now["blocks"]) <= 50 for m in (first_part, second_part))
    assert [r["ts"] for r in receipts[:12]] == [first_part.ts] * 12  # type: ignore[index]
    assert receipts[13] == {"channel": "C0DESK", "ts": second_part.ts, "digest": "8"}
    assert len(first_part.versions) == 1  # neither the edit nor the follow-up rewrote it
    (reply,) = slack.replies(first_part.ts)
    assert "new rule: f35" in text_of(reply.now) and "Story number 5" in text_of(reply.now)
    assert slack.problems == []


async def test_a_digest_given_whole_is_still_split_never_hidden(slack: SlackApi) -> None:
    group = [created("slack", n=i, title=f"Story number {i}") for i in range(1, 31)]
    async with sink(slack) as s:
        receipts = await s.send(group)
    messages = slack.parents()
    assert len(messages) == 3
    assert [n for m in messages for n in shown_stories(m.now)] == list(range(1, 31))
    assert receipts is not None and all(r is not None for r in receipts)


async def test_429_is_http_429_with_retry_after_and_the_retry_delivers(slack: SlackApi) -> None:
    slack.script("chat.postMessage", (429, {"Retry-After": "7"}))
    async with sink(slack) as s:
        with pytest.raises(DeliveryError) as caught:
            await s.send([created("slack")])
        assert (caught.value.reason, caught.value.retryable) == ("http_429", True)
        assert caught.value.retry_after == 7.0
        assert await s.send([created("slack")]) is not None
    assert len(slack.parents()) == 1


@pytest.mark.parametrize(
    ("code", "retryable"),
    [("channel_not_found", False), ("not_in_channel", False), ("token_revoked", False),
     ("missing_scope", False), ("internal_error", True), ("fatal_error", True),
     ("service_unavailable", True), ("ratelimited", True)],
)  # fmt: skip
async def test_slack_errors_are_classified_with_their_code_and_never_the_token(
    slack: SlackApi, code: str, retryable: bool
) -> None:
    slack.script("chat.postMessage", code)
    async with sink(slack) as s:
        with pytest.raises(DeliveryError) as caught:
            await s.send([created("slack")])
    error = caught.value
    assert error.retryable is retryable
    assert code in error.detail and "chat.postMessage" in error.detail
    assert TOKEN not in str(error) and TOKEN not in repr(error) and TOKEN not in repr(s)
    assert error.__cause__ is None and error.__suppress_context__  # slack_sdk's text dropped


async def test_a_wrong_token_is_refused_for_good(slack: SlackApi) -> None:
    async with SlackApiSink("xoxb-wrong", "#desk", api_url=slack.url) as s:
        with pytest.raises(DeliveryError) as caught:
            await s.send([created("slack")])
    assert not caught.value.retryable
    assert "invalid_auth" in caught.value.detail and "xoxb-wrong" not in str(caught.value)
    assert slack.messages == {}


def test_http_answers_that_are_not_slack_answers() -> None:
    e = classify("chat.update", 502, {}, b"<html>bad gateway</html>")
    assert (e.reason, e.retryable) == ("http_5xx", True)
    e = classify("chat.update", 200, {}, {"ok": False, "error": "<!channel> xoxb-leak"})
    assert (e.reason, e.retryable) == ("other", True) and "xoxb" not in e.detail
    e = classify("chat.update", 404, {}, {})
    assert (e.reason, e.retryable) == ("http_4xx", False)
    e = classify("chat.postMessage", 200, {}, {"ok": False, "error": "not_in_channel"})
    assert e.detail == "Slack chat.postMessage: not_in_channel (invite the bot to the channel)"


async def test_a_followup_to_a_deleted_message_is_posted_on_its_own(slack: SlackApi) -> None:
    first = created("slack")
    gone = {"channel": "C0DESK", "ts": "1600000000.000001"}  # no such message
    async with sink(slack) as s:
        await s.send([update(first, 2, mode="edit", thread=gone)])  # nothing to edit: let go
        await s.send([update(first, 3, mode="followup", changes=("new rule: s400",),
                             thread=gone)])  # fmt: skip
    (alone,) = slack.parents()
    assert alone.now["text"].startswith("🟠 Update:") and "new rule: s400" in text_of(alone.now)


async def test_followups_off_keeps_the_message_current_without_replies(slack: SlackApi) -> None:
    first = created("slack")
    async with sink(slack, followups=False) as s:
        (receipt,) = await s.send([first])  # type: ignore[misc]
        await s.send([update(first, 4, mode="followup", changes=("x",), thread=receipt)])
    (parent,) = slack.parents()
    assert len(parent.versions) == 2 and "4 outlets" in text_of(parent.now)
    assert slack.replies(parent.ts) == []


async def test_the_delivery_loop_posts_through_the_web_api(tmp_path: Path, slack: SlackApi) -> None:
    async with dispatcher(tmp_path, {"slack": sink(slack)}) as (d, outbox, _):
        enqueue(d, outbox, [created("slack")])
        await settle(outbox)
    (parent,) = slack.parents()
    assert "Russia to share S-400" in parent.now["text"]
