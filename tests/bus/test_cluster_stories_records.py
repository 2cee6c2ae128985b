"""The stories owner's records, without a broker: what one partition's owner writes is
enough for the next owner to decide exactly as it would have (dedup and the alerts
stage's decisions), and the outbox records read back as written."""

from __future__ import annotations

import json
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from support.config import write_config
from support.records import hit, item, match

from monitor.alerts.route import Routed
from monitor.bus.kafka_txn import Out, partition_for
from monitor.cluster import stories_changelog
from monitor.cluster.stories import desk
from monitor.cluster.stories_intents import Intent, decode, encode
from monitor.cluster.stories_partition import PartitionStories, Topics
from monitor.config import TimeInterval, load_config
from monitor.metrics import Metrics
from monitor.model import Match, RuleHit
from monitor.store import EscalationRow

TOPICS = Topics("p.stories", "p.outbox", "p.dead-letter", 3)
RECEIVERS = ["desk", "pager"]
ROUTE = """route:
  receiver: desk
  escalate: {outlets: 3, within: 1h, severity: critical, receiver: pager}
"""


def partition(tmp: Path) -> PartitionStories:
    tmp.mkdir(exist_ok=True)
    settings = load_config(write_config(tmp, extra=ROUTE, receivers=[
        "{name: desk, kind: console}", "{name: pager, kind: console}"]))  # fmt: skip
    return PartitionStories(1, settings, Metrics(CollectorRegistry()), TOPICS, RECEIVERS)


def compacted(records: list[Out], into: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """What a new owner reads of the stories topic's partition: last value per key."""
    for r in records:
        if r.topic != TOPICS.stories:
            continue
        assert r.partition == 1  # the owner writes its own partition only
        if r.value is None:
            into.pop(r.key, None)
        else:
            into[r.key] = r.value
    return into


def intents(records: list[Out]) -> list[Intent]:
    found = [r for r in records if r.topic == TOPICS.outbox]
    for r in found:  # keyed by receiver, in the receiver's partition
        assert r.value is not None and r.partition == partition_for(r.key, 3)
    return [decode(r.value) for r in found if r.value is not None]


def copy(n: int, source: str) -> Match:
    return match(item(f"{source}-{n}", source=source, link=f"https://{source}.example/{n}"))


def test_the_next_owner_decides_as_the_last_one_would_have(tmp_path: Path) -> None:
    first = partition(tmp_path / "a")
    now = time.time()
    log: dict[bytes, bytes] = {}
    made = first.handle(copy(1, "wire"), now)
    (post,) = intents(made)
    assert (post.receiver, [a.receiver for _, a in post.posts]) == ("desk", ["desk"])
    compacted(made, log)
    compacted(first.handle(copy(1, "anka"), now + 1), log)

    second = partition(tmp_path / "b")  # a takeover: only the changelog
    count, tombstones = second.restore(dict(log), now + 2)
    assert (count, tombstones) == (1, [])
    third = copy(1, "baltic")  # the 3rd outlet within the hour: the route escalates
    theirs, ours = intents(first.handle(third, now + 3)), intents(second.handle(third, now + 3))
    assert [_decided(i) for i in ours] == [_decided(i) for i in theirs]
    desk_, pager = ours
    assert (desk_.receiver, desk_.posts, len(desk_.syncs)) == ("desk", (), 2)  # has it: synced
    assert [a.event for _, a in pager.posts] == ["escalated"]  # pager lacks it: posted
    assert desk_.story.story_id == post.story.story_id and desk_.story.version == 3
    later = intents(second.handle(copy(1, "caspian"), now + 4))
    assert [i.receiver for i in later] == ["desk", "pager"]
    assert all(i.posts == () for i in later)  # each receiver has it: never posted again
    assert len(second.store.escalations(post.story.story_id)) == 1  # escalated once


def _decided(i: Intent) -> tuple[object, ...]:
    """An outbox record without the times of the day it was made."""
    posts = [(r, a.alert_id, a.event, a.severity, a.version) for r, a in i.posts]
    escalations = [(e.story_id, e.route, e.version, e.severity) for e in i.escalations]
    members = [(m.source, m.item_id, m.tier) for m in i.story.members]
    return i.receiver, i.story.story_id, i.story.version, members, posts, i.syncs, escalations


def test_a_story_that_leaves_the_window_is_tombstoned(tmp_path: Path) -> None:
    owner = partition(tmp_path)
    now = time.time()
    log = compacted(owner.handle(copy(1, "wire"), now), {})
    gone = {k for k in log}
    assert {k.decode()[:2] for k in gone} == {"s:", "m:"}
    other = match(item("f35", title="Pentagon moves to suspend Turkey from the F-35 programme",
                       link="https://x.example/f35"))  # fmt: skip
    later = now + owner.book.window + 120  # past the window, and the stage's next sweep
    made = owner.handle(other, later)
    assert {t.key for t in made if t.value is None} == gone  # the story and its member
    log = compacted(made, log)
    assert not gone & set(log) and len(log) == 2  # the new story and its first member
    assert owner.store.outbox_for_story(post_id(gone)) == []  # the local view forgot it too


def post_id(keys: set[bytes]) -> str:
    (key,) = [k for k in keys if k.startswith(b"s:")]
    return key.decode()[2:]


def test_a_restore_drops_what_expired_meanwhile(tmp_path: Path) -> None:
    owner = partition(tmp_path / "a")
    now = time.time()
    log = compacted(owner.handle(copy(1, "wire"), now), {})
    late = partition(tmp_path / "b")
    count, tombstones = late.restore(log, now + late.book.window + 1)
    assert count == 0
    assert sorted(t.key for t in tombstones) == sorted(log)
    assert all(t.value is None and t.partition == 1 for t in tombstones)


def test_a_matches_key_is_its_desk() -> None:
    assert desk(match()) == "defence"  # the first hit's desk label
    assert desk(match(None, RuleHit("x", "low"))) == "all"


def test_an_outbox_record_reads_back_as_written() -> None:
    night = TimeInterval("night", ((22 * 60, 6 * 60),), (0, 1), "Europe/Moscow")
    routed = Routed("desk", "0.1", 30.0, 300.0, (night,), ("story",), "all", 60.0)
    from support.records import alert, story

    intent = Intent("desk", 1720764300.5, story(("Wire", 0), ("Anka", 5)),
                    ((routed, alert("desk")),), (routed,),
                    (EscalationRow("story1", "0", 2, "critical", 5, 3600.0, 1.5),))  # fmt: skip
    assert decode(encode(intent)) == intent
    assert json.loads(encode(intent))["v"] == 1


def test_unreadable_changelog_records_are_counted_not_fatal() -> None:
    got = stories_changelog.decode({b"s:x": b"{not json", b"q:y": b'{"v": 1}',
                                    b"m:x:0": b'{"v": 2, "row": []}'})  # fmt: skip
    assert got.unreadable == 3 and got.stories == {}


def test_hits_order_decides_the_desk() -> None:
    risk = hit("sanctions", labels=(("desk", "risk"),))
    assert desk(match(None, risk, hit())) == "risk"
