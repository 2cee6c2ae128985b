"""Text normalisation for matching: one function for terms and item text alike.

``fold`` applies NFKC, case folding and diacritic removal (Erdoğan -> erdogan,
Türkiye -> turkiye, ＳＵ -> su); every apostrophe form becomes ``'``, invisible
format characters (soft hyphen, zero-width joiner) vanish. ``prepare`` then
blanks possessives (``F-35's``, ``Ankara’s``) with spaces, so offsets are kept.
``tokens`` splits the result into letter runs and digit-led runs, so every
dash, hyphen and space form between the parts of a designator is the same
(``S-400`` = ``S400`` = ``S 400`` = ``S‑400``) while a glued suffix stays part
of its number (``F-35A`` is ``f 35a``, not ``f 35``). The other forms of a term
(plurals, verb forms, Russian cases) are derived on the term side, from the
words as :func:`written`: see ``monitor.rules.inflect``.

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


def written(text: str) -> list[str]:
    """The tokens of ``text`` as written (case and accents kept), one per :func:`tokens`."""
    prepared = prepare(text)
    where = None if keeps_offsets(text) else offset_map(text)
    out = []
    for found in TOKEN.finditer(prepared):
        start, end = found.span()
        if where is not None:
            start, end = where[start], where[end - 1] + 1
        out.append(text[start:end])
    return out


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
