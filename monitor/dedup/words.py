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
  ``"5%"``): separators read as thousands or decimals by their digits (``10.000``,
  ``1,5``), magnitudes glued or apart (``150k``, ``$1.5bn``, ``1,5 Milliarden``,
  ``411 тыс.``), number words (``six``, ``шестеро``, ``fünf`` in German text), ordinals
  (``2nd``, ``17th``, ``17-й``), percentages (``5 %``, ``5 percent``, ``fünf Prozent``);
  a day beside a month (``May 6``, ``6 мая``) and clock times are no numbers;
* other words lose the language's stopwords (``stopwordsiso``, English and the item's
  language) and are cut to their first :data:`STEM` letters, a crude stemmer that holds
  across inflecting languages (``Kharkiv`` / ``Харкову``, ``delivers`` / ``delivery``).

``capital`` says the word was capitalised where case says something (not the first word,
not a Title Case or ALL CAPS title): the name-like words of the place veto.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import stopwordsiso
from anyascii import anyascii

from monitor.dedup import variants as v
from monitor.dedup.fingerprint import MINOR_WORDS

STEM = 5
INFO_CACHE = 200_000  # words per language whose reading is kept
MAX_TERMS = 160  # per text: a lead is 20 to 80 words
_ACRONYM = re.compile(r"\b(?:[^\W\d_]\.){2,}")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?:\s*[ap]\.?m\.?)?(?!\w)|\b\d{1,2}\s*[ap]\.?m\.?(?!\w)", re.I)
_RAW = re.compile(
    r"(?<![^\W_])[^\W\d_a-zа-я][^\W\d_]{0,2}[-‐‑–]\d[^\W_]*(?:['’ʼ][^\W_]+)?"  # S-400, F-35A
    r"|(?:[$£€]|\b(?:Dh|Rs)(?=\d))?\d[\d.,]*\d[^\W_]*|[$£€]?\d[^\W_]*"
    r"|[^\W\d_][^\W_]*(?:['’ʼ][^\W_]+)*|%"
)
_DIGIT = re.compile(r"\d")
_INFOS: dict[str, dict[str, tuple[str, bool, bool, str]]] = {}
_NUMERIC = re.compile(r"(?:us\$|\$|£|€|eur|gbp|dh|rs)?\d")
_LOCAL_WORDS = frozenset(w for words in v.LOCAL_NUMBER_WORDS.values() for w in words) | {
    "tysyacha",
    "tysyachu",
}
_HYPHENS = re.compile(r"[-‐‑–]")
_AMOUNT = re.compile(r"(us\$|\$|£|€|eur|gbp|dh|rs)?(\d[\d.,]*)([^\W\d_]*)$")
_ORDINAL = frozenset({"th", "st", "nd", "rd", "y", "i", "go", "ya", "e", "er", "eme", "o", "a"})
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


def terms(text: str, language: str = "en", case_informative: bool = True) -> list[Term]:
    text = unicodedata.normalize("NFKC", text)
    if "." in text:
        text = _ACRONYM.sub(lambda m: m[0].replace(".", "").ljust(len(m[0])), text)
    if _DIGIT.search(text):  # a clock time has digits: most leads have none
        text = _TIME.sub(lambda m: " " * len(m[0]), text)
    raw = [(m[0], m.start(), m.end()) for m in _RAW.finditer(text)]
    raw = raw[:MAX_TERMS]
    lang = (language or "en").split("-")[0].lower()

    def starts(i: int) -> bool:
        """Whether word ``i`` starts a sentence (asked only of capitals and numbers)."""
        return i == 0 or _BOUNDARY.search(text[raw[i - 1][2] : raw[i][1]]) is not None

    return _read(raw, lang, case_informative, starts)


def _read(
    raw: list[tuple[str, int, int]], lang: str, informative: bool, starts: Callable[[int], bool]
) -> list[Term]:
    out: list[Term] = []
    local = v.LOCAL_NUMBER_WORDS.get(lang, {})
    cache = _INFOS.setdefault(lang, {})
    if len(cache) > INFO_CACHE:
        cache.clear()  # bounded: a long run meets ever new words
    infos = [cache.get(word) or cache.setdefault(word, _info(word, lang)) for word, _, _ in raw]
    folded = [info[0] for info in infos]
    i = 0
    while i < len(raw):
        word, start, end = raw[i]
        low, named, numeric, form = infos[i]
        if named and (name := _name(raw, folded, i)) is not None:
            key, width = name
            out.append(Term(key, "name", start, raw[i + width - 1][2], informative))
            i += width
            continue
        if numeric:
            value, width = _number(raw, folded, i, local)
            if value is not None:
                if not _dateline_day(folded, i, width, starts(i)):
                    out.append(Term(value, "number", start, raw[i + width - 1][2]))
                i += width
                continue
        if low in v.STREET and i > 0 and raw[i - 1][0][:1].isupper():
            form = stem(v.STREET[low])  # Downing St = Downing Street
        if form and form[0] == "\0":
            out.append(Term(form[1:], "designator", start, end, capital=True))
        elif form:
            capital = informative and word[:1].isupper() and not starts(i)
            out.append(Term(form, "word", start, end, capital))
        i += 1
    return out


