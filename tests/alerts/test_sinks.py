from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.alerts.route import alerts_for
from monitor.alerts.sinks.console import ConsoleSink
from monitor.alerts.sinks.file import FileSink
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
