"""Near misses in queries: a term one edit from an entity, a field scope one edit from one.

A query term that names no entity is a plain word, and a field scope the query
language does not know (``titel:Iran``) is part of the word: both are valid, and
both are usually a typo that makes the rule match the wrong items or none. They
are reported as warnings, with what was probably meant::

    term 'PLAN' is not an entity; did you mean 'PLA'?
    term 'titel:Iran' is not a field scope; did you mean 'title:Iran'?

To stay quiet about words written on purpose, only near misses count, compared
on the normalised tokens (case, accents and dash forms do not count as edits):

- one edit in one word: a letter inserted or deleted when the shorter word has
  3 letters or more (PLA / PLAN), a letter changed or two neighbours swapped
  when the words have 5 letters or more (Erdogan / Erdgoan); a 4-letter
  substitution is too often another word (Iran / Iraq) and is not reported;
- or a space inserted or removed between words (techtransfer);
- never in a designator: a word with a digit, or the letters before one
  (S-300 / S-400, F-35A / F-35, SU-35 / S-35 are different things);
- never for a term that is an alias of an entity (the word is known on purpose),
  nor for a term that names an entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from rapidfuzz.distance import OSA

from monitor.rules.query import Term
from monitor.rules.text import is_designator, tokens

FIELD_SCOPES = ("title", "summary")
_SCOPED = re.compile(r"([^\W\d_]+):(.+)", re.S)
Key = tuple[str, ...]


class NearMisses:
    """The entities a term may have meant; :meth:`check` says why a term looks wrong."""

    def __init__(self, names: Iterable[tuple[Key, str]], aliases: Iterable[Key]) -> None:
        self.names = dict(names)  # entity key (its tokens) -> its name as written
        self.aliases = set(aliases)
        self._index: dict[str, Key | list[Key]] | None = None  # built on first use

    def check(self, term: Term) -> str | None:
        """The warning for this term, or None when it looks as meant."""
        if term.field is None and (scope := _scope_typo(term.text)) is not None:
            return f"term {term.text!r} is not a field scope; did you mean {scope!r}?"
        key = tokens(term.text)
        if not key or key in self.names or key in self.aliases:
            return None
        meant = sorted({self.names[k] for k in self._candidates(key) if _one_edit(key, k)})
        if not meant:
            return None
        shown = " or ".join(repr(name) for name in meant[:3])
        return f"term {term.text!r} is not an entity; did you mean {shown}?"

    def _candidates(self, key: Key) -> list[Key]:
        """Entities that may be one edit from ``key``: those sharing a deletion
        variant with it (or equal to one), and those with its letters spaced otherwise
        (a symmetric-deletion index, as SymSpell's)."""
        if self._index is None:
            self._index = {}
            for name in self.names:
                for variant in _variants(name):
                    self._add(variant, name)
        found: list[Key] = []
        for variant in _variants(key):
            hit = self._index.get(variant)
            if isinstance(hit, list):
                found += hit
            elif hit is not None:
                found.append(hit)
        return found

    def _add(self, variant: str, key: Key) -> None:
        assert self._index is not None
        hit = self._index.setdefault(variant, key)
        if isinstance(hit, list):
            hit.append(key)
        elif hit is not key:
            self._index[variant] = [hit, key]


def _variants(key: Key) -> Iterator[str]:
    """The index entries of a key: itself, its deletions, its letters unspaced; as
    strings (``\\x00`` between words, ``\\x01`` before the unspaced form)."""
    yield "\x00".join(key)
    for deleted in _deletions(key):
        yield "\x00".join(deleted)
    if len(key) > 1 and all(word.isalpha() for word in key):
        yield "\x01" + "".join(key)
    elif len(key) == 1 and key[0].isalpha():
        yield "\x01" + key[0]


def _scope_typo(text: str) -> str | None:
    """``title:Iran`` for ``titel:Iran`` or ``Title:Iran``; None if not such a typo."""
    m = _SCOPED.fullmatch(text)
    if m is None or m[1] in FIELD_SCOPES:
        return None
    written = m[1].casefold()
    for scope in FIELD_SCOPES:
        if written == scope or (len(written) >= 4 and OSA.distance(written, scope) == 1):
            return f"{scope}:{m[2]}"
    return None


def _editable(key: Key, index: int) -> bool:
    """Whether a typo may be looked for in this word: letters only, not the letters
    of a designator (``s`` in ``s 400``)."""
    word = key[index]
    after = key[index + 1] if index + 1 < len(key) else ""
    return word.isalpha() and not (after and is_designator(after))


def _deletions(key: Key) -> set[Key]:
    """``key`` with one letter deleted from one editable word of 3+ letters."""
    out = set()
    for i, word in enumerate(key):
        if len(word) >= 3 and _editable(key, i):
            out |= {(*key[:i], word[:j] + word[j + 1 :], *key[i + 1 :]) for j in range(len(word))}
    return out


def _one_edit(term: Key, entity: Key) -> bool:
    """Whether ``term`` is a near miss of ``entity`` (see the module's rules)."""
    if len(term) != len(entity):
        joined = "".join(term)
        return abs(len(term) - len(entity)) == 1 and joined == "".join(entity) and len(joined) >= 5
    differ = [i for i, (a, b) in enumerate(zip(term, entity, strict=True)) if a != b]
    if len(differ) != 1 or not (_editable(term, differ[0]) and _editable(entity, differ[0])):
        return False
    a, b = term[differ[0]], entity[differ[0]]
    if OSA.distance(a, b) != 1:
        return False
    return min(len(a), len(b)) >= (5 if len(a) == len(b) else 3)
