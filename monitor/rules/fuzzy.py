"""Typo tolerance: map an unknown word of an item to the fuzzy term word it most
resembles (rapidfuzz ratio), if any reaches that word's threshold.

Only words of fuzzy terms are candidates, and only when they are made of
letters and at least ``MIN_TERM_WORD`` long: designators (any word with a
digit: S-400, F-35, SA-21) and short words are never fuzzy, since they differ
by one character from unrelated things. An item word is looked up only if it
is not itself a word of any term, has no digit and is ``MIN_ITEM_WORD`` long.

Candidates come from buckets keyed, for each length that can still reach the
threshold, by the first two letters, the last two letters, and the first and
last letter together: a word with typos is found unless they hit both of its
ends (its first two letters *and* its last two, one of them at an end). That
keeps a lookup at tens of candidates where single-letter keys gave a thousand
at 10,000 terms. Results are memoised per word (bounded), which makes the
common case a set difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rapidfuzz import fuzz, process

MIN_TERM_WORD = 5
MIN_ITEM_WORD = 4
_MEMO_LIMIT = 200_000


def fuzzy_word(word: str) -> bool:
    """Whether a term word may be matched fuzzily."""
    return len(word) >= MIN_TERM_WORD and word.isalpha()


class FuzzyIndex:
    def __init__(self, vocabulary: Mapping[str, float], known: Iterable[str]) -> None:
        """``vocabulary``: fuzzy term word -> lowest threshold any term gives it;
        ``known``: every word of every term (never corrected)."""
        self._thresholds = dict(vocabulary)
        self._cutoff = min(self._thresholds.values(), default=100.0)
        self._known = frozenset(known)
        self._skip = set(self._known)  # known words and words already found not to be typos
        self._buckets: dict[tuple[int, str], list[str]] = {}
        for word in self._thresholds:
            for key in _keys(word, len(word)):
                self._buckets.setdefault(key, []).append(word)
        self._fixes: dict[str, tuple[str, float]] = {}
        self._misses: set[str] = set()

    def fixes(self, words: Iterable[str]) -> dict[str, tuple[str, float]]:
        """For each word that is a typo of a fuzzy term word: (that word, score)."""
        todo = set(words).difference(self._skip)
        out = {}
        for word in todo:
            fix = self._fixes.get(word) or self._lookup(word)
            if fix is not None:
                out[word] = fix
        return out

    def _lookup(self, word: str) -> tuple[str, float] | None:
        if len(self._misses) + len(self._fixes) > _MEMO_LIMIT:
            self._misses.clear()
            self._fixes.clear()
            self._skip = set(self._known)
        fix = self._best(word) if len(word) >= MIN_ITEM_WORD and word.isalpha() else None
        if fix is None:
            self._misses.add(word)
            self._skip.add(word)
        else:
            self._fixes[word] = fix
        return fix

    def _best(self, word: str) -> tuple[str, float] | None:
        size = len(word)
        candidates: list[str] = []
        for other in range(max(1, size // 2), size * 2 + 1):
            if 200 * min(size, other) / (size + other) < self._cutoff:
                continue
            for key in _keys(word, other):
                candidates += self._buckets.get(key, ())
        if not candidates:
            return None
        best = process.extractOne(word, candidates, scorer=fuzz.ratio, score_cutoff=self._cutoff)
        if best is None or best[1] < self._thresholds[best[0]]:
            return None
        return best[0], float(best[1])


def _keys(word: str, size: int) -> tuple[tuple[int, str], ...]:
    """The buckets of a word of length ``size`` that shares an end with ``word``."""
    return ((size, "^" + word[:2]), (size, "$" + word[-2:]), (size, word[0] + "." + word[-1]))
