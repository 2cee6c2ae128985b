"""What the pages and the API show, from the daemon's objects (unit tests on a real
store: the filters, the feed health order, rules as written, silences' checks, what
may be retried)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.alerts.outbox import Outbox
from monitor.alerts.silence import Silence
from monitor.config import FeedConfig, Matcher
from monitor.dedup.stories import StoryBook
from monitor.errors import BusError
from monitor.model import Evidence, Item, Match, RuleHit
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules
from monitor.rules.query import parse
from monitor.store import FeedState, OutboxRow, Store
from monitor.web import alerts, feeds, rules, silences, stories
from monitor.web.desk import Desk, Problem

ROOT = Path(__file__).resolve().parents[2]


def desk(store: Store, **kw: object) -> Desk:
    engine = Engine(load_rules([str(ROOT / "rules" / "defense.yaml")]))
    return Desk(store, StoryBook(store), Outbox(store), lambda: engine, **kw)  # type: ignore[arg-type]


def observe(d: Desk, n: int, title: str, rule: str, severity: str, term: str) -> None:
    it = Item(id=f"i{n}", feed_url="https://wire.example/rss", feed="wire", source=f"Wire {n}",
              title=title, link=f"https://wire.example/{n}")  # fmt: skip
    hit = RuleHit(rule, severity, (), (Evidence(term, "title", term, 0, len(term)),))
    d.book.observe(Match(it, (hit,)), time.time())


def test_stories_filter_by_rule_severity_entity_receiver_and_title(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        d = desk(store, receivers=("slack",))
        observe(d, 1, "Turkey receives S-400 batteries", "s400", "high", "S-400")
        observe(d, 2, "Senate weighs new sanctions on Ankara", "sanctions", "medium", "sanctions")
        sid = d.book.stories_since(0)[0].story_id
        store.outbox_add([OutboxRow("a1", sid, "slack", "sent", "{}", "g", 1.0, 1.0)])

        def titles(**query: str) -> list[str]:
            data = stories.story_list(d, stories.StoryFilter.of(query))
            return [s["title"] for s in data["stories"]]

        assert titles() == [
            "Senate weighs new sanctions on Ankara",
            "Turkey receives S-400 batteries",
        ]
        assert titles(rule="s400") == titles(severity="high") == titles(entity="s-400")
        assert titles(receiver="slack") == ["Turkey receives S-400 batteries"]
        assert titles(q="ANKARA") == ["Senate weighs new sanctions on Ankara"]
        assert titles(rule="f35") == [] and titles(limit="1") == [titles()[0]]
        observe(d, 3, "Turkey receives S-400 batteries", "s400", "high", "S-400")  # a copy
        (s400,) = stories.story_list(d, stories.StoryFilter(rule="s400"))["stories"]
        assert (s400["members"], s400["outlet_count"], s400["version"]) == (2, 2, 2)
        for bad in ({"severity": "urgent"}, {"limit": "0"}, {"limit": "x"}, {"q": "x" * 201}):
            with pytest.raises(Problem) as info:
                stories.StoryFilter.of(bad)
            assert info.value.status == 400 and info.value.field == next(iter(bad))
        with pytest.raises(Problem) as missing:
            stories.audit(d, "nope")
        assert missing.value.status == 404


def test_feeds_failing_first_then_not_polled_then_ok_and_by_host(tmp_path: Path) -> None:
    configs = [FeedConfig(f"https://{h}/{n}", n) for h, n in
               (("a.example", "fine"), ("b.example", "down"), ("a.example", "new"),
                ("b.example", "broken"))]  # fmt: skip
    with Store(tmp_path / "s.db") as store:
        store.save_feed_state(FeedState(configs[0].url, last_poll=1.0, last_reason="ok",
                                        update_rate=0.5 / 86400))  # fmt: skip
        down = FeedState(configs[1].url, last_poll=1.0, last_reason="dns",
                         last_error="no such host", consecutive_errors=7)  # fmt: skip
        store.save_feed_state(down)
        store.save_feed_state(FeedState(configs[3].url, last_poll=1.0, last_reason="parse_error",
                                        last_error="not XML", consecutive_errors=2))  # fmt: skip
        data = feeds.feed_list(desk(store, feeds=configs))
        assert [(f["name"], f["status"]) for f in data["feeds"]] == [
            ("down", "failing"),
            ("broken", "failing"),
            ("new", "pending"),
            ("fine", "ok"),
        ]
        assert data["feeds"][0]["reason"] == "dns" and data["feeds"][0]["detail"] == "no such host"
        assert data["feeds"][3]["items_per_day"] == 0.5 and data["feeds"][3]["reason"] is None
        assert [(h["host"], h["failing"], h["reasons"]) for h in data["hosts"]] == [
            ("b.example", 2, ["dns", "parse_error"]),
            ("a.example", 0, []),
        ]
        only = feeds.feed_list(desk(store, feeds=configs), "A.example")
        assert {f["name"] for f in only["feeds"]} == {"fine", "new"}


@pytest.mark.parametrize(
    "query", ["S-400", 'F-35 AND NOT (title:"F-35 game" OR "video game")',
              "(Erdogan OR Fidan) AND Turkey", "NOT NOT sanctions", "a~90 AND b~",
              "summary:Ankara OR (a AND b AND c)"],
)  # fmt: skip
def test_a_rule_is_shown_as_it_could_be_written_again(query: str) -> None:
    assert rules.query_text(parse(query)) == query


def test_the_rule_box_says_what_each_rule_makes_of_a_headline(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        d = desk(store)
        out = rules.test(d, {"title": "Erdogan: the S400 deal stands", "text": ""})
        verdicts = {v["rule"]: v for v in out["rules"]}
        assert (
            verdicts["s400"]["matched"] and verdicts["s400"]["hit"]["evidence"][0]["text"] == "S400"
        )
        assert not verdicts["f35"]["matched"] and verdicts["f35"]["hit"] is None
        for bad in ({"title": " "}, {"title": "x", "text": 3}, {"title": "x" * 2001}):
            with pytest.raises(Problem):
                rules.test(d, bad)


async def test_a_silence_needs_matchers_an_end_to_come_an_author_and_a_comment(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.db") as store:
        d = desk(store)
        form = {"matchers": 'story=abc\n entity="Joint Strike Fighter"\n', "duration": "90m",
                "author": " ana ", "comment": "known"}  # fmt: skip
        made = await silences.create(d, form)
        assert made["matchers"] == ["story=abc", 'entity="Joint Strike Fighter"']
        assert made["author"] == "ana" and made["state"] == "active"
        (kept,) = store.silences()
        assert kept[1] == (
            Matcher("story", "=", "abc"),
            Matcher("entity", "=", "Joint Strike Fighter"),
        )
        base = {"matchers": ["rule=x"], "author": "a", "comment": "c"}
        for bad, field in (({**base, "matchers": []}, "matchers"),
                           ({**base, "matchers": ["rule=~("]}, "matchers"),
                           ({**base, "matchers": ["x"] * 21}, "matchers"),
                           ({**base, "duration": "-1h"}, "duration"),
                           ({**base, "ends": "2001-01-01T00:00:00Z"}, "ends"),
                           ({**base, "duration": "400d"}, "duration"),
                           ({**base, "author": ""}, "author"),
                           ({**base, "comment": None}, "comment")):  # fmt: skip
            with pytest.raises(Problem) as info:
                await silences.create(d, bad)
            assert (info.value.status, info.value.field) == (400, field)
        assert (await silences.expire(d, made["silence_id"]))["state"] == "expired"
        with pytest.raises(Problem):
            await silences.expire(d, made["silence_id"])


def test_only_a_dead_or_pending_alert_is_retried_and_its_sender_is_woken(tmp_path: Path) -> None:
    woken: list[set[str]] = []
    with Store(tmp_path / "s.db") as store:
        d = desk(store, wake=woken.append)
        payload = json.dumps({"alert_id": "x", "title": "S-400 <b>", "event": "story.created"})
        store.outbox_add([OutboxRow(a, "s1", "slack", "pending", payload, "g", 1.0, 1.0)
                          for a in ("dead1", "sent1")])  # fmt: skip
        store.outbox_update(["dead1"], state="dead", due=1.0, error="http_4xx: HTTP 400", at=2.0)
        store.outbox_sent(["sent1"], 3.0)
        listed = alerts.alert_list(d, {"state": "dead"})
        assert [(a["alert_id"], a["title"], a["retryable"]) for a in listed["alerts"]] == [
            ("dead1", "S-400 <b>", True)
        ]
        assert listed["counts"] == {"open": 1, "pending": 0, "failing": 0, "dead": 1, "muted": 0,
                                    "sent": 1}  # fmt: skip
        assert alerts.retry(d, "dead1")["status"] == "pending" and woken == [{"slack"}]
        for alert_id, status in (("sent1", 409), ("nope", 404)):
            with pytest.raises(Problem) as info:
                alerts.retry(d, alert_id)
            assert info.value.status == status


class Topic:
    """A stand-in for the group's silences topic (kafka mode): what the desk wrote, and
    the tail that brings it into the state file; ``down`` makes the broker away."""

    def __init__(self, store: Store) -> None:
        self.store, self.down = store, False
        self.written: list[Silence] = []

    def add(self, silence: Silence) -> None:
        if self.down:
            raise BusError("kafka: writing the silence failed: KafkaTimeoutError")
        self.written.append(silence)
        self.store.put_silence(silence)  # what the tail does

    def expire(self, silence: Silence, at: float) -> None:
        self.add(replace(silence, ends=at))


async def test_in_kafka_mode_a_silence_goes_to_the_topic_and_a_broker_away_says_so(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.db") as store:
        topic = Topic(store)
        d = desk(store, silences=topic)
        made = await silences.create(d, {"matchers": ["rule=s400"], "duration": "1h",
                                         "author": "ana", "comment": "drill"})  # fmt: skip
        assert [s.silence_id for s in topic.written] == [made["silence_id"]]
        assert topic.written[0].matchers == (Matcher("rule", "=", "s400"),)
        gone = await silences.expire(d, made["silence_id"])
        assert gone["state"] == "expired" and len(topic.written) == 2
        assert topic.written[1].ends <= time.time() < topic.written[0].ends
        with pytest.raises(Problem) as info:
            await silences.expire(d, made["silence_id"])  # over: not in force
        assert info.value.status == 404
        topic.down = True
        with pytest.raises(Problem) as info:
            await silences.create(d, {"matchers": ["rule=s400"], "author": "a", "comment": "c"})
        assert info.value.status == 503 and "KafkaTimeoutError" in info.value.message
        assert len(store.silences()) == 1  # the one made, expired; nothing half-written


def test_in_kafka_mode_only_the_daemon_delivering_to_the_receiver_retries(tmp_path: Path) -> None:
    woken: list[set[str]] = []
    with Store(tmp_path / "s.db") as store:
        d = desk(store, wake=woken.append, delivers=lambda receiver: receiver == "slack")
        payload = json.dumps({"alert_id": "x", "title": "S-400", "event": "story.created"})
        store.outbox_add([OutboxRow(a, "s1", r, "pending", payload, "g", 1.0, 1.0)
                          for a, r in (("ours", "slack"), ("theirs", "email"))])  # fmt: skip
        store.outbox_update(["ours", "theirs"], state="dead", due=1.0, error="http_4xx", at=2.0)
        listed = alerts.alert_list(d, {"state": "dead"})
        assert {a["alert_id"]: a["retryable"] for a in listed["alerts"]} == {
            "ours": True, "theirs": False}  # fmt: skip
        with pytest.raises(Problem) as info:
            alerts.retry(d, "theirs")
        assert info.value.status == 409 and "delivery role" in info.value.message
        assert "'email'" in info.value.message and woken == []
        assert store.outbox_row("theirs").state == "dead"  # type: ignore[union-attr]
        with pytest.raises(Problem) as info:
            alerts.retry(d, "elsewhere")
        assert info.value.status == 404 and "kafka mode" in info.value.message
        assert alerts.retry(d, "ours")["status"] == "pending" and woken == [{"slack"}]
