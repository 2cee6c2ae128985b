from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.model import Alert, Evidence, Item, Match, RuleHit, decode, encode, parse_iso

ITEM = Item(
    id="urn:x:1",
    feed_url="https://f.example/rss",
    feed="F",
    source="F News",
    title="S-400 to Turkey",
    summary="Deliveries begin.",
    link="https://f.example/a",
    guid="urn:x:1",
    language="en",
    published=datetime(2019, 7, 12, 9, 30, tzinfo=timezone(timedelta(hours=3))),
    seen=datetime(2019, 7, 12, 7, 0, tzinfo=UTC),
)
HIT = RuleHit("s400", "high", (("desk", "defence"),), (Evidence("S-400", "title", "S-400", 0, 5),))


@pytest.mark.parametrize("record", [ITEM, Match(ITEM, (HIT,))])
def test_envelope_round_trip(record: Item | Match) -> None:
    assert decode(encode(record)) == record


def test_envelope_is_versioned_json() -> None:
    envelope = json.loads(encode(ITEM))
    assert envelope["type"] == "item" and envelope["v"] == 1
    assert envelope["data"]["published"] == "2019-07-12T06:30:00Z"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff\xfe", "not a JSON envelope"),
        (b"[1]", "not an object"),
        (b'{"type": "nope", "v": 1, "data": {}}', "unknown record type"),
        (b'{"type": "item", "v": 99, "data": {}}', "unknown schema version"),
        (b'{"type": "item", "v": 1, "data": {"id": 1}}', "bad item record"),
        # what newsmon could not write again (its JSON is orjson's, RFC 8259's)
        (b'{"type": "item", "v": NaN, "data": {}}', "NaN is not JSON"),
        (b'{"type": "item", "v": 1, "data": {"id": -Infinity}}', "-Infinity is not JSON"),
        (b'{"type": "item", "v": 1, "data": {"id": 1e400}}', "number out of range"),
        (b'{"type": "item", "v": 1, "data": {"id": 18446744073709551616}}', "integer out of"),
    ],
)
def test_decode_refuses_what_it_does_not_know(raw: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decode(raw)


def test_alert_dict_has_the_file_sink_fields() -> None:
    alert = Alert(
        alert_id="a",
        story_id="s",
        receiver="r",
        rules=("s400",),
        severity="high",
        title="t",
        link="https://x.example/",
        source="F News",
        published=ITEM.published,
        matched=(("S-400", HIT.evidence),),
        duplicates=("Other",),
    )
    d = alert.to_dict()
    for key in (
        "alert_id",
        "story_id",
        "rules",
        "severity",
        "title",
        "link",
        "source",
        "published",
        "matched",
        "duplicates",
    ):
        assert key in d
    assert d["published"] == "2019-07-12T06:30:00Z"
    assert d["matched"] == {
        "S-400": [{"field": "title", "text": "S-400", "start": 0, "end": 5, "score": 100.0}]
    }
    assert Alert.from_dict(json.loads(json.dumps(d))).to_dict() == d


def _envelope(kind: str, data: object, **extra: object) -> bytes:
    return json.dumps({"type": kind, "v": 1, "data": data, **extra}).encode()


ITEM_DATA = json.loads(encode(ITEM))["data"]
MATCH_DATA = json.loads(encode(Match(ITEM, (HIT,))))["data"]
# values of every JSON type, and the text of a time: each is wrong for some field
VALUES = [None, 1, 1.5, True, "x", "2020-01-01T00:00:00Z", [], {}, [1], {"a": 1}]


def _wrong_type_cases() -> list[bytes]:
    """The item envelope with each field set to each value of another JSON type
    than the field's (a string field given a number, a time given an int, ...)."""
    allowed = {"link", "published", "seen", "language", "guid"}  # may be null
    cases = []
    for key, good in ITEM_DATA.items():
        for value in VALUES:
            if type(value) is type(good) or (value is None and key in allowed):
                continue
            if isinstance(good, str) and isinstance(value, str):
                continue
            cases.append(_envelope("item", {**ITEM_DATA, key: value}))
    return cases


def _match_with(**changes: object) -> bytes:
    return _envelope("match", {**MATCH_DATA, **changes})


def _hit_with(**changes: object) -> bytes:
    return _match_with(hits=[{**MATCH_DATA["hits"][0], **changes}])


def _evidence_with(**changes: object) -> bytes:
    return _hit_with(evidence=[{**MATCH_DATA["hits"][0]["evidence"][0], **changes}])


MALFORMED = [
    *_wrong_type_cases(),
    b"[" * 10_000 + b"]" * 10_000,  # RecursionError inside json.loads
    _envelope("item", json.loads("[" * 500 + "]" * 500)),
    b'{"type": "item", "v": 1, "data": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    _envelope("item", {**ITEM_DATA, "published": "0001-01-01T00:00:00+01:00"}),  # overflow
    _envelope("item", {**ITEM_DATA, "published": "yesterday"}),
    _envelope("item", {**ITEM_DATA, "extra": "field"}),
    _envelope("item", {k: v for k, v in ITEM_DATA.items() if k != "title"}),
    _envelope("item", ITEM_DATA, extra=1),
    b'{"type": ["item"], "v": 1, "data": {}}',  # unhashable type
    b'{"type": "item", "v": true, "data": {}}',  # True == 1, but not a version
    b'{"type": "item", "v": 1.0, "data": {}}',
    *(_envelope(kind, value) for kind in ("item", "match", "alert") for value in VALUES),
    _match_with(hits=None),
    _match_with(hits=[1]),
    _match_with(hits=[[1]]),
    _match_with(item=[]),
    _hit_with(rule=1),
    _hit_with(labels=[["desk"]]),
    _hit_with(labels=[["desk", 1]]),
    _hit_with(labels="desk"),
    _hit_with(evidence=[1]),
    _hit_with(terms=5),
    _evidence_with(start="0"),
    _evidence_with(end=True),
    _evidence_with(score="high"),
    _evidence_with(term=None),
    b"1" * 5000,  # more digits than int() takes
    b'"\\ud800"',
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_decode_raises_value_error_and_nothing_else_on_a_malformed_envelope(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode(raw)


def test_decode_accepts_what_encode_writes_and_leaves_optional_fields_out() -> None:
    bare = {k: ITEM_DATA[k] for k in ("id", "feed_url", "feed", "source", "title")}
    item = decode(_envelope("item", bare))
    assert isinstance(item, Item) and item.published is None and item.summary == ""
    assert decode(_envelope("item", {**ITEM_DATA, "published": None})) == replace(
        ITEM, published=None
    )
    scored = decode(_evidence_with(score=90))  # an integral score from another producer
    assert isinstance(scored, Match) and scored.hits[0].evidence[0].score == 90.0


def test_parse_iso_refuses_what_is_not_iso_text() -> None:
    assert parse_iso(None) is None and parse_iso("") is None
    assert parse_iso("2019-07-12T06:30:00Z") == datetime(2019, 7, 12, 6, 30, tzinfo=UTC)
    for bad in (1, 1.5, True, [], {}, "12 July 2019"):
        with pytest.raises(ValueError):
            parse_iso(bad)


def test_alert_from_dict_is_as_strict() -> None:
    alert = Alert(
        alert_id="a", story_id="s", receiver="r", rules=("s400",), severity="high", title="t",
        link=None, source="F", published=None, matched=(("S-400", HIT.evidence),),
    )  # fmt: skip
    d = json.loads(json.dumps(alert.to_dict()))
    assert Alert.from_dict(d) == replace(alert, created=Alert.from_dict(d).created)
    for bad in ({**d, "rules": "s400"}, {**d, "rules": [1]}, {**d, "matched": {"S-400": 1}},
                {**d, "created": 5}, {**d, "x": 1}):  # fmt: skip
        with pytest.raises(ValueError):
            Alert.from_dict(bad)


def test_a_story_update_alert_round_trips_with_its_members_and_thread() -> None:
    from support.records import alert

    from monitor.model import StoryMember as Member

    base = alert("slack")
    update = replace(
        base, event="updated", version=3, mode="followup", outlets=("Wire", "AP", "TASS"),
        members=(Member("Wire", "t", "https://wire.example/1", base.published),
                 Member("TASS", "т", None, None, "event")),
        changes=("new rule: sanctions",), thread=(("channel", "C1"), ("ts", "1.2")),
        updated=base.created,
    )  # fmt: skip
    line = update.to_dict()
    assert (line["event"], line["thread"], line["members"][1]["tier"]) == (
        "story.updated",
        {"channel": "C1", "ts": "1.2"},
        "event",
    )
    assert Alert.from_dict(line) == update
    assert alert("x").to_dict()["event"] == "story.created"  # today's fields, and these
    with pytest.raises(ValueError, match=r"event or alert\.mode"):
        Alert.from_dict({**line, "mode": "shout"})


def test_a_story_travels_in_the_envelope() -> None:
    from monitor.model import Story, StoryMember

    item = Item(id="g1", feed_url="https://f.example/rss", feed="f", source="Wire", title="t",
                published=datetime(2019, 7, 12, tzinfo=UTC))  # fmt: skip
    hit = RuleHit("s400", "high", (), (Evidence("S-400", "title", "S-400", 0, 5),))
    members = (
        StoryMember("Wire", "t", at=item.published, rules=("s400",), item_id="g1"),
        StoryMember("TASS", "т", tier="event", entities=("S-400",), numbers=("2",)),
    )
    story = Story("s1", 2, item, (hit,), members, item.seen, item.seen)  # fmt: skip
    assert decode(encode(story)) == story
    assert story.outlets == ("Wire", "TASS") and story.severity == "high"
