"""Text to the terms the event tier compares (pure): words, names and numbers, in any script.

:func:`terms` reads a title or a lead and returns :class:`Term` s in text order:

* every word is NFKC-normalised, case-folded, stripped of diacritics and, in another
  script, transliterated to ASCII (``anyascii``: ``Рязань`` -> ``ryazan``); an elided
  article or a suffix after an apostrophe goes (``l'AIEA`` -> ``aiea``, ``S-400'lerin``
  -> ``s400``, ``Russia's`` -> ``russia``); a designator's parts are joined (``S-400`` =
  ``S400``, ``F-35A``); dotted acronyms too (``U.S.`` = ``US``);
* names of :mod:`~monitor.dedup.variants` (countries with their demonyms, abbreviations,
  up to four words: ``United States``, ``N. Korea``) become one ``name`` term, keyed by
  the table (``usa``, ``north korea``); ``US`` and ``UN`` count only in capitals;
  ``St`` after a name is ``street``;
* numbers become their value (``kind == "number"``, ``text`` like ``"150000"`` or
  ``"5%"``; :mod:`~monitor.dedup.numbers`: ``10.000``, ``150k``, ``$1.5bn``, ``six``,
  ``17th``, ``5 percent``); a day beside a month (``May 6``) and clock times are none;
* other words lose the language's stopwords (``stopwordsiso``, English and the item's
  language) and are cut to their first :data:`STEM` letters, a crude stemmer that holds
  across inflecting languages (``Kharkiv`` / ``Харкову``, ``delivers`` / ``delivery``).

``capital`` says the word was capitalised where case says something (not the first word,
not a Title Case or ALL CAPS title): the name-like words of the place veto.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Set
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple

import stopwordsiso
from anyascii import anyascii

from monitor.dedup import variants as v
from monitor.dedup.fingerprint import ACRONYM, DOTTED, MINOR_WORDS, has_digit
from monitor.dedup.numbers import dateline_day, may_start, number

STEM = 5
INFO_CACHE = 200_000  # words per language whose reading is kept
MAX_TERMS = 160  # per text: a lead is 20 to 80 words
_TIME = re.compile(
    r"(?=\d)(?:\b\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?(?!\w)|\b\d{1,2}\s*[ap]\.?m\.?(?!\w))", re.I
)
_RAW = re.compile(  # the class first, and a plain lower-case word before the rest: 2x faster
    r"(?=[^\W_]|[$£€%])(?:[a-zа-я][^\W_]*(?:['’ʼ][^\W_]+)*"  # what the fourth form reads there
    r"|(?<![^\W_])[^\W\d_a-zа-я][^\W\d_]{0,2}[-‐‑–]\d[^\W_]*(?:['’ʼ][^\W_]+)?"  # S-400, F-35A
    r"|(?:[$£€]|\b(?:Dh|Rs)(?=\d))?\d[\d.,]*\d[^\W_]*|[$£€]?\d[^\W_]*"
    r"|[^\W\d_][^\W_]*(?:['’ʼ][^\W_]+)*|%)"
)
_SPLIT = re.compile(f"({_RAW.pattern})")  # split: the words and the text between them
_DIGIT = re.compile(r"\d")
# a word's reading (_info): folded, named, numeric, kind, form, plain, capitalised
Info = tuple[str, bool, bool, str, str, bool, bool]
_INFOS: dict[str, _Infos] = {}
_NONE: frozenset[str] = frozenset()
_new = tuple.__new__  # a Term without NamedTuple's __new__ (thousands per item)
_HYPHENS = re.compile(r"[-‐‑–]")
_ENGLISH_WORDS = (
    "i me my we our you your he him his she her they them their what which who whom whose"
    " am do does did doing will would shall should can could may might must not no yes all"
    " any both each few more most other some such only own same so too very just than then"
    " there here when where why how again further once also now if while because until about"
    " against between through during under above below off out up down over say says said"
    " saying told tells tell report reports reported according amid one ones its it's let"
    " get got being having"
)
ENGLISH = MINOR_WORDS | frozenset(_ENGLISH_WORDS.split())
_BOUNDARY = re.compile(r"[.!?:;\-–—]\s*$|^\W*[\"“«(]")
_INFLECTIONS = (
    ("ies", "y"),
    ("sses", "ss"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("xes", "x"),
    ("ss", "ss"),
    ("us", "us"),
    ("is", "is"),
    ("s", ""),
    ("ing", ""),
    ("ed", ""),
)
_CONNECTIVES = frozenset({"and", "i", "ve", "und", "et", "y", "e", "en", "wa"})


class Term(NamedTuple):  # a tuple: thousands are made per item
    text: str  # the compared form: a stem, a name's key, a designator, a number's value
    kind: str  # word | name | designator | number
    start: int  # character offsets in the text read
    end: int
    capital: bool = False


def fold(word: str) -> str:
    """Case-folded, without diacritics, in ASCII, without apostrophes."""
    word = unicodedata.normalize("NFKC", word).casefold()
    if not word.isascii():
        bare = "".join(
            c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c)
        )
        word = anyascii(bare).lower()
    return word.replace("'", "")


@lru_cache(maxsize=64)
def stopwords(language: str) -> frozenset[str]:
    """English function words (:data:`ENGLISH`) and the language's (``stopwordsiso``:
    its English list holds content words such as "fire", "state", "end"), folded as
    :func:`fold` folds words."""
    words = set(ENGLISH)
    if language and language != "en" and stopwordsiso.has_lang(language):
        words |= stopwordsiso.stopwords(language)
    words |= v.WEEKDAYS  # a day of the week says little, and in English only
    return frozenset(fold(w) for w in words) - frozenset(v.NAMES) - {"us", "un"}


def terms(
    text: str, language: str = "en", case_informative: bool = True, own: Set[str] = _NONE
) -> list[Term]:
    """The terms of ``text`` in text order, but those whose text is in ``own``."""
    return list(_Reading(text, language, case_informative).terms(own))


def bag(text: str, language: str = "en", own: Set[str] = _NONE) -> Bag:
    """What :func:`terms` finds in ``text`` (case informative), as sets, without the terms
    whose text is in ``own``: what a lead adds to an item's features."""
    reading = _Reading(text, language, True, offsets=False)
    found = Bag()
    words, universal = found.words, found.universal
    for text, kind, _, _, capital in reading.terms(own, (words, universal)):
        if kind == "number":
            words.add("#" + text)
            universal.add("#" + text)
            found.numbers.add(text)
            continue
        words.add(text)
        if kind != "word" or capital:
            universal.add(text)
        if kind == "name":
            found.names.add(text)
    found.count = reading.count
    return found


