"""The case forms of a term's Cyrillic words, from pymorphy3 (OpenCorpora's Russian
dictionary, and its guesses by ending for words it lacks: most foreign names).

``санкции`` also matches санкция, санкций, санкциям, санкциями, санкциях ...;
``Эрдоган`` matches Эрдогана, Эрдогану, Эрдоганом, Эрдогане; ``Турция`` matches
Турции, Турцию, Турцией. A word written with a capital is read as a name where
the dictionary has it as one: ``Песков`` is the surname (Пескова, Пескову), not
"of sands" (песка, песку), ``Лавров`` is not лавр, ``Киев`` not кий. A word that
does not decline (``НАТО``, ``Шойгу``) has itself as its only form.

A term of one Cyrillic word (``Триумф``, also in ``С-400 Триумф``) gets every
form of that word. In a phrase of several (``зенитный комплекс``, ``Министерство
обороны``) the words that can stand in the nominative change together, to each
case and number (зенитного комплекса, Министерству обороны); a genitive such as
``обороны`` stays as written. The letters of a designator (``С`` in ``С-400``,
``МиГ-29``) do not decline: С-400 never becomes "со 400". Every Cyrillic word is
read as Russian.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

import pymorphy3

_NAMES = frozenset({"Surn", "Name", "Patr", "Geox", "Orgn", "Trad"})
_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_NUMBERS = ("sing", "plur")


def is_cyrillic(word: str) -> bool:
    return any("\u0400" <= c <= "\u04ff" for c in word)


@cache
def _analyzer() -> Any:
    """Loaded on first use (0.1 to 0.5 s, 23 MB): only rule sets with Cyrillic words pay."""
    return pymorphy3.MorphAnalyzer()


def _readings(word: str) -> list[Any]:
    """The parses of the word as written that share its most likely dictionary form;
    for a word with a capital, its parses as a name when there are any."""
    parses = _analyzer().parse(word.lower())
    if not word.islower():
        parses = [p for p in parses if _NAMES & p.tag.grammemes] or parses
    best = parses[0].normal_form
    return [p for p in parses if p.normal_form == best]


@lru_cache(maxsize=4096)
def word_cases(word: str) -> frozenset[str]:
    """Every form of the word (lower case): its lexeme in the dictionary."""
    lexemes = {(p.normal_form, p.tag.POS, p.tag.gender): p for p in _readings(word)}
    forms = {form.word for p in lexemes.values() for form in p.lexeme}  # case, number differ
    return frozenset(forms | {word.lower()})


def phrase_cases(words: Sequence[str]) -> set[tuple[str, ...]]:
    """The phrase (words as written) in each of its forms, lower case; see the docstring."""
    phrase = tuple(w.lower() for w in words)
    where = [i for i, w in enumerate(words) if is_cyrillic(w) and w.isalpha()]
    where = [i for i in where if not words[i + 1 : i + 2] or not words[i + 1][0].isdigit()]
    if len(where) == 1:
        i = where[0]
        return {(*phrase[:i], form, *phrase[i + 1 :]) for form in word_cases(words[i])}
    readings = {i: _agreeing(words[i]) for i in where}
    agreeing: dict[int, Any] = {i: p for i, p in readings.items() if p is not None}
    out = {phrase}
    for case in _CASES:
        for number in _NUMBERS:
            form = list(phrase)
            for i, parse in agreeing.items():
                changed = parse.inflect({case, number})
                if changed is None:
                    break
                form[i] = changed.word
            else:
                out.add(tuple(form))
    return out


def _agreeing(word: str) -> Any | None:
    """The word's reading if it changes with the phrase: one that can be nominative,
    unless the word is most likely a genitive (``обороны`` in Министерство обороны)."""
    readings = _readings(word)
    if readings[0].tag.case == "gent":
        return None
    return next((p for p in readings if p.tag.case == "nomn"), None)
