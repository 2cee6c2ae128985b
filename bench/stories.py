"""Story dedup: the candidate index against rapidfuzz over every story, same run.

A 48 h window of 100,000 stories (pseudo-English titles of 7-12 words over a
vocabulary where a few entity words such as "turkey" or "s-400" are common,
as on a defence desk, and a lead paragraph for most) is loaded into a
:class:`~monitor.dedup.stories.StoryBook` over a real SQLite store. Then items
arrive: half are syndicated copies of stories in the window (wire prefixes,
outlet suffixes, changed case and punctuation, a word swapped), half are new
stories. Timed per item:

* ``index``: signature + candidate search + rapidfuzz confirmation (pure);
* ``observe``: the whole stage step, store lookups and the story write included;
* baseline: ``rapidfuzz.process.extractOne`` of the normalised title over all
  100,000 stored titles (``token_sort_ratio``, same threshold), no index.

Both must find the same story for every copy and none for new stories; the
benchmark prints how many they got right. Target: the dedup decision (``index``)
<= 200 µs per item. ``observe`` adds the story's durable write (one SQLite
transaction per match, so a crash never forgets a story); it is printed, and
only matched items ever reach this stage. The index is timed again at windows of
5,000 and 20,000 stories, where fewer common words are over the search budget.
"""

from __future__ import annotations

import gc
import random
import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz, process

from monitor.dedup.fingerprint import TITLE_THRESHOLD, normalise_title, signature
from monitor.dedup.index import StoryIndex
from monitor.dedup.stories import StoryBook
from monitor.model import Item, Match, RuleHit
from monitor.store import Store

WINDOW = 100_000
PROBES = 2_000
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
ENTITIES = ["Turkey", "Russia", "S-400", "F-35", "sanctions", "Erdogan", "NATO", "Patriot"]
PREFIXES = ["UPDATE 1-", "UPDATE 2-", "EXCLUSIVE-", "REFILE-", ""]
SUFFIXES = [" - Reuters", " | AP", " - Al Jazeera", ""]
HIT = (RuleHit("bench", "high"),)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def _title(rng: random.Random, vocabulary: list[str]) -> str:
    words = [rng.choice(vocabulary) for _ in range(rng.randint(6, 10))]
    for _ in range(rng.randint(1, 2)):
        words.insert(rng.randrange(len(words)), rng.choice(ENTITIES))
    return " ".join(words).capitalize()


def _lead(rng: random.Random, vocabulary: list[str]) -> str:
    if rng.random() < 0.2:
        return ""
    return " ".join(rng.choice(vocabulary) for _ in range(45)) + "."


def _copy(rng: random.Random, title: str) -> str:
    words = title.split()
    if len(words) > 8 and rng.random() < 0.5:
        words[rng.randrange(len(words))] = words[rng.randrange(len(words))]
    text = " ".join(words)
    text = text.upper() if rng.random() < 0.1 else text.replace(",", "")
    return f"{rng.choice(PREFIXES)}{text}{rng.choice(SUFFIXES)}"


def _item(n: int, title: str, summary: str, outlet: str) -> Item:
    return Item(id=f"i{n}", feed_url=f"https://{outlet}.example/rss", feed=outlet,
                source=outlet, title=title, summary=summary,
                link=f"https://{outlet}.example/{n}")  # fmt: skip


def run() -> bool:
    rng = random.Random(7)
    vocabulary = [_word(rng) for _ in range(30_000)]
    stories = [(_title(rng, vocabulary), _lead(rng, vocabulary)) for _ in range(WINDOW)]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        book = StoryBook(store)
        now = time.time()
        start = time.perf_counter()
        ids = [book.observe(Match(_item(n, t, s, "wire"), HIT), now).story.story_id
               for n, (t, s) in enumerate(stories)]  # fmt: skip
        print(f"stories: window of {WINDOW:,} stories built in {time.perf_counter() - start:.1f} s")
        probes = []
        for n in range(PROBES):
            if n % 2 == 0:
                k = rng.randrange(WINDOW)
                title, lead = stories[k]
                probes.append((_item(WINDOW + n, _copy(rng, title), lead, "outlet"), ids[k]))
            else:
                fresh = _item(WINDOW + n, _title(rng, vocabulary), _lead(rng, vocabulary), "outlet")
                probes.append((fresh, None))
        ok = _measure(book, probes, [normalise_title(t) for t, _ in stories], ids, now)
    for size in (5_000, 20_000):
        _smaller_window(size)
    return ok


