"""The compiled matcher: a pure function of (item, rules), no I/O.

Every form of every term, with its derived forms (``monitor.rules.inflect``:
plurals, verb forms, Russian cases), is normalised (``monitor.rules.text``) into
a token string; one Aho-Corasick automaton finds all of them in an item field's token
string in one pass, word boundaries being the spaces between tokens. Unknown
words of the item are first mapped to fuzzy term words (``monitor.rules.fuzzy``)
and their score carried into the hit. Each rule with a hit is then judged: its
query, its weak aliases, its ``min_terms``; its evidence maps back to spans of
the original field text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import ahocorasick

from monitor.model import Evidence, Item, RuleHit
from monitor.rules.fuzzy import FuzzyIndex, fuzzy_word
from monitor.rules.inflect import term_forms
from monitor.rules.load import Rule
from monitor.rules.query import Not, Or, Query, Term, leaves
from monitor.rules.text import TOKEN, keeps_offsets, offset_map, prepare
from monitor.rules.text import words as split_words

FIELD_ORDER = ("title", "summary")
MAX_EVIDENCE_PER_TERM = 5
Tree = tuple[str, object]


@dataclass(frozen=True, slots=True)
class _Leaf:
    canonical: str
    fields: frozenset[str]
    threshold: float | None
    positive: bool


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    leaves: tuple[_Leaf, ...]
    tree: Tree


@dataclass(frozen=True, slots=True)
class _Hit:
    leaf: int
    field: str
    first: int  # token range [first, last)
    last: int
    score: float
    weak: bool


class _Field:
    """One field's text, kept to map token ranges back to spans of the original."""

    def __init__(self, text: str, prepared: str) -> None:
        self.text = text
        self.prepared = prepared
        self._spans: list[tuple[int, int]] | None = None  # of the words read so far
        self._found: Iterator[re.Match[str]] = iter(())
        self._where: list[int] | None = None  # [] when folding kept every offset

    def span(self, first: int, last: int) -> tuple[int, int]:
        if self._spans is None:
            self._found = TOKEN.finditer(self.prepared)
            self._spans = []
        while len(self._spans) < last:
            self._spans.append(next(self._found).span())
        start, end = self._spans[first][0], self._spans[last - 1][1]
        if self._where is None:
            self._where = [] if keeps_offsets(self.text) else offset_map(self.text)
        if self._where:
            return self._where[start], self._where[end - 1] + 1
        return start, end


class Engine:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._compiled = tuple(_compile(rule) for rule in self.rules)
        self._patterns: dict[str, int] = {}
        self._targets: list[list[tuple[int, int, bool]]] = []
        self._lengths: list[int] = []
        self._vocabulary: dict[str, float] = {}
        self._known: set[str] = set()
        for r, rule in enumerate(self.rules):
            for index, (term, _) in enumerate(leaves(rule.query)):
                for form in term.forms:
                    for words, typos in term_forms(form.text).items():
                        limit = term.threshold if typos else None
                        self._add(r, index, words, form.weak, limit)
        self._automaton = ahocorasick.Automaton()
        for key, pid in self._patterns.items():
            self._automaton.add_word(f" {key} ", pid)
        self._automaton.make_automaton()
        self._fuzzy = FuzzyIndex(self._vocabulary, self._known) if self._vocabulary else None
        self._empty = not self._patterns

    def _add(
        self, r: int, index: int, words: tuple[str, ...], weak: bool, limit: float | None
    ) -> None:
        pid = self._patterns.setdefault(" ".join(words), len(self._patterns))
        if pid == len(self._targets):
            self._targets.append([])
            self._lengths.append(len(words))
        self._targets[pid].append((r, index, weak))
        self._known.update(words)
        if limit is not None:
            for word in filter(fuzzy_word, words):
                self._vocabulary[word] = min(self._vocabulary.get(word, 100.0), limit)

    def match(self, item: Item) -> tuple[RuleHit, ...]:
        """The rules the item matches, in rule order, with their evidence."""
        found, scanned = self.scan(item)
        hits = []
        for r in sorted(found):
            hit = _judge(self._compiled[r], found[r], scanned)
            if hit is not None:
                hits.append(hit)
        return tuple(hits)

    def scan(self, item: Item) -> tuple[dict[int, list[_Hit]], dict[str, _Field]]:
        """Every term form found in the item: rule index -> hits, and the fields read
        (``match`` judges them; ``monitor.rules.explain`` says why a rule did not)."""
        found: dict[int, list[_Hit]] = {}
        scanned: dict[str, _Field] = {}
        if self._empty:
            return found, scanned
        for field, text in (("title", item.title), ("summary", item.summary)):
            if text:
                scanned[field] = self._scan(field, text, found)
        return found, scanned

    def compiled(self, r: int) -> _Compiled:
        return self._compiled[r]

    def _scan(self, field: str, text: str, found: dict[int, list[_Hit]]) -> _Field:
        prepared = prepare(text)
        words = split_words(prepared)
        scores: list[float] | None = None
        if self._fuzzy is not None and (fixes := self._fuzzy.fixes(words)):
            scores = [fixes[w][1] if w in fixes else 100.0 for w in words]
            words = [fixes[w][0] if w in fixes else w for w in words]
        line = f" {' '.join(words)} "
        last, counted = 0, 0  # hits come in order of their end: count spaces once
        for end, pid in self._automaton.iter(line):
            last += line.count(" ", counted, end)  # words ending before the closing space
            counted = end
            first = last - self._lengths[pid]
            score = min(scores[first:last]) if scores is not None else 100.0
            for r, index, weak in self._targets[pid]:
                leaf = self._compiled[r].leaves[index]
                if field not in leaf.fields:
                    continue
                if score < 100.0 and (leaf.threshold is None or score < leaf.threshold):
                    continue
                found.setdefault(r, []).append(_Hit(index, field, first, last, score, weak))
        return _Field(text, prepared)


