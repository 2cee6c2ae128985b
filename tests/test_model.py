from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.model import Alert, Evidence, Item, Match, RuleHit, decode, encode

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
