from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from lifecycle import created, update
from standins import HookServer

from monitor.alerts.route import alerts_for
from monitor.alerts.sinks.console import ConsoleSink
from monitor.alerts.sinks.file import FileSink
from monitor.alerts.sinks.webhook import WebhookSink
from monitor.model import Evidence, Item, Match, RuleHit

ITEM = Item(
    id="g1",
    feed_url="https://f.example/rss",
    feed="F",
    source="F News",
    title="S-400 \x1b[31mred\x1b[0m arrives",
    link="https://f.example/a",
    published=datetime(2019, 7, 12, 6, 5, tzinfo=UTC),
)
MATCH = Match(
    ITEM,
    (
        RuleHit("s400", "high", (), (Evidence("S-400", "title", "S-400", 0, 5),)),
        RuleHit("turkey", "low", (), (Evidence("S-400", "title", "S-400", 0, 5),)),
    ),
)


def test_one_alert_per_receiver_with_all_rules_and_highest_severity() -> None:
    alerts = alerts_for(MATCH, "story1", ["desk", "console"])
    assert [a.receiver for a in alerts] == ["desk", "console"]
    assert len({a.alert_id for a in alerts}) == 2
    assert alerts_for(MATCH, "story1", ["desk"])[0].alert_id == alerts[0].alert_id  # stable
    assert all(a.rules == ("s400", "turkey") and a.severity == "high" for a in alerts)


async def test_file_sink_appends_one_json_line_per_alert(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    alert = alerts_for(MATCH, "story1", ["desk"])[0]
    async with FileSink(path) as sink:
        await sink.send([alert])
        await sink.send([alert])
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    assert lines[0]["story_id"] == "story1" and lines[0]["rules"] == ["s400", "turkey"]
    assert lines[0]["published"] == "2019-07-12T06:05:00Z"
    assert lines[0]["matched"]["S-400"][0]["field"] == "title"


async def test_console_sink_neutralises_terminal_escapes() -> None:
    out = io.StringIO()
    async with ConsoleSink(out) as sink:
        await sink.send(alerts_for(MATCH, "story1", ["console"]))
    text = out.getvalue()
    assert "\x1b" not in text
    assert "[HIGH] S-400  [31mred [0m arrives" in text
    assert "https://f.example/a" in text


async def test_a_followup_is_a_json_line_of_its_own_and_a_created_line_keeps_its_fields(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    first = created("desk")
    async with FileSink(path) as sink:
        await sink.send([first])
        await sink.send([update(first, 3, mode="followup", changes=("new rule: sanctions",))])
    one, two = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    for field in ("alert_id", "story_id", "rules", "severity", "title", "link", "source",
                  "published", "matched", "duplicates"):  # fmt: skip
        assert field in one and field in two
    assert (one["event"], one["mode"], one["version"]) == ("story.created", "post", 1)
    assert (two["event"], two["mode"], two["version"]) == ("story.updated", "followup", 3)
    assert two["changes"] == ["new rule: sanctions"]
    assert [m["source"] for m in two["members"]] == ["Wire", "AP", "TASS"]


async def test_the_webhook_carries_events_and_members_and_a_20_alert_digest_whole(
    hook: HookServer,
) -> None:
    group = [created("hook", n=i) for i in range(1, 21)]
    first = group[0]
    async with WebhookSink("hook", hook.url("/hook")) as sink:
        assert sink.max_batch is None and not sink.edits
        assert await sink.send(group) is None
        await sink.send([update(first, 4, mode="followup", changes=("new entity: Erdoğan",))])
    digest, later = (json.loads(r.body) for r in hook.received("/hook", 200))
    assert [a["story_id"] for a in digest["alerts"]] == [f"story{i}" for i in range(1, 21)]
    assert {a["event"] for a in digest["alerts"]} == {"story.created"}
    (followup,) = later["alerts"]
    assert (followup["event"], followup["changes"]) == ("story.updated", ["new entity: Erdoğan"])
    assert len(followup["members"]) == 4 and followup["outlets"][-1] == "Daily Sabah"


async def test_the_console_tells_a_followup_in_a_line_of_its_own() -> None:
    out = io.StringIO()
    first = created("console", title="S-400 \x1b[2J deal")
    async with ConsoleSink(out) as sink:
        await sink.send(
            [update(first, 3, mode="followup", changes=("new rule: \x1b[31msanctions",))]
        )
        await sink.send([update(first, 5, mode="post", event="escalated", changes=("spreading",))])
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    assert lines[0] == "[UPDATE] [HIGH] S-400  [2J deal"
    assert lines[1].startswith("    new: new rule: [31msanctions | 3 outlets · latest: TASS,")
    assert lines[3].startswith("[SPREADING] [HIGH] S-400  [2J deal")