def _compile(rule: Rule) -> _Compiled:
    fields = frozenset(FIELD_ORDER if rule.fields == "any" else (rule.fields,))
    compiled_leaves = tuple(
        _Leaf(term.canonical or term.text,
              frozenset((term.field,)) if term.field else fields, term.threshold, positive)
        for term, positive in leaves(rule.query)
    )  # fmt: skip
    counter = iter(range(len(compiled_leaves)))
    return _Compiled(rule, compiled_leaves, _tree(rule.query, counter))


def _tree(query: Query, counter: Iterator[int]) -> Tree:
    if isinstance(query, Term):
        return ("t", next(counter))
    if isinstance(query, Not):
        return ("n", _tree(query.child, counter))
    kind = "o" if isinstance(query, Or) else "a"
    return (kind, tuple(_tree(child, counter) for child in query.children))


def _holds(tree: Tree, present: set[int]) -> bool:
    kind, arg = tree
    if kind == "t":
        return arg in present
    if kind == "n":
        return not _holds(arg, present)  # type: ignore[arg-type]
    children: tuple[Tree, ...] = arg  # type: ignore[assignment]
    if kind == "a":
        return all(_holds(child, present) for child in children)
    return any(_holds(child, present) for child in children)


def _judge(compiled: _Compiled, hits: list[_Hit], scanned: dict[str, _Field]) -> RuleHit | None:
    if not _holds(compiled.tree, {h.leaf for h in hits}):
        return None
    positive = [h for h in hits if compiled.leaves[h.leaf].positive]
    if all(h.weak for h in positive):
        return None  # weak aliases support a rule; they never fire it alone
    terms = {compiled.leaves[h.leaf].canonical for h in positive}
    if len(terms) < compiled.rule.min_terms:
        return None
    rule = compiled.rule
    return RuleHit(rule.name, rule.severity, rule.labels, _evidence(compiled, positive, scanned))


def _evidence(
    compiled: _Compiled, hits: list[_Hit], scanned: dict[str, _Field]
) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    reach: dict[tuple[str, str], int] = {}
    count: dict[str, int] = {}
    for h in sorted(hits, key=lambda h: (FIELD_ORDER.index(h.field), h.first, -h.last)):
        term = compiled.leaves[h.leaf].canonical
        if h.last <= reach.get((term, h.field), -1) or count.get(term, 0) >= MAX_EVIDENCE_PER_TERM:
            continue  # inside an earlier hit of the same term (S-400 in "S-400 Triumf")
        reach[(term, h.field)] = h.last
        count[term] = count.get(term, 0) + 1
        field = scanned[h.field]
        start, end = field.span(h.first, h.last)
        out.append(Evidence(term, h.field, field.text[start:end], start, end, round(h.score, 1)))
    return tuple(out)
