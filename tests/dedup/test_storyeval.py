"""The story-quality harness itself: loading, arrival orders and scoring, proven on a
hand-made corpus with known figures; and the real corpus holds what issue 13 asks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from storycorpus import POLL_DELAY, REASONS, Corpus, load
from storyeval import SPREAD, arrival_orders, evaluate, report, score, shortfalls

from monitor.model import Item

WIRE = "https://wire.example/rss"


def record(key: str, kind: str, minute: int, **extra: str) -> dict[str, str]:
    published = f"2025-05-01T10:{minute:02d}:00+00:00"
    return {"id": key, "kind": kind, "outlet": "Wire", "feed": WIRE, "title": f"Title {key}",
            "summary": f"Lead of {key}.", "link": f"https://wire.example/{key}",
            "published": published, "language": "en", **extra}  # fmt: skip


def tiny(tmp_path: Path, a3_of: str = "a1", ref: str = "a1") -> Corpus:
    """Event A (dev): a1, its rewrite a2 (in Russian), a3 a copy of a1. Event B (holdout): b1, b2.
    Pairs: x/y inline (holdout), a1/b1 by reference (dev)."""
    events = [
        {"event": "A", "holdout": False, "items": [
            record("a1", "original", 0), record("a2", "rewrite", 30, language="ru"),
            record("a3", "copy", 20, of=a3_of, link="https://copy.example/a3")]},
        {"event": "B", "holdout": True, "items": [
            record("b1", "original", 5), record("b2", "rewrite", 40)]},
    ]  # fmt: skip
    x, y = record("x", "", 10), record("y", "", 15)
    del x["kind"], y["kind"]
    pairs = [
        {"pair": "xy", "reason": "place", "why": "t", "holdout": True, "a": x, "b": y},
        {"pair": "ab", "reason": "role", "why": "t", "holdout": False,
         "a": {"ref": ref}, "b": {"ref": "b1"}},
    ]  # fmt: skip
    (tmp_path / "events-tiny.yaml").write_text(yaml.safe_dump({"events": events}))
    (tmp_path / "distinct.yaml").write_text(yaml.safe_dump({"pairs": pairs}))
    return load(tmp_path)


def test_a_hand_made_clustering_scores_what_was_counted_by_hand(tmp_path: Path) -> None:
    corpus = tiny(tmp_path)
    story = {"a1": "s1", "a3": "s1", "b1": "s1", "a2": "s2", "b2": "s3", "x": "s4", "y": "s4"}
    s = score(corpus, story)
    # put together: a1-a3 (right), a1-b1, a3-b1, x-y (wrong); one event's pairs: a1-a2, a1-a3,
    # a2-a3, b1-b2; the copy's article: a1-a3; pairs holding the copy: a1-a3, a3-b1 (wrong)
    assert (s["all"].event_precision.value, s["all"].event_recall.value) == (0.25, 0.25)
    assert (s["all"].copy_precision.value, s["all"].copy_recall.value) == (0.5, 1.0)
    assert (s["all"].merged.hits, s["all"].merged.total) == (2, 2)
    assert (s["all"].cross_language_recall.hits, s["all"].cross_language_recall.total) == (0, 2)
    # dev: pairs with a dev item (event A, pair ab): a1-a3, a1-b1, a3-b1 put; A's 3 pairs gold
    assert s["dev"].event_precision.value == pytest.approx(1 / 3)
    assert s["dev"].event_recall.value == pytest.approx(1 / 3)
    assert (s["dev"].copy_precision.value, s["dev"].copy_recall.value) == (0.5, 1.0)
    assert (s["dev"].merged.hits, s["dev"].merged.total) == (1, 1)
    # holdout: a1-b1, a3-b1, x-y put, b1-b2 gold: nothing right; no copy pair to recall
    assert (s["holdout"].event_precision.value, s["holdout"].event_recall.value) == (0.0, 0.0)
    assert s["holdout"].copy_precision.value == 0.0 and s["holdout"].copy_recall.value is None
    assert (s["holdout"].merged.hits, s["holdout"].merged.total) == (1, 1)


def test_perfect_and_singleton_clusterings_bound_the_scores(tmp_path: Path) -> None:
    corpus = tiny(tmp_path)
    perfect = score(corpus, {x.key: x.event for x in corpus.items})
    for split in ("all", "dev", "holdout"):
        rates = perfect[split].figures()
        assert all(r.value in (1.0, None) for r in rates.values()), (split, rates)
        assert perfect[split].merged.hits == 0
    alone = score(corpus, {x.key: x.key for x in corpus.items})["all"]
    assert alone.event_recall.value == 0.0 and alone.copy_recall.value == 0.0
    assert alone.event_precision.value is None and str(alone.event_precision) == "n/a"


def test_evaluate_feeds_items_in_arrival_order_and_reports(tmp_path: Path) -> None:
    corpus = tiny(tmp_path)
    seen: list[list[Item]] = []

    def everything_one_story(items: Sequence[Item]) -> list[str]:
        seen.append(list(items))
        return ["one"] * len(items)

    evaluation = evaluate(everything_one_story, corpus)
    assert [r.order for r in evaluation.runs] == ["time", "shuffle-1", "shuffle-2"]
    assert len(seen) == 3 and all(len(items) == 7 for items in seen)
    assert all({i.title for i in items} == {i.title for i in seen[0]} for items in seen)
    for items in seen:  # each order is an arrival order: the clock never runs back
        assert [i.seen for i in items] == sorted(i.seen for i in items)
    run = evaluation.runs[0].scores["all"]
    assert run.event_recall.value == 1.0 and run.event_precision.value == pytest.approx(4 / 21)
    assert run.merged.hits == 2
    missed = shortfalls(evaluation)
    assert "time/all: event precision 0.190 < 0.97" in missed
    assert "time/holdout: 1 distinct pairs merged" in missed
    text = report(evaluation)
    assert "event precision / recall" in text and "xy (place): 'Title x' / 'Title y'" in text
    with pytest.raises(ValueError, match="returned 1 ids for 7 items"):
        evaluate(lambda items: ["one"], corpus)


def test_a_copy_of_another_event_or_an_unknown_ref_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"a3: copies 'b1', which is not an item of its event"):
        tiny(tmp_path, a3_of="b1")
    with pytest.raises(ValueError, match="pair ab: unknown ref 'zz'"):
        tiny(tmp_path, ref="zz")


# ---- the real corpus

CORPUS = load()
EVENTS: dict[str, list[str]] = {}
for labelled in CORPUS.items:
    if labelled.kind != "distinct":
        EVENTS.setdefault(labelled.event, []).append(labelled.key)
ITEMS = CORPUS.by_key()


def test_the_corpus_has_the_events_rewrites_copies_and_pairs_issue_13_asks() -> None:
    assert len(EVENTS) >= 60 and len(CORPUS.pairs) >= 60
    kinds = {e: Counter(ITEMS[k].kind for k in keys) for e, keys in EVENTS.items()}
    assert all(c["original"] == 1 and c["rewrite"] >= 3 for c in kinds.values()), kinds
    assert sum(c["copy"] > 0 for c in kinds.values()) >= len(EVENTS) / 2
    foreign = {e for e, keys in EVENTS.items() if any(ITEMS[k].item.language != "en" for k in keys)}
    assert len(foreign) >= 8
    assert {p.reason for p in CORPUS.pairs} == set(REASONS)
    links = [x.item.link or "" for x in CORPUS.items if x.kind == "copy"]
    assert any(link.startswith("http://") for link in links)
    assert any(re.search(r"/amp/|//amp\.|outputType=amp", link) for link in links)
    holdout = sum(ITEMS[keys[0]].holdout for keys in EVENTS.values()) / len(EVENTS)
    assert 0.25 <= holdout <= 0.4
    assert 0.25 <= sum(p.holdout for p in CORPUS.pairs) / len(CORPUS.pairs) <= 0.4


def test_rewrites_arrive_within_12_hours_and_pairs_within_two_days() -> None:
    for keys in EVENTS.values():
        first = ITEMS[keys[0]].item.published
        assert first is not None
        for key in keys[1:]:
            published = ITEMS[key].item.published
            assert published is not None
            assert timedelta(0) < published - first <= timedelta(hours=12), key
    for p in CORPUS.pairs:
        a, b = ITEMS[p.a].item.published, ITEMS[p.b].item.published
        assert a is not None and b is not None
        assert abs(a - b) <= timedelta(hours=50), p.pair


def test_every_article_has_its_own_link_and_a_lead_of_20_to_80_words() -> None:
    owner: dict[str, str] = {}
    for x in CORPUS.items:
        link = re.sub(r"^https?://(amp\.)?(www\.)?", "", x.item.link or "")
        link = re.sub(r"/amp(?=/)|amp_(?=articleshow)|[?&]outputType=amp$", "", link)
        assert owner.setdefault(link, x.article) == x.article, (x.key, owner[link])
        if x.item.source != "Google News":  # a Google News entry carries title and outlet only
            assert 20 <= len(x.item.summary.split()) <= 80, x.key


def test_seen_is_published_plus_a_polling_delay_and_shuffles_stay_within_the_spread() -> None:
    for x in CORPUS.items:
        assert x.item.published is not None
        delay = (x.item.seen - x.item.published).total_seconds()
        assert POLL_DELAY[0] <= delay <= POLL_DELAY[1], x.key
    (_, time), *shuffles = arrival_orders(CORPUS)
    assert [x.item.seen for x in time] == sorted(x.item.seen for x in time)
    for _, order in shuffles:
        assert [x.key for x in order] != [x.key for x in time]
        for x in order:
            base = ITEMS[x.key].item
            assert base.published is not None and x.item.seen >= base.published
            assert abs((x.item.seen - base.seen).total_seconds()) <= SPREAD
    assert [x.key for x in arrival_orders(CORPUS)[1][1]] == [x.key for x in shuffles[0][1]]
