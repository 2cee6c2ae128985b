"""The alertmanager receiver: what it posts (unit), and Debian's Prometheus
Alertmanager taking it (the alert is there with its labels; a silence made in
Alertmanager mutes it there; a growing story keeps firing; an escalation leaves
one alert per rule firing), through the one delivery loop."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alertmanager import alertmanager, api, version
from helpers import alert, dispatcher, enqueue, outcome, settle
from lifecycle import created, update
from standins import HookServer

from monitor.alerts.sinks import build
from monitor.alerts.sinks.alertmanager import AlertmanagerSink, endpoint
from monitor.config import ReceiverConfig, Secret
from monitor.errors import ConfigError
from monitor.model import Alert, parse_iso

NOW = datetime(2019, 7, 12, 7, 0, tzinfo=UTC)


def story(receiver: str = "am", **fields: Any) -> Alert:
    first = created(receiver)
    return replace(first, rules=("s400", "sanctions"), labels=(("desk", "defence"),), **fields)


def sink(url: str, clock: Any = None, **options: Any) -> AlertmanagerSink:
    made = build(ReceiverConfig("am", "alertmanager", {"url": url, **options}, "n.yaml", 3),
                 Path("."))  # fmt: skip
    assert isinstance(made, AlertmanagerSink)
    if clock is not None:
        made.clock = clock
    return made


def test_one_alert_per_rule_with_the_story_labels_and_annotations() -> None:
    am = sink("http://am.example:9093", labels={"team": "osint"})
    posted = am.postable(story(), NOW)
    assert [p["labels"]["rule"] for p in posted] == ["s400", "sanctions"]
    assert posted[0]["labels"] == {
        "alertname": "NewsmonStory", "story": "story1", "rule": "s400", "severity": "high",
        "receiver": "am", "desk": "defence", "team": "osint",
    }  # fmt: skip
    annotations = posted[0]["annotations"]
    assert annotations["title"] == "Russia to share S-400 technology with Turkey"
    assert annotations["link"] == posted[0]["generatorURL"] == "https://wire.example/1"
    assert (annotations["outlets"], annotations["status"]) == ("Wire", "1 outlet")
    assert parse_iso(posted[0]["endsAt"]) == NOW + timedelta(hours=1)
    assert parse_iso(posted[0]["startsAt"]) <= NOW  # type: ignore[operator]
    assert am.endpoints == ["http://am.example:9093/api/v2/alerts"]


def test_a_followup_extends_the_alert_and_an_escalation_resolves_the_other_severities() -> None:
    am = sink("http://am.example:9093/", resolve_after="30m")
    grown = update(story(), 3, mode="edit")
    later = am.postable(grown, NOW + timedelta(minutes=20))
    firing = [p for p in later if parse_iso(p["endsAt"]) > NOW + timedelta(minutes=20)]  # type: ignore[operator]
    assert len(firing) == 2 and parse_iso(firing[0]["endsAt"]) == NOW + timedelta(minutes=50)
    assert firing[0]["annotations"]["status"].startswith("3 outlets · latest: TASS")
    resolved = [p for p in later if p not in firing]
    assert {p["labels"]["severity"] for p in resolved} == {"low", "medium", "critical"}
    assert all(parse_iso(p["endsAt"]) == NOW + timedelta(minutes=20) for p in resolved)
    assert len(am.postable(story(), NOW)) == 2  # a new story has nothing to resolve


def test_links_times_and_options_are_checked() -> None:
    am = sink("https://am.example")
    unlinked = am.postable(story(link="javascript:alert(1)"), NOW)[0]
    assert "generatorURL" not in unlinked and "link" not in unlinked["annotations"]
    early = am.postable(story(item_seen=NOW + timedelta(hours=5)), NOW)[0]
    assert parse_iso(early["startsAt"]) == NOW  # never after endsAt (a clock ahead)
    assert endpoint("http://a:9093/am/api/v2/alerts/") == "http://a:9093/am/api/v2/alerts"
    for options, message in (
        ({}, "needs url"),
        ({"url": "am.example:9093"}, "must be an http"),
        ({"url": "http://a", "urls": ["http://b"]}, "not both"),
    ):
        with pytest.raises(ConfigError, match=message):
            build(ReceiverConfig("am", "alertmanager", options, "n.yaml", 3), Path("."))


async def test_the_http_outcome_rules_apply(tmp_path: Path, hook: HookServer) -> None:
    hook.script("/api/v2/alerts", 500)
    sinks = {"am": sink(hook.url("/"))}
    async with dispatcher(tmp_path, sinks) as (d, outbox, metrics):
        enqueue(d, outbox, [alert("am")])
        await settle(outbox)
    assert [r.status for r in hook.received("/api/v2/alerts")] == [500, 200]
    assert outcome(metrics, "am", "sent") == 1
    hook.script("/bad/api/v2/alerts", 400)
    async with dispatcher(tmp_path / "x", {"am": sink(hook.url("/bad"))}) as (d, outbox, _):
        enqueue(d, outbox, [alert("am")])
        await settle(outbox)
        (entry,) = outbox.entries("dead")
    assert entry.last_error == "http_4xx: HTTP 400"


def alerts_of(base: str, story_id: str, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api(base, "/alerts", filter=f'story="{story_id}"', **params)
    return sorted(found, key=lambda a: (a["labels"]["rule"], a["labels"]["severity"]))


async def eventually(check: Any, timeout: float = 30) -> Any:
    """``check()`` once it is truthy (Alertmanager takes what it is sent at once,
    but a loaded machine may be slow to answer)."""
    async with asyncio.timeout(timeout):
        while not (found := await asyncio.to_thread(check)):
            await asyncio.sleep(0.2)
    return found


async def test_alertmanager_takes_the_story_and_its_silence_mutes_it(tmp_path: Path) -> None:
    (tmp_path / "am").mkdir()
    with alertmanager(tmp_path / "am") as base:
        assert version(base).count(".") == 2  # e.g. 0.25.0, Debian bookworm's
        url = Secret(base)  # as from ${ALERTMANAGER_URL}
        am = sink(url, labels={"team": "osint"})  # type: ignore[arg-type]
        async with dispatcher(tmp_path, {"am": am}) as (d, outbox, _):
            enqueue(d, outbox, [story()])
            await settle(outbox)
            firing = await eventually(
                lambda: [a for a in alerts_of(base, "story1") if a["status"]["state"] == "active"]
            )
            assert [a["labels"]["rule"] for a in firing] == ["s400", "sanctions"]
            assert firing[0]["labels"] == {
                "alertname": "NewsmonStory", "story": "story1", "rule": "s400",
                "severity": "high", "receiver": "am", "desk": "defence", "team": "osint",
            }  # fmt: skip
            assert firing[0]["annotations"]["link"] == "https://wire.example/1"
            assert firing[0]["generatorURL"] == "https://wire.example/1"
            assert firing[0]["status"]["state"] == "active"
            first_end = parse_iso(firing[0]["endsAt"])

            silence = api(base, "/silences", body={
                "matchers": [{"name": "story", "value": "story1", "isRegex": False,
                              "isEqual": True}],
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "createdBy": "desk", "comment": "known story",
            })["silenceID"]  # fmt: skip
            muted = await eventually(
                lambda: [a for a in alerts_of(base, "story1") if a["status"]["silencedBy"]]
            )
            assert len(muted) == 2
            assert all(a["status"] == {"state": "suppressed", "silencedBy": [silence],
                                       "inhibitedBy": []} for a in muted)  # fmt: skip
            assert alerts_of(base, "story1", silenced="false") == []

            escalated = update(story(), 4, mode="followup", event="escalated",
                               changes=("spreading: 4 outlets within 30m",))  # fmt: skip
            enqueue(d, outbox, [replace(escalated, severity="critical")])
            await settle(outbox)
            now = await eventually(
                lambda: [a for a in alerts_of(base, "story1")
                         if a["labels"]["severity"] == "critical"]
            )  # fmt: skip
        assert len(now) == 2 and all(a["status"]["silencedBy"] == [silence] for a in now)
        assert [a["labels"]["severity"] for a in alerts_of(base, "story1")] == ["critical"] * 2
        assert parse_iso(now[0]["endsAt"]) > first_end  # type: ignore[operator]
        assert now[0]["annotations"]["status"].startswith("4 outlets")