def _smaller_window(size: int) -> None:
    """``index`` at a smaller window: the entity words' posting lists are shorter,
    and those that fit the search budget are counted (printed; the target is at 100,000)."""
    rng = random.Random(11)
    vocabulary = [_word(rng) for _ in range(30_000)]
    stories = [(_title(rng, vocabulary), _lead(rng, vocabulary)) for _ in range(size)]
    index = StoryIndex()
    for n, (title, lead) in enumerate(stories):
        index.add(str(n), signature(title, lead), 0.0)
    probes = [(signature(_copy(rng, stories[k][0]), stories[k][1]), str(k))
              for k in (rng.randrange(size) for _ in range(PROBES // 2))]  # fmt: skip
    probes += [(signature(_title(rng, vocabulary), _lead(rng, vocabulary)), None)
               for _ in range(PROBES // 2)]  # fmt: skip
    gc.collect()  # the window's build left garbage: not the probes' cost
    start = time.perf_counter()
    found = [index.find(sig) for sig, _ in probes]
    us = (time.perf_counter() - start) / len(probes) * 1e6
    right = sum(f == want for f, (_, want) in zip(found, probes, strict=True))
    print(f"stories: index find, {size:,}-story window {us:6.1f} µs/item ({right}/{len(probes)})")


def _measure(
    book: StoryBook,
    probes: list[tuple[Item, str | None]],
    titles: list[str],
    ids: list[str],
    now: float,
) -> bool:
    gc.collect()  # the window's build left garbage: not the probes' cost
    start = time.perf_counter()
    found = [book.index.find(signature(i.title, i.summary)) for i, _ in probes]
    index_us = (time.perf_counter() - start) / len(probes) * 1e6
    gc.collect()  # the window's build left garbage: not the probes' cost
    start = time.perf_counter()
    observed = [book.observe(Match(i, HIT), now) for i, _ in probes]
    observe_us = (time.perf_counter() - start) / len(probes) * 1e6
    naive_probes = probes[:200]
    gc.collect()  # the window's build left garbage: not the probes' cost
    start = time.perf_counter()
    naive = []
    for item, _ in naive_probes:
        query = normalise_title(item.title)
        best = process.extractOne(
            query, titles, scorer=fuzz.token_sort_ratio, score_cutoff=TITLE_THRESHOLD
        )
        naive.append(ids[best[2]] if best else None)
    naive_us = (time.perf_counter() - start) / len(naive_probes) * 1e6
    right = sum(f == want for f, (_, want) in zip(found, probes, strict=True))
    joined = sum((o.story.story_id == want) if want else o.new
                 for o, (_, want) in zip(observed, probes, strict=True))  # fmt: skip
    naive_right = sum(f == want for f, (_, want) in zip(naive, naive_probes, strict=True))
    print(f"stories: index find      {index_us:8.1f} µs/item ({right}/{len(probes)} right)")
    print(f"stories: observe (+SQLite){observe_us:7.1f} µs/item ({joined}/{len(probes)} right)")
    print(f"stories: naive rapidfuzz {naive_us:8.1f} µs/item ({naive_right}/{len(naive_probes)} "
          f"right; {naive_us / index_us:,.0f}x the index)")  # fmt: skip
    ok = index_us <= 200
    print(f"stories: target dedup decision <= 200 µs/item: {'met' if ok else 'MISSED'}")
    return ok
