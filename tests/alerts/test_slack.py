"""Slack payload size: Slack's 50-block budget, the "more alerts" marker, and links
too long to link; checked on what the Slack stand-in received."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from helpers import alert, dispatcher, settle
from standins import HookServer

from monitor.alerts.outbox import MAX_BATCH
from monitor.alerts.render import LINK_MAX, safe_link, text
from monitor.alerts.route import Routed
from monitor.alerts.sinks.slack import MAX_BLOCKS, SlackSink, link, payload

SHOWN = re.compile(r"Story number (\d+)\b")
MORE = re.compile(r"(\d+) more alerts? not shown")


def shown_and_hidden(doc: dict[str, Any]) -> tuple[list[int], int]:
    blocks = json.dumps(doc["blocks"], ensure_ascii=False)
    heads = [b["text"]["text"] for b in doc["blocks"] if b["type"] == "section"]
    shown = [int(m[1]) for h in heads if (m := SHOWN.search(h)) and h.startswith("*<")]
    more = MORE.findall(blocks)
    return shown, int(more[0]) if more else 0


def digest(n: int) -> list[Any]:
    return [alert("slack", title=f"Story number {i}", n=i) for i in range(1, n + 1)]


async def test_a_digest_of_30_fits_50_blocks_and_says_how_many_are_not_shown(
    tmp_path: Path, hook: HookServer
) -> None:
    sinks = {"slack": SlackSink(hook.url("/slack"))}
    async with dispatcher(tmp_path, sinks) as (d, outbox, _):
        grouped = Routed("slack", "0", group_wait=0.5)
        outbox.enqueue(((grouped, a) for a in digest(30)), 0.0)  # due at once, one group
        d.wake({"slack"})
        await settle(outbox)
    (request,) = hook.received("/slack", 200)
    doc = json.loads(request.body)
    assert len(doc["blocks"]) <= MAX_BLOCKS
    shown, hidden = shown_and_hidden(doc)
    assert shown == list(range(1, len(shown) + 1))  # the first ones, in order
    assert hidden == 30 - len(shown) > 0
    assert doc["blocks"][-1]["elements"][0]["text"].endswith(f"{hidden} more alerts not shown")
    assert doc["blocks"][0]["text"]["text"] == "*30 alerts*"


def test_the_marker_survives_at_every_digest_size() -> None:
    for n in [1, 2, 11, 12, 13, 14, 15, 20, MAX_BATCH]:
        doc = payload(digest(n))
        shown, hidden = shown_and_hidden(doc)
        assert len(doc["blocks"]) <= MAX_BLOCKS, n
        assert len(shown) + hidden == n, n
        assert shown == list(range(1, len(shown) + 1)), n
        assert len(shown) >= min(n, 12), n  # as many as Slack's budget allows


def test_a_link_too_long_is_not_linked_and_the_title_survives() -> None:
    long = "https://x.example/" + "a" * 5000
    (head, *_) = payload([alert("slack", title="S-400 deal signed", link=long)])["blocks"]
    assert head["text"]["text"] == "*S-400 deal signed*"
    assert safe_link(long) is None
    assert "(no link)" in text([alert("email", link=long)])  # nor in an email

    fits = "https://x.example/" + "a" * (LINK_MAX - len("https://x.example/"))
    assert safe_link(fits) == fits
    assert link(fits, "title") == f"<{fits}|title>"
    # within LINK_MAX but too long for a section once its pipes are %-encoded
    piped = "https://x.example/" + "|" * 1900
    assert link(piped, "title") == "title"