def _info(word: str, lang: str) -> tuple[str, bool, bool, str]:
    """A word's folded form, whether a table name or a number may start there, and its
    form as a word (a stem; ``"\\0"`` and the word for a designator; "" for a stopword)."""
    low = _folded(word)
    named = low in v.NAME_STARTS
    numeric = bool(_NUMERIC.match(low)) or low in v.NUMBER_WORDS or low in _LOCAL_WORDS
    if _DIGIT.search(low):
        form = "\0" + low
    elif low and low not in stopwords(lang) and len(low) > 1:
        form = stem(low)
    else:
        form = ""
    return low, named, numeric, form


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


def _name(raw: list[tuple[str, int, int]], folded: list[str], i: int) -> tuple[str, int] | None:
    """The table name starting at ``i`` (longest first) and how many words it takes."""
    longest = v.NAME_STARTS.get(folded[i], 0)
    for width in range(min(longest, len(raw) - i), 0, -1):
        phrase = " ".join(folded[i : i + width])
        key = v.NAMES.get(phrase)
        if key is None:
            continue
        if phrase in v.CAPITALS_ONLY and not raw[i][0].isupper():
            continue
        return key, width
    return None


def _number(
    raw: list[tuple[str, int, int]], folded: list[str], i: int, local: dict[str, int]
) -> tuple[str | None, int]:
    """The number starting at word ``i`` as its value and unit (``"1500000000usd"``,
    ``"5%"``, ``"411000"``), and how many words it takes."""
    low = folded[i]
    value: float | None = None
    suffix, unit = "", ""
    if (m := _AMOUNT.match(low)) is not None:
        prefix, value, suffix = m[1], _digits(m[2]), m[3]
        unit = v.CURRENCIES.get(prefix, "")
        if suffix and (suffix not in v.MAGNITUDES or value >= 1000) and suffix not in _ORDINAL:
            return None, 1  # a designator ("2025B", "35A"), not a number
    elif low in v.NUMBER_WORDS:
        value = float(v.NUMBER_WORDS[low])
    elif low in local:
        value = float(local[low])
    elif low in ("tysyacha", "tysyachu"):
        value = 1e3
    if value is None:
        return None, 1
    width = 1
    if suffix in v.MAGNITUDES:
        value *= v.MAGNITUDES[suffix]
    elif i + 1 < len(raw) and folded[i + 1].rstrip(".") in v.MAGNITUDES and not suffix:
        value *= v.MAGNITUDES[folded[i + 1].rstrip(".")]
        unit = unit or v.CURRENCIES.get(folded[i + 1], "")  # crore: rupees
        width = 2
    after = folded[i + width] if i + width < len(raw) else ""
    pair = " ".join(folded[i + width : i + width + 2])
    if after in v.PERCENT:
        unit, width = "%", width + 1
    elif pair in v.PERCENT:  # per cent, pour cent
        unit, width = "%", width + 2
    elif not unit and (after in v.CURRENCIES or (i > 0 and folded[i - 1] in v.CURRENCIES)):
        unit = v.CURRENCIES.get(after) or v.CURRENCIES[folded[i - 1]]
    return _show(value) + unit, width


def _digits(text: str) -> float:
    """``1,000`` / ``10.000`` (thousands), ``1,5`` / ``1.5`` (decimals)."""
    text = text.rstrip(".,")
    groups = re.split(r"[.,]", text)
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
        return float("".join(groups))
    if len(groups) == 2:
        return float(f"{groups[0]}.{groups[1]}")
    return float("".join(groups))


def _show(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.4g}"


def _dateline_day(folded: list[str], i: int, width: int, starts_sentence: bool) -> bool:
    """Whether the number at ``i`` is a day next to a month (``May 6``, ``6 мая``)."""
    word = folded[i]
    if width > 1 or not word.isdigit() or not 1 <= int(word) <= 31:
        return False
    before = folded[i - 1] if i > 0 and not starts_sentence else ""
    after = folded[i + 1] if i + 1 < len(folded) else ""
    return before in v.MONTHS or after in v.MONTHS


def connective(word: str) -> bool:
    """Whether ``word`` (folded) joins the items of a list: and, и, ve, und, et ..."""
    return word in _CONNECTIVES
