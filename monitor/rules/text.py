"""Text normalisation for matching: one function for terms and item text alike.

``fold`` applies NFKC, case folding and diacritic removal (Erdoğan -> erdogan,
Türkiye -> turkiye, ＳＵ -> su); every apostrophe form becomes ``'``, invisible
format characters (soft hyphen, zero-width joiner) vanish. ``prepare`` then
blanks possessives (``F-35's``, ``Ankara’s``) with spaces, so offsets are kept.
``tokens`` splits the result into letter runs and digit-led runs, so every
dash, hyphen and space form between the parts of a designator is the same
(``S-400`` = ``S400`` = ``S 400`` = ``S‑400``) while a glued suffix stays part
of its number (``F-35A`` is ``f 35a``, not ``f 35``). Plurals are handled on the
term side: :func:`number_forms` gives each term's last word its English singular
and plural forms (-s, -ies/-y, -es), and designators their ``-s``.

Spans map back to the original text: when every character folded to one
(nearly always) offsets are the same; otherwise :func:`offset_map` rebuilds them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_POSSESSIVE = re.compile(r"'(?<=\w')s\b")
TOKEN = re.compile(r"[^\W\d_]+|\d[^\W_]*")
_APOSTROPHES = dict.fromkeys("\u2018\u2019\u02bc\u2032\u00b4\u0060\uff07", "'")


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char in _APOSTROPHES:
        return "'"
    if unicodedata.category(char)[0] in "PSZ":
        return " "  # dashes, quotes, spaces, symbols: all separators alike
    text = unicodedata.normalize("NFKC", char).casefold()
    text = unicodedata.normalize("NFD", text)
    return "".join(
        c for c in text if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )


def _fold_run(match: re.Match[str]) -> str:
    return _fold_text(match.group(0))


@lru_cache(maxsize=65536)
def _fold_text(run: str) -> str:
    """A run of non-ASCII characters, folded; runs (’, —, ü, a Cyrillic word) recur."""
    return "".join(_fold_char(c) for c in run)


def fold(text: str) -> str:
    """NFKC, case-folded, without diacritics or format characters."""
    if not text.isascii():
        text = _NON_ASCII.sub(_fold_run, text)
    return text.lower()


def prepare(text: str) -> str:
    """``fold`` with possessive ``'s`` blanked out (same length as ``fold``)."""
    text = fold(text)
    return _POSSESSIVE.sub("  ", text) if "'" in text else text


_SEPARATORS = {c: " " for c in range(128) if not chr(c).isalnum()}
_LETTER_DIGIT = re.compile(r"[a-z][0-9]")
_DIGITS = "0123456789"  # ten substring scans in C beat one regex scan for a letter-digit pair


def words(prepared: str) -> list[str]:
    """The tokens of a prepared text; plain ``split`` where that gives the same."""
    if prepared.isascii():
        spaced = prepared.translate(_SEPARATORS)
        if not any(d in spaced for d in _DIGITS) or _LETTER_DIGIT.search(spaced) is None:
            return spaced.split()
    return TOKEN.findall(prepared)


def tokens(text: str) -> tuple[str, ...]:
    """The normalised tokens of a term or a text."""
    return tuple(TOKEN.findall(prepare(text)))


def is_designator(word: str) -> bool:
    """A token with a digit in it: part of a designator such as S-400 or F-35A."""
    return not word.isalpha()


_VOWELS = frozenset("aeiou")
_ES_SINGULAR = ("s", "x", "z", "ch", "sh", "o")  # such singulars take -es: tax, crash, embargo
_ES_PLURAL = ("ss", "us", "x", "z", "ch", "sh", "o")  # such stems lose -es: taxes, classes


def number_forms(words: tuple[str, ...]) -> set[tuple[str, ...]]:
    """The term's words with its last word in singular and plural: ``sanctions``
    gives sanction/sanctions, ``battery`` battery/batteries, ``embargo``
    embargo/embargos/embargoes, ``S-400`` gives s 400/s 400s. See :func:`other_numbers`."""
    *head, last = words
    if is_designator(last):
        return {words, (*head, last + "s")}
    return {words} | {(*head, form) for form in other_numbers(last)}


def other_numbers(word: str) -> set[str]:
    """English plural forms of a singular word, singular forms of a plural one.

    A word of four letters or more ending in ``s`` (but not ``-ss``/``-us``:
    class, bonus) is taken as a plural: ``sanctions`` -> sanction; ``-ies`` also
    gives ``-y`` (batteries -> battery), and ``-es`` after s/x/z/ch/sh/o gives
    the bare stem (embargoes -> embargo, taxes -> tax, launches -> launch).
    Any other word is a singular: ``-y`` after a consonant gives ``-ies``
    (battery -> batteries, spy -> spies); a word ending in s/x/z/ch/sh/o takes
    ``-es`` (class -> classes, tax -> taxes, embargo -> embargoes; also ``-s``
    after o and ch: embargos, monarchs); other words of four letters or more take
    ``-s`` (missile -> missiles). Shorter words get no plural or singular but
    the -ies/-es ones (war, jet, gas -> gases, ..., are left alone).
    Forms that are no English word (``missil``) are harmless: matching is by
    whole tokens, so they can only match themselves."""
    n = len(word)
    if n < 3 or not word.isalpha():
        return set()
    if n >= 4 and word.endswith("s") and not word.endswith(("ss", "us")):
        out = {word[:-1]}
        if word.endswith("ies") and n >= 5:
            out.add(word[:-3] + "y")
        elif word.endswith("es") and word[:-2].endswith(_ES_PLURAL):
            out.add(word[:-2])
        return out
    if word[-1] == "y" and word[-2] not in _VOWELS:
        return {word[:-1] + "ies"}
    if word.endswith(_ES_SINGULAR):
        return {word + "es", word + "s"} if word.endswith(("o", "ch")) else {word + "es"}
    return {word + "s"} if n >= 4 else set()


def keeps_offsets(text: str) -> bool:
    """Whether ``fold(text)`` has every character where ``text`` has it."""
    if text.isascii():
        return True
    return all(len(_fold_char(c)) == 1 for run in _NON_ASCII.findall(text) for c in run)


def offset_map(text: str) -> list[int]:
    """For each position of ``fold(text)`` (and one past its end), the position in
    ``text`` it came from; used only when folding changed the length."""
    out: list[int] = []
    for index, char in enumerate(text):
        folded = char.lower() if char.isascii() else _fold_char(char)
        out.extend([index] * len(folded))
    out.append(len(text))
    return out
