"""The event tier (pure, in memory): which story an independent rewrite belongs to.

Every member of every story in the window is kept with its :class:`Features`. Terms are
weighted by their rarity among the stories of the window: ``idf(t) = ln((N + PRIOR) /
(df(t) + 1))`` where ``df`` counts the stories that have the term in any member and
``N`` the stories, both kept incrementally as members join and stories leave (``PRIOR``
pseudo-stories keep a young window from calling everything rare). A member's bag
weights are recounted when the window has grown or shrunk by :data:`TOTALS_SLACK`.

The candidate stories (both tiers use them) are those sharing most of the item's
rarest title terms and names (:mod:`~monitor.dedup.nominees`: an inverted index over the
stories' terms, read rarest first within a budget). The item is compared with each
one's panel (:mod:`~monitor.dedup.panel`: at most 24 of its members within
:data:`EVENT_SPAN` on the story clock, its first and those nearest in time) (:func:`score`, 0..1):

* same language: the weighted overlap (shared weight / the smaller side's) of the
  titles and of title + lead, half each; the titles must share more than a country
  ("Colombia buys Gripen jets" / "Colombia suspends coal exports"), and a headline
  without a lead (Google News) at least :data:`HEADLINE_ONLY` of the other's title;
* two languages: what crosses languages (entities, names, designators, capitalised
  words transliterated, numbers): half the share of each title found in the other,
  half their overlap;
* always at least one shared entity or name;
* the bar, :data:`THRESHOLD`, rises by :data:`HOURLY` per hour between the two items
  (a follow-on hours later reads much like the story it follows).

When the story has members in the item's language (in the span), only they judge it (a rewrite in
another language shares names and numbers with many stories: it is no bridge for an
English item); else its members in other languages do. A member that scores at least
:data:`VETO_FLOOR` and vetoes (:mod:`~monitor.dedup.vetoes`) keeps the item out of the
whole story: a story is one event, and an item that contradicts a member it resembles
is another event, whichever member it resembles most.

The constants were tuned on the dev split of tests/fixtures/stories
(tests/dedup/test_story_quality.py prints every figure).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat

from monitor.dedup.features import Features
from monitor.dedup.nominees import nominees
from monitor.dedup.panel import Panel
from monitor.dedup.variants import COUNTRY_KEYS
from monitor.dedup.vetoes import veto

EVENT_SPAN = 12 * 3600.0  # rewrites of one event come within hours
THRESHOLD = 0.35
HOURLY = 0.03
TITLE_FLOOR = 0.0  # no floor beyond the rules above: a rewrite may retitle freely
HEADLINE_ONLY = 0.5
TITLE_WEIGHT = 0.5
CROSS_FACTOR = 1.0  # cross-language scores count as same-language ones
VETO_FLOOR = 0.3
PRIOR = 20.0
TOTALS_SLACK = 0.1  # a member's bag weights are recounted when the window grew or shrank 10 %
Weight = Callable[[str], float]
Totals = tuple[float, float, float, float]  # title, words, universal, title_universal
Panels = dict[str, list["Indexed"]]  # story -> the members an item is compared with


@dataclass(slots=True)
class Indexed:  # a member as the index holds it
    key: str
    story: str
    features: Features
    at: float
    totals: Totals | None = None  # its bags' weights, as of ``counted`` stories
    counted: int = 0


@dataclass(slots=True)
class _Story:
    members: list[Indexed] = field(default_factory=list)
    panel: Panel[Indexed] = field(default_factory=Panel)  # what an item is compared with
    terms: set[str] = field(default_factory=set)  # of every member (posted for the story)


@dataclass(frozen=True, slots=True)
class Decision:
    """The best story for a candidate: joined, or the nearest one and why not."""

    story: str
    member: str
    score: float
    veto: str | None  # None: join


class EventIndex:
    def __init__(self, threshold: float | None = None, span: float | None = None) -> None:
        self.threshold = THRESHOLD if threshold is None else threshold
        self.span = EVENT_SPAN if span is None else span
        self._stories: dict[str, _Story] = {}
        self._postings: dict[str, set[str]] = {}
        self._members: dict[str, Indexed] = {}
        self._logs: list[float] = []  # ln(df + 1) by df

    def features(self, key: str) -> Features:
        return self._members[key].features

    def __len__(self) -> int:
        return len(self._stories)

    def idf(self, term: str) -> float:
        df = len(self._postings.get(term, ()))
        return math.log((len(self._stories) + PRIOR) / (df + 1))

    def _weights(self, features: Features) -> tuple[Weight, dict[str, float]]:
        """:meth:`idf`, remembered for one decision (the window does not change during it):
        a function, and the dict it fills, first with the terms of ``features`` (what the
        item shares with a member is its own terms: one lookup each, no call per term)."""
        seen: dict[str, float] = {}
        self._weigh(features, seen)
        top, postings, log = math.log(len(self._stories) + PRIOR), self._postings, math.log

        def weight(term: str) -> float:
            w = seen.get(term)
            if w is None:
                w = seen[term] = top - log(len(postings.get(term, ())) + 1)
            return w

        return weight, seen

    def _weigh(self, f: Features, seen: dict[str, float]) -> None:
        """Add :meth:`idf` of every term of ``f`` not in ``seen`` (no Python code per term:
        maps of C functions, ``ln(df + 1)`` read from a table)."""
        new = list(_terms(f) - seen.keys())  # the title's bags are inside these two
        top = math.log(len(self._stories) + PRIOR)
        dfs = list(map(len, map(self._postings.get, new, repeat((), len(new)))))
        logs = self._logs
        if dfs and max(dfs) >= len(logs):
            logs.extend(math.log(df + 1) for df in range(len(logs), max(dfs) + 1))
        seen.update(zip(new, map(top.__sub__, map(logs.__getitem__, dfs)), strict=True))

    def add(self, key: str, story: str, features: Features, at: float) -> None:
        if key in self._members:
            return
        member = Indexed(key, story, features, at)
        self._members[key] = member
        entry = self._stories.get(story)
        if entry is None:  # not setdefault: a _Story (a panel, its lanes) made per add
            entry = self._stories[story] = _Story()
        entry.members.append(member)
        entry.panel.add(member, features.language, at, len(entry.members) - 1)
        terms = _terms(features)
        postings = self._postings
        new = terms - entry.terms  # new to the story
        get = postings.get
        for term in new:
            posting = get(term)
            if posting is None:
                postings[term] = {story}
            else:
                posting.add(story)  # setdefault(term, set()) would make a set every time
        entry.terms |= new

    def remove_story(self, story: str) -> None:
        entry = self._stories.pop(story, None)
        if entry is None:
            return
        for member in entry.members:
            self._members.pop(member.key, None)
        for term in entry.terms:
            posting = self._postings.get(term)
            if posting is not None:
                posting.discard(story)
                if not posting:
                    del self._postings[term]

    def candidates(self, features: Features) -> list[str]:
        """The stories most worth comparing ``features`` with (both tiers use them)."""
        return nominees(self._postings, features)

    def panels(self, stories: list[str], features: Features, at: float) -> Panels:
        """The members of each of ``stories`` (those in the window) an item (``features``,
        at ``at``) is compared with: picked once a decision, both tiers read them."""
        out: Panels = {}
        for story in stories:
            entry = self._stories.get(story)
            if entry is not None:
                out[story] = entry.panel.pick(features.language, at, self.span)
        return out

    def decide(
        self, features: Features, at: float, candidates: list[str] | None = None,
        panels: Panels | None = None,
    ) -> Decision | None:  # fmt: skip
        """The story ``features`` joins (``veto`` None), else the nearest refusal, else None."""
        weight, seen = self._weights(features)
        mine = _totals(features, seen.__getitem__)
        stories = nominees(self._postings, features) if candidates is None else candidates
        picked = self.panels(stories, features, at) if panels is None else panels
        judged = [
            d for s in stories
            if s in picked and (d := self._judge(s, picked[s], features, mine, at, weight, seen))
        ]  # fmt: skip
        if not judged:
            return None
        return max(judged, key=lambda d: (d.veto is None, d.score, d.story))

    def _judge(
        self, story: str, panel: list[Indexed], features: Features, mine: Totals, at: float,
        weight: Weight, seen: dict[str, float],
    ) -> Decision | None:  # fmt: skip
        own = seen.__getitem__  # every term of the item's is there
        best: tuple[float, str] | None = None
        refused: tuple[float, str, str] | None = None
        entities, names, words = features.entities, features.names, features.words
        for member in panel:
            other = member.features
            if entities.isdisjoint(other.entities) and names.isdisjoint(other.words) and \
                    other.names.isdisjoint(words):  # fmt: skip
                continue  # score() is 0 without a shared entity or name: no weights read
            gap = abs(at - member.at)
            value = score(features, other, weight, mine, self._totals(member, seen), own)
            if value < VETO_FLOOR or (refused is not None and value <= refused[0]):
                continue  # once a member refused, only a stronger refusal changes the verdict
            reason = veto(features, member.features, weight)
            if reason is not None:
                if refused is None or value > refused[0]:
                    refused = (value, member.key, reason)
                continue
            margin = value - HOURLY * gap / 3600.0
            if best is None or margin > best[0]:
                best = (margin, member.key)
        if refused is not None:
            return Decision(story, refused[1], round(refused[0], 3), refused[2])
        if best is None:
            return None
        if best[0] < self.threshold:
            return Decision(story, best[1], round(best[0], 3), "below threshold")
        return Decision(story, best[1], round(best[0], 3), None)

    def _totals(self, member: Indexed, seen: dict[str, float]) -> Totals:
        n = len(self._stories)
        if member.totals is None or abs(n - member.counted) > TOTALS_SLACK * max(n, 1):
            self._weigh(member.features, seen)
            member.totals, member.counted = _totals(member.features, seen.__getitem__), n
        return member.totals


def _terms(features: Features) -> frozenset[str]:
    """What a story is indexed by: every term of every member (``title`` is inside
    ``words``, ``title_universal`` inside ``universal``: :func:`features` builds them so)."""
    return features.words | features.universal


def _totals(f: Features, weight: Weight) -> Totals:
    return (
        sum(map(weight, f.title)),
        sum(map(weight, f.words)),
        sum(map(weight, f.universal)),
        sum(map(weight, f.title_universal)),
    )


def score(
    a: Features, b: Features, weight: Weight, ta: Totals | None = None, tb: Totals | None = None,
    own: Weight | None = None,
) -> float:  # fmt: skip
    """0..1: how much ``a`` and ``b`` tell one event (before the time and the vetoes);
    ``ta`` and ``tb`` are their bags' weights, if known; ``own``: ``weight`` for ``a``'s
    terms, faster."""
    if a.entities.isdisjoint(b.entities) and a.names.isdisjoint(b.words) and \
            b.names.isdisjoint(a.words):  # fmt: skip
        return 0.0
    ta = ta or _totals(a, weight)
    tb = tb or _totals(b, weight)
    mine = own or weight
    if a.language == b.language:
        common = a.title & b.title
        if not common - COUNTRY_KEYS:
            return 0.0  # "Colombia buys Gripen jets" / "Colombia suspends coal exports to Israel"
        title = _overlap(common, ta[0], tb[0], mine)
        if title < TITLE_FLOOR or (title < HEADLINE_ONLY and not (a.lead and b.lead)):
            return 0.0  # a headline alone must say most of what the other does
        words = _overlap(a.words & b.words, ta[1], tb[1], mine)
        return TITLE_WEIGHT * title + (1 - TITLE_WEIGHT) * words
    found_a = _share(a.title_universal & b.universal, ta[3], mine)
    found_b = _share(b.title_universal & a.universal, tb[3], mine)
    shared = _overlap(a.universal & b.universal, ta[2], tb[2], mine)
    return CROSS_FACTOR * (0.5 * min(found_a, found_b) + 0.5 * shared)


def _share(shared: frozenset[str], total: float, weight: Weight) -> float:
    """The share of a bag's weight that ``shared`` holds."""
    return sum(map(weight, shared)) / total if total > 0 else 0.0


def _overlap(shared: frozenset[str], total_a: float, total_b: float, weight: Weight) -> float:
    """Shared weight over the smaller side's weight."""
    if not shared:
        return 0.0
    smaller = min(total_a, total_b)
    return min(1.0, sum(map(weight, shared)) / smaller) if smaller > 0 else 0.0