@dataclass(slots=True)
class Bag:
    """A text's terms as sets (:func:`bag`): ``words`` and ``universal`` as in
    :class:`~monitor.dedup.features.Features` (numbers as ``#`` and the value)."""

    words: set[str] = field(default_factory=set)
    universal: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    count: int = 0  # the terms read (those of ``own`` not counted)


class _Infos(dict[str, "Info"]):
    """One language's words and their :func:`_info` (a dict that reads a missing word)."""

    __slots__ = ("lang",)

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def __missing__(self, word: str) -> Info:
        info = self[word] = _info(word, self.lang)
        return info


class _Reading:
    """One text read once: its words, the text before each (``gaps``), their offsets, each
    word's cached :func:`_info`."""

    __slots__ = ("_folded", "begins", "count", "ends", "gaps", "informative", "infos", "lang",
                 "words")  # fmt: skip

    def __init__(self, text: str, language: str, informative: bool, offsets: bool = True) -> None:
        """``offsets``: the terms' ``start`` and ``end`` in ``text`` (else 0: a bag has no
        use for them, and counting them is a tenth of reading a lead)."""
        text = unicodedata.normalize("NFKC", text)
        if DOTTED.search(text):
            text = ACRONYM.sub(lambda m: m[0].replace(".", "").ljust(len(m[0])), text)
        if has_digit(text):  # a clock time has digits: most leads have none
            text = _TIME.sub(lambda m: " " * len(m[0]), text)
        parts = _SPLIT.split(text, MAX_TERMS)  # gap, word, gap, word, ..., the rest
        self.words = words = parts[1::2]
        self.gaps = parts[0::2]
        if offsets:
            ends = list(accumulate(map(len, parts)))
            self.begins, self.ends = ends[0::2], ends[1::2]
        else:
            self.begins = self.ends = [0] * len(words)
        self.lang = lang = (language or "en").split("-")[0].lower()
        cache = _INFOS.get(lang)
        if cache is None or len(cache) > INFO_CACHE:
            cache = _INFOS[lang] = _Infos(lang)  # bounded: a long run meets ever new words
        self.infos = list(map(cache.__getitem__, words))
        self.informative = informative
        self.count = 0
        self._folded: list[str] | None = None

    def starts(self, i: int) -> bool:
        """Whether word ``i`` starts a sentence (asked only of capitals and numbers)."""
        return i == 0 or _BOUNDARY.search(self.gaps[i]) is not None

    def terms(self, own: Set[str], sink: tuple[set[str], set[str]] | None = None) -> Iterator[Term]:
        """The terms in text order, but those whose text is in ``own``. With ``sink``
        (words, universal): a plain word goes straight into it, not as a :class:`Term`."""
        infos, informative, gaps = self.infos, self.informative, self.gaps
        begins, ends, search = self.begins, self.ends, _BOUNDARY.search
        i, n, count = 0, len(infos), 0
        while i < n:
            _, _, _, kind, text, plain, upper = infos[i]
            if plain and kind == "word":  # most words: no name, number or street starts here
                if text not in own:
                    count += 1
                    capital = informative and upper and i > 0 and search(gaps[i]) is None
                    if sink is None:
                        yield _new(Term, (text, "word", begins[i], ends[i], capital))
                    else:
                        sink[0].add(text)
                        if capital:
                            sink[1].add(text)
                i += 1
                continue
            term, width = self._special(i) if not plain else (None, 0)
            if not width:
                term, width = self._word(i), 1
            i += width
            if term is not None and term.text not in own:
                count += 1
                yield term
        self.count = count

    def _special(self, i: int) -> tuple[Term | None, int]:
        """The name or number starting at word ``i`` and its width (0: neither, a word)."""
        words, infos, begins, ends = self.words, self.infos, self.begins, self.ends
        _, named, numeric, *_ = infos[i]
        folded = self._folded
        if folded is None:
            folded = self._folded = [info[0] for info in infos]
        if named and (name := _name(words, folded, i)) is not None:
            key, width = name
            return Term(key, "name", begins[i], ends[i + width - 1], self.informative), width
        if numeric:
            local = v.LOCAL_NUMBER_WORDS.get(self.lang, {})
            value, width = number(folded, i, local)
            if value is not None:
                if dateline_day(folded, i, width, self.starts(i)):
                    return None, width
                return Term(value, "number", begins[i], ends[i + width - 1]), width
        return None, 0

    def _word(self, i: int) -> Term | None:
        """Word ``i`` as a word or a designator (None: a stopword)."""
        start, end = self.begins[i], self.ends[i]
        low, _, _, kind, text, _, upper = self.infos[i]
        if low in v.STREET and i > 0 and self.words[i - 1][:1].isupper():
            kind, text = "word", stem(v.STREET[low])  # Downing St = Downing Street
        if kind == "designator":
            return Term(text, "designator", start, end, capital=True)
        if kind:
            return Term(text, "word", start, end, self.informative and upper and not self.starts(i))
        return None


