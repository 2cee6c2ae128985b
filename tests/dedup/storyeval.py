"""Score a story clustering on the labelled corpus (issue 13, acceptance item 1).

A :data:`Clustering` takes items in arrival order and returns a story id per item.
:func:`evaluate` runs it over several arrival orders (time order, and seeded shuffles
that move each item's arrival by up to ``SPREAD`` seconds either way: the result must
not depend on who arrived first) and scores each run, pairwise:

* **copy level**: the pairs of one article (an original or rewrite and its copies, and
  the copies among themselves) must share a story. Recall: the share of those pairs
  put together. Precision: of the pairs put together that hold a copy, the share of
  those pairs that are of one event (a copy beside a rewrite of its event is right).
* **event level**: every pair of items of one event must share a story. Recall: the
  share of those put together; precision: of all pairs put together, the share that
  are of one event (an inline distinct item is an event of its own).
* **distinct**: the labelled pairs of distinct stories put together (should be 0).

Event recall is also shown over the pairs whose items are in two languages (a TASS
rewrite in Russian beside the Reuters original): no threshold of its own, a tuning aid.

Each figure is given for all items, the dev split and the holdout split; a pair belongs
to a split when either of its items does (so a dev item wrongly merged with a holdout
item counts against both). A figure with nothing to count is None (shown as n/a).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from storycorpus import Corpus, Labelled, load

from monitor.model import Item

Clustering = Callable[[Sequence[Item]], list[str]]
SPLITS = ("all", "dev", "holdout")
SEED, SHUFFLES, SPREAD = 13, 2, 1800.0
THRESHOLDS = {"copy precision": 0.98, "copy recall": 0.95,
              "event precision": 0.97, "event recall": 0.85}  # fmt: skip
Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def __str__(self) -> str:
        v = self.value
        return "n/a" if v is None else f"{v:.3f}"


@dataclass(frozen=True, slots=True)
class Scores:
    copy_precision: Rate
    copy_recall: Rate
    event_precision: Rate
    event_recall: Rate
    merged: Rate  # distinct pairs put together / distinct pairs
    cross_language_recall: Rate  # event recall over the pairs of two languages (no threshold)

    def figures(self) -> dict[str, Rate]:
        return {
            "copy precision": self.copy_precision,
            "copy recall": self.copy_recall,
            "event precision": self.event_precision,
            "event recall": self.event_recall,
        }


@dataclass(frozen=True, slots=True)
class Run:
    order: str
    scores: dict[str, Scores]  # split -> scores
    story: dict[str, str]  # item key -> story id


@dataclass(frozen=True, slots=True)
class Evaluation:
    corpus: Corpus
    runs: tuple[Run, ...]


def arrival_orders(
    corpus: Corpus, shuffles: int = SHUFFLES, seed: int = SEED, spread: float = SPREAD
) -> list[tuple[str, list[Labelled]]]:
    """Time order by ``seen``, then ``shuffles`` orders where each item arrives up to
    ``spread`` seconds earlier or later (never before it was published)."""
    orders = [("time", sorted(corpus.items, key=lambda x: (x.item.seen, x.key)))]
    for n in range(1, shuffles + 1):
        rng = random.Random(f"{seed}/{n}")
        moved = [_moved(x, rng.uniform(-spread, spread)) for x in corpus.items]
        orders.append((f"shuffle-{n}", sorted(moved, key=lambda x: (x.item.seen, x.key))))
    return orders


def _moved(x: Labelled, seconds: float) -> Labelled:
    seen = x.item.seen + timedelta(seconds=seconds)
    if x.item.published is not None:
        seen = max(seen, x.item.published)
    return replace(x, item=replace(x.item, seen=seen))


def evaluate(
    clustering: Clustering,
    corpus: Corpus | None = None,
    *,
    shuffles: int = SHUFFLES,
    seed: int = SEED,
    spread: float = SPREAD,
) -> Evaluation:
    corpus = corpus or load()
    runs = []
    for name, order in arrival_orders(corpus, shuffles, seed, spread):
        ids = clustering([x.item for x in order])
        if len(ids) != len(order):
            raise ValueError(f"the clustering returned {len(ids)} ids for {len(order)} items")
        story = {x.key: str(s) for x, s in zip(order, ids, strict=True)}
        runs.append(Run(name, score(corpus, story), story))
    return Evaluation(corpus, tuple(runs))


def score(corpus: Corpus, story: dict[str, str]) -> dict[str, Scores]:
    """The scores of one assignment (item key -> story id), per split."""
    items = corpus.by_key()
    together = _pairs_within(_groups(story))
    same_event = _pairs_within(_groups({k: x.event for k, x in items.items()}))
    copy_groups = _groups({k: x.article for k, x in items.items()})
    copy_pairs = _pairs_within(g for g in copy_groups if len(g) > 1)
    has_copy = {k for k, x in items.items() if x.kind == "copy"}
    crossed = {p for p in same_event if items[p[0]].item.language != items[p[1]].item.language}
    out = {}
    for split in SPLITS:
        inside = _split(items, split)
        put = {p for p in together if inside(p)}
        gold = {p for p in same_event if inside(p)}
        copies = {p for p in copy_pairs if inside(p)}
        copy_put = {p for p in put if p[0] in has_copy or p[1] in has_copy}
        copy_wrong = copy_put - gold
        pairs = [p for p in corpus.pairs if split == "all" or p.holdout == (split == "holdout")]
        merged = sum(story[p.a] == story[p.b] for p in pairs)
        out[split] = Scores(
            copy_precision=Rate(len(copies & put), len(copies & put) + len(copy_wrong)),
            copy_recall=Rate(len(copies & put), len(copies)),
            event_precision=Rate(len(put & gold), len(put)),
            event_recall=Rate(len(put & gold), len(gold)),
            merged=Rate(merged, len(pairs)),
            cross_language_recall=Rate(len(put & gold & crossed), len(gold & crossed)),
        )
    return out


def _groups(label: dict[str, str]) -> list[list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for key, value in label.items():
        groups[value].append(key)
    return list(groups.values())


def _pairs_within(groups: Iterable[list[str]]) -> set[Pair]:
    out: set[Pair] = set()
    for group in groups:
        out.update((a, b) if a < b else (b, a) for a, b in itertools.combinations(group, 2))
    return out


def _split(items: dict[str, Labelled], split: str) -> Callable[[Pair], bool]:
    if split == "all":
        return lambda p: True
    want = split == "holdout"
    return lambda p: items[p[0]].holdout == want or items[p[1]].holdout == want


def shortfalls(evaluation: Evaluation) -> list[str]:
    """Every figure below its acceptance threshold, and every distinct pair merged."""
    out = []
    for run in evaluation.runs:
        for split, s in run.scores.items():
            for name, rate in s.figures().items():
                if rate.value is not None and rate.value < THRESHOLDS[name]:
                    out.append(f"{run.order}/{split}: {name} {rate} < {THRESHOLDS[name]}")
            if s.merged.hits:
                out.append(f"{run.order}/{split}: {s.merged.hits} distinct pairs merged")
    return out


def report(evaluation: Evaluation, offenders: int = 8) -> str:
    """A small table per arrival order, then the worst offenders of the time order."""
    corpus = evaluation.corpus
    events = len({x.event for x in corpus.items if x.kind != "distinct"})
    lines = [
        f"story quality: {len(corpus.items)} items, {events} events, "
        f"{len(corpus.pairs)} distinct pairs",
        f"{'':28}" + "".join(f"{split:>18}" for split in SPLITS),
    ]
    for run in evaluation.runs:
        lines.append(f"order: {run.order}")
        lines += _table(run.scores)
    if evaluation.runs:
        lines += _offenders(corpus, evaluation.runs[0], offenders)
    return "\n".join(lines)


def _table(scores: dict[str, Scores]) -> list[str]:
    rows: list[tuple[str, Callable[[Scores], str]]] = [
        ("copy  precision / recall", lambda s: f"{s.copy_precision} / {s.copy_recall}"),
        ("event precision / recall", lambda s: f"{s.event_precision} / {s.event_recall}"),
        ("event recall, 2 languages", lambda s: f"{s.cross_language_recall}"),
        ("distinct pairs merged", lambda s: f"{s.merged.hits} / {s.merged.total}"),
    ]
    return [f"  {label:26}" + "".join(f"{show(scores[s]):>18}" for s in SPLITS)
            for label, show in rows]  # fmt: skip


def _offenders(corpus: Corpus, run: Run, n: int) -> list[str]:
    items = corpus.by_key()
    return [
        f"worst offenders ({run.order} order)",
        "  events split (pairs kept apart):",
        *_split_events(items, run, n),
        "  copies apart from the article they copy:",
        *_copies_apart(items, run, n),
        "  stories merging events (wrong pairs):",
        *_mixed_stories(items, run, n),
        "  distinct pairs merged:",
        *(f"    {p.pair} ({p.reason}): {items[p.a].item.title!r} / {items[p.b].item.title!r}"
          for p in corpus.pairs if run.story[p.a] == run.story[p.b]),
    ]  # fmt: skip


def _split_events(items: dict[str, Labelled], run: Run, n: int) -> list[str]:
    found = []
    for event in _groups({k: x.event for k, x in items.items()}):
        stories = _groups({k: run.story[k] for k in event})
        apart = len(event) * (len(event) - 1) // 2 - len(_pairs_within(stories))
        if apart:
            found.append((apart, items[event[0]].event, len(event), stories))
    lines = []
    for apart, name, size, stories in sorted(found, key=lambda t: (-t[0], t[1]))[:n]:
        lines.append(f"    {name}: {size} items in {len(stories)} stories, {apart} pairs apart")
        lines += [f"      - {_titles(items, group)}" for group in stories]
    return lines


def _copies_apart(items: dict[str, Labelled], run: Run, n: int) -> list[str]:
    copies = [x for x in items.values() if x.kind == "copy"]
    apart = [x for x in copies if run.story[x.key] != run.story[x.article]]
    return [f"    {x.key}: {x.item.title!r} / {items[x.article].item.source}: "
            f"{items[x.article].item.title!r}" for x in apart[:n]]  # fmt: skip


def _mixed_stories(items: dict[str, Labelled], run: Run, n: int) -> list[str]:
    found = []
    for group in _groups(run.story):
        by_event = _groups({k: items[k].event for k in group})
        if len(by_event) > 1:
            wrong = len(_pairs_within([group])) - len(_pairs_within(by_event))
            found.append((wrong, by_event))
    lines = []
    for wrong, by_event in sorted(found, key=lambda t: (-t[0], t[1][0][0]))[:n]:
        lines.append(f"    {wrong} wrong pairs:")
        lines += [f"      - {items[g[0]].event}: {_titles(items, g)}" for g in by_event]
    return lines


def _titles(items: dict[str, Labelled], keys: list[str], limit: int = 3) -> str:
    shown = [f"{items[k].item.source}: {items[k].item.title[:70]}" for k in keys[:limit]]
    more = f" (+{len(keys) - limit})" if len(keys) > limit else ""
    return " | ".join(shown) + more
