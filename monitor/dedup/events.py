"""The event tier (pure, in memory): which story an independent rewrite belongs to.

Every member of every story in the window is kept with its :class:`Features`. Terms are
weighted by their rarity among the stories of the window: ``idf(t) = ln((N + PRIOR) /
(df(t) + 1))`` where ``df`` counts the stories that have the term in any member and
``N`` the stories, both kept incrementally as members join and stories leave (``PRIOR``
pseudo-stories keep a young window from calling everything rare). A member's bag
weights are recounted when the window has grown or shrunk by :data:`TOTALS_SLACK`.

The candidate stories (both tiers use them) are those sharing most of the item's
rarest title terms and names: an inverted index over the stories' terms, read rarest
first within :data:`POSTING_BUDGET` ids (the :data:`MIN_NOMINATORS` rarest always, unless
one is in more than :data:`POSTING_CAP` stories), the best :data:`CANDIDATES` kept. The item is
compared with each one's panel (:mod:`~monitor.dedup.panel`: at most 24 of its members within
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

import heapq
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor.dedup.features import Features
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
POSTING_BUDGET = 200
MIN_NOMINATORS = 3  # terms read even over the budget ...
POSTING_CAP = 2000  # ... unless this common
NOMINEE_SHARE = 0.5
CANDIDATES = 8
TOTALS_SLACK = 0.1  # a member's bag weights are recounted when the window grew or shrank 10 %
Weight = Callable[[str], float]
Totals = tuple[float, float, float, float]  # title, words, universal, title_universal


@dataclass(slots=True)
class _Member:
    key: str
    story: str
    features: Features
    at: float
    totals: Totals | None = None  # its bags' weights, as of ``counted`` stories
    counted: int = 0


@dataclass(slots=True)
class _Story:
    members: list[_Member] = field(default_factory=list)
    panel: Panel[_Member] = field(default_factory=Panel)  # what an item is compared with
    terms: Counter[str] = field(default_factory=Counter)  # term -> members having it


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
        self._members: dict[str, _Member] = {}

    def features(self, key: str) -> Features:
        return self._members[key].features

    def __len__(self) -> int:
        return len(self._stories)

    def idf(self, term: str) -> float:
        df = len(self._postings.get(term, ()))
        return math.log((len(self._stories) + PRIOR) / (df + 1))

    def _weights(self) -> Weight:
        """:meth:`idf`, remembered for one decision (the window does not change during it)."""
        seen: dict[str, float] = {}
        top = math.log(len(self._stories) + PRIOR)
        postings = self._postings

        def weight(term: str) -> float:
            w = seen.get(term)
            if w is None:
                w = seen[term] = top - math.log(len(postings.get(term, ())) + 1)
            return w

        return weight

    def add(self, key: str, story: str, features: Features, at: float) -> None:
        if key in self._members:
            return
        member = _Member(key, story, features, at)
        self._members[key] = member
        entry = self._stories.setdefault(story, _Story())
        entry.members.append(member)
        entry.panel.add(member, features.language, at, len(entry.members) - 1)
        for term in _terms(features):
            if entry.terms[term] == 0:
                self._postings.setdefault(term, set()).add(story)
            entry.terms[term] += 1

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
        return self._candidates(features)

    def panel(self, story: str, features: Features, at: float) -> list[str]:
        """The members of ``story`` an item (``features``, at ``at``) is compared with."""
        entry = self._stories.get(story)
        return [m.key for m in entry.panel.pick(features.language, at, self.span)] if entry else []

    def decide(
        self, features: Features, at: float, candidates: list[str] | None = None
    ) -> Decision | None:
        """The story ``features`` joins (``veto`` None), else the nearest refusal, else None."""
        weight = self._weights()
        mine = _totals(features, weight)
        own = _own(features, weight)
        stories = self._candidates(features) if candidates is None else candidates
        judged = [
            d for s in stories
            if s in self._stories and (d := self._judge(s, features, mine, at, weight, own))
        ]  # fmt: skip
        if not judged:
            return None
        return max(judged, key=lambda d: (d.veto is None, d.score, d.story))

    def _judge(
        self, story: str, features: Features, mine: Totals, at: float, weight: Weight,
        own: Weight,
    ) -> Decision | None:  # fmt: skip
        best: tuple[float, str] | None = None
        refused: tuple[float, str, str] | None = None
        for member in self._stories[story].panel.pick(features.language, at, self.span):
            gap = abs(at - member.at)
            value = score(features, member.features, weight, mine, self._totals(member, weight),
                          own)  # fmt: skip
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

    def _totals(self, member: _Member, weight: Weight) -> Totals:
        n = len(self._stories)
        if member.totals is None or abs(n - member.counted) > TOTALS_SLACK * max(n, 1):
            member.totals, member.counted = _totals(member.features, weight), n
        return member.totals

    def _candidates(self, features: Features) -> list[str]:
        """The stories sharing most of the candidate's rarest title terms and names."""
        nominating = features.title | features.universal  # a rewrite shares these
        postings = sorted((len(p), t) for t in nominating if (p := self._postings.get(t)))
        counts: Counter[str] = Counter()
        budget = POSTING_BUDGET
        for n, (size, term) in enumerate(postings):  # rarest first: they are the event's
            if size > budget and (n >= MIN_NOMINATORS or size > POSTING_CAP):
                break  # the rarest few always count: in a big window every word is common
            budget -= size
            counts.update(self._postings[term])
        if not counts:
            return []
        floor = max(counts.values()) * NOMINEE_SHARE  # a story far behind the best is none
        nominees = [(c, s) for s, c in counts.items() if c >= floor]
        return [story for _, story in heapq.nlargest(CANDIDATES, nominees)]


def _terms(features: Features) -> frozenset[str]:
    """What a story is indexed by: every term of every member."""
    return features.words | features.universal


def _totals(f: Features, weight: Weight) -> Totals:
    return (
        sum(map(weight, f.title)),
        sum(map(weight, f.words)),
        sum(map(weight, f.universal)),
        sum(map(weight, f.title_universal)),
    )


def _own(f: Features, weight: Weight) -> Weight:
    """``weight`` of every term of ``f``, looked up in a dict (what ``f`` shares with
    another item is its own terms: one lookup each, no call per term)."""
    return {t: weight(t) for t in f.words | f.title | f.universal | f.title_universal}.__getitem__


def score(
    a: Features, b: Features, weight: Weight, ta: Totals | None = None, tb: Totals | None = None,
    own: Weight | None = None,
) -> float:  # fmt: skip
    """0..1: how much ``a`` and ``b`` tell one event (before the time and the vetoes);
    ``ta`` and ``tb`` are their bags' weights, if known; ``own``: ``weight`` for ``a``'s
    terms, faster."""
    if not (a.entities & b.entities or a.names & b.words or b.names & a.words):
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