def _info(word: str, lang: str) -> Info:
    """What a word is, whatever its place (cached per word): its folded form, whether a
    table name or a number may start there, its kind as a word ("word", "designator" or
    "" for a stopword) and form (a stem; a designator's folded form), whether it is plain
    (no name, number or street word starts there) and capitalised."""
    low = _folded(word)
    named = low in v.NAME_STARTS
    numeric = may_start(low)
    if _DIGIT.search(low):
        kind, text = "designator", low
    elif low and low not in stopwords(lang) and len(low) > 1:
        kind, text = "word", stem(low)
    else:
        kind, text = "", ""
    plain = not named and not numeric and low not in v.STREET
    return low, named, numeric, kind, text, plain, word[:1].isupper()


@lru_cache(maxsize=65536)
def _folded(word: str) -> str:
    return _HYPHENS.sub("", fold(_unsuffixed(word)))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """An English inflection off (-s, -es, -ies, -ed, -ing, a final -e), then the first :data:`STEM`
    letters: ``fires`` / ``fire``, ``launched`` / ``launches``, ``Харкову`` / ``Kharkiv``."""
    for ending, keep in _INFLECTIONS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: len(word) - len(ending)] + keep
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]  # seize / seized / seizes
    return word[:STEM]


def _unsuffixed(word: str) -> str:
    """Without an elided article (``l'``, ``d'``) or what follows an apostrophe."""
    for mark in "'’ʼ":
        if mark in word:
            head, _, tail = word.partition(mark)
            return tail if len(head) <= 2 and tail and not tail.startswith(("s", "S")) else head
    return word


def _name(words: list[str], folded: list[str], i: int) -> tuple[str, int] | None:
    """The table name starting at ``i`` (longest first) and how many words it takes."""
    longest = v.NAME_STARTS.get(folded[i], 0)
    for width in range(min(longest, len(words) - i), 0, -1):
        phrase = " ".join(folded[i : i + width])
        key = v.NAMES.get(phrase)
        if key is None:
            continue
        if phrase in v.CAPITALS_ONLY and not words[i].isupper():
            continue
        return key, width
    return None


def connective(word: str) -> bool:
    """Whether ``word`` (folded) joins the items of a list: and, и, ve, und, et ..."""
    return word in _CONNECTIVES
