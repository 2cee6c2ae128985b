"""The dedup guard: every verdict of the StoryBook on a fixed stream, as text.

A change meant to make dedup faster must not change what it decides. This tool runs two
fixed streams through :class:`~monitor.dedup.stories.StoryBook` and writes one line per
decision (its story or ``new``, tier, score, the member it matched, the near miss and its
veto) and, with ``--features``, one line per item with every field of its
:class:`~monitor.dedup.features.Features` (sets sorted: the meaning, not the
representation):

* ``bench``: ``bench.stories``'s generator, a window of ``--window`` stories (observed),
  then its probes decided, then observed, then decided again by a book loaded from the
  store (a restart: the stored features read back);
* ``fixtures``: the labelled corpus (tests/fixtures/stories) with the desk's rules, in
  each arrival order of ``storyeval.arrival_orders``.

Record the dump before a change and compare after it (``cmp``)::

    .venv/bin/python tests/dedup/verdicts.py --features > /tmp/before.txt
    ... change ...
    .venv/bin/python tests/dedup/verdicts.py --features > /tmp/after.txt
    cmp /tmp/before.txt /tmp/after.txt

``test_verdicts.py`` checks, on a small stream, that a restart decides as the live book did.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[2])]

from storycorpus import load  # noqa: E402
from storyeval import arrival_orders  # noqa: E402

from bench.stories import _item as bench_item  # noqa: E402
from bench.stories import _lead, _match, _probes, _title, _word  # noqa: E402
from monitor.dedup.features import Features, features  # noqa: E402
from monitor.dedup.stories import StoryBook, Verdict  # noqa: E402
from monitor.model import Match, RuleHit  # noqa: E402
from monitor.rules.engine import Engine  # noqa: E402
from monitor.rules.load import load_rules  # noqa: E402
from monitor.store import Store  # noqa: E402

RULES = Path(__file__).parents[1] / "fixtures" / "stories" / "rules.yaml"
GENERIC = (RuleHit("any", "medium"),)
NOW = 1_767_225_600.0  # a fixed processing time: the bench stream's story clock


def verdict_line(label: str, verdict: Verdict) -> str:
    member, miss = verdict.member, verdict.near_miss
    story = verdict.story.story_id if verdict.story is not None else "new"
    near = f"{miss.story_id} {miss.member} {miss.score!r} {miss.veto}" if miss else "-"
    return (f"{label} {member.item.id} -> {story} {member.tier} {member.score!r} "
            f"{member.matched} near={near}")  # fmt: skip


def features_line(label: str, f: Features) -> str:
    units = " ".join(",".join(sorted(u)) for u in f.units)
    fields = [f"{name}={','.join(sorted(getattr(f, name)))}" for name in _SETS]
    return (f"{label} {' '.join(fields)} units={units} predicate={f.predicate} "
            f"language={f.language} lead={f.lead}")  # fmt: skip


_SETS = ("title", "words", "universal", "title_universal", "entities", "title_entities",
         "numbers", "title_numbers", "names", "core_numbers")  # fmt: skip


def bench_stream(window: int, with_features: bool) -> Iterator[str]:
    rng = random.Random(7)
    vocabulary = [_word(rng) for _ in range(30_000)]
    stories = [(_title(rng, vocabulary), _lead(rng, vocabulary)) for _ in range(window)]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "guard.db") as store:
        book = StoryBook(store)
        ids = []
        for n, (title, lead) in enumerate(stories):
            match = _match(bench_item(n, title, lead, "wire"))
            yield from _decided(f"build/{n}", book, match, with_features)
            ids.append(book.observe(match, NOW).story.story_id)
        probes = [_match(item) for item, _, _ in _probes(rng, stories, ids, vocabulary, window)]
        for n, match in enumerate(probes):
            yield from _decided(f"probe/{n}", book, match, with_features)
        for n, match in enumerate(probes):
            yield from _decided(f"join/{n}", book, match, False)
            book.observe(match, NOW)
        restarted = StoryBook(store)
        yield f"restart: {restarted.load(NOW)} stories"
        for n, match in enumerate(probes):
            yield verdict_line(f"again/{n}", restarted.decide(match, NOW))


def _decided(
    label: str, book: StoryBook, match: Match, with_features: bool, now: float = NOW
) -> Iterator[str]:
    verdict = book.decide(match, now)
    yield verdict_line(label, verdict)
    if with_features:
        yield features_line(label, verdict.features)
        yield features_line(label + "/fresh", features(match))


def fixture_stream(with_features: bool) -> Iterator[str]:
    engine = Engine(load_rules([str(RULES)]))
    for order, labelled in arrival_orders(load()):
        with Store(":memory:") as store:
            book = StoryBook(store)
            for x in labelled:
                match = Match(x.item, engine.match(x.item) or GENERIC)
                now = x.item.seen.timestamp()
                yield from _decided(f"{order}/{x.key}", book, match, with_features, now)
                book.observe(match, now)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=int, default=3000, help="bench stories (3000)")
    parser.add_argument("--features", action="store_true", help="also every item's features")
    args = parser.parse_args(argv)
    out = sys.stdout
    for line in fixture_stream(args.features):
        out.write(line + "\n")
    for line in bench_stream(args.window, args.features):
        out.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
