"""The other forms of a term that also match it; docs/rules.md ("Forms") has the tables.

Forms are derived from the term as written in the rule, for its last word; the
item side is left alone, so the automaton holds more patterns and an item costs
nothing more, whatever its (often missing or wrong) ``language``.

- A *topic word* (its last word in lower case: ``sanction``, ``embargo``) gets
  its plural or singular and, from every base that gives, the verb forms -s/-es,
  -ed and -ing under the English spelling rules: a final ``e`` dropped (``raise``
  -> raising, raised), ``y`` after a consonant to ``i`` (``deny`` -> denied,
  denying; ``tie`` -> tying), a final consonant doubled after one vowel (``ban``
  -> banned, banning; in longer words, whose stress decides, both: ``target`` ->
  targeted, targetted), ``-ic`` -> ``-icked`` (``traffic`` -> trafficking).
  ``sanctions`` thus matches sanction, sanctioned, sanctioning.
- A *name* (a last word with a capital: ``Trump``, ``Hamas``, ``ISIS``) keeps
  its plural ``-s`` only: never a verb form (Trump is not "trumped", Hawk not
  "hawking") and never a singular (Hamas is not Hama, ISIS not ISI).
- A word written in -ed or -ing is not reduced to a base: ``bombing`` does not
  match bomb, ``landing`` not land, ``united`` not unit (it keeps its plural).
- Designators (any digit) get their ``-s`` only (``S-400s``).
- Cyrillic words get their Russian case forms (``monitor.rules.russian``).

Only the term as written and its plurals or singulars are fuzzy targets; verb
and case forms match exactly. Forms that are no word (``missiled``, ``admited``)
are harmless: matching is by whole tokens, so such a form only matches itself.
"""

from __future__ import annotations

from monitor.rules import russian
from monitor.rules.text import tokens, written

_VOWELS = frozenset("aeiou")
_ES_SINGULAR = ("s", "x", "z", "ch", "sh", "o")  # such singulars take -es: tax, crash, embargo
_ES_PLURAL = ("ss", "us", "x", "z", "ch", "sh", "o")  # such stems lose -es: taxes, classes
# -s words whose "singular" is another word (news is not new, AIDS not aid): taken as written
_NOT_PLURALS = frozenset({"news", "means", "goods", "customs", "aids"})
_NAME_NO_S = ("s", "x", "z", "ch", "sh")  # names that take no plural -s: Hamas, Bush
MIN_VERB = 3  # shorter words get no verb forms


def term_forms(text: str) -> dict[tuple[str, ...], bool]:
    """Every form of a term (as written in the rule) as folded tokens, each with whether
    typos of its words are forgiven: the term itself and its plural or singular are
    (as ever), derived verb and case forms match exactly."""
    words = tokens(text)
    out = {words: True}
    if not words:
        return out
    raw = written(text)
    if len(raw) == len(words) and any(russian.is_cyrillic(w) for w in raw):
        for phrase in russian.phrase_cases(raw):
            out.setdefault(tuple(t for w in phrase for t in tokens(w)), False)
    *head, last = words
    if not last.isalpha():
        out.setdefault((*head, last + "s"), True)  # designators: S-400s
        return out
    name = len(raw) != len(words) or not raw[-1].islower()  # unsure how it was written: a name
    for form, typos in word_forms(last, name).items():
        out.setdefault((*head, form), typos)
    return out


def word_forms(word: str, name: bool = False) -> dict[str, bool]:
    """The (folded) word's forms, each with whether typos of it are forgiven."""
    if not word.isascii():
        return {word: True}  # English forms for English words; Cyrillic: monitor.rules.russian
    if word in _NOT_PLURALS:
        return {word: True}
    if name:
        plain = len(word) >= 4 and not word.endswith(_NAME_NO_S)
        return dict.fromkeys({word, word + "s"} if plain else {word}, True)
    bases = singulars(word) or {word}
    out = dict.fromkeys({word} | bases, True)
    for base in bases:
        out |= dict.fromkeys(plurals(base), True)
    for base in bases:
        for form in verb_forms(base):
            out.setdefault(form, False)
    return out


def singulars(word: str) -> set[str]:
    """The singulars of a word taken as a plural: a word of four letters or more
    ending in ``s`` (but not ``-ss``/``-us``: class, bonus) loses it
    (``sanctions`` -> sanction); ``-ies`` also gives ``-y`` (batteries ->
    battery), and ``-es`` after s/x/z/ch/sh/o the bare stem (embargoes ->
    embargo, taxes -> tax, launches -> launch)."""
    n = len(word)
    if n < 4 or not word.endswith("s") or word.endswith(("ss", "us")) or word in _NOT_PLURALS:
        return set()
    out = {word[:-1]}
    if word.endswith("ies") and n >= 5:
        out.add(word[:-3] + "y")
    elif word.endswith("es") and n >= 5 and word[:-2].endswith(_ES_PLURAL):
        out.add(word[:-2])  # taxes -> tax; not toes -> to, uses -> us
    return out


def plurals(word: str) -> set[str]:
    """The plurals (and third persons) of a word taken as a singular: ``-y``
    after a consonant gives ``-ies`` (battery -> batteries, spy -> spies); a
    word ending in s/x/z/ch/sh/o takes ``-es`` (class -> classes, tax -> taxes,
    embargo -> embargoes; also ``-s`` after o and ch: embargos, monarchs);
    other words take ``-s`` (missile -> missiles, war -> wars), unless that is
    a word of its own (new -> news). A word already taken as a plural gets none;
    words of one or two letters get none."""
    if len(word) < 3 or singulars(word):
        return set()
    if word[-1] == "y" and word[-2] not in _VOWELS:
        return {word[:-1] + "ies"}
    if word.endswith(_ES_SINGULAR):
        return {word + "es", word + "s"} if word.endswith(("o", "ch")) else {word + "es"}
    return set() if word + "s" in _NOT_PLURALS else {word + "s"}


def verb_forms(word: str) -> set[str]:
    """The -ed and -ing forms of a word taken as a verb's base (-s is :func:`plurals`)."""
    if len(word) < MIN_VERB or not word.isalpha() or _inflected(word):
        return set()
    if word.endswith("ie"):
        return {word + "d", word[:-2] + "ying"}  # tie: tied, tying
    if word.endswith(("ee", "ye", "oe")):
        past = {word + "d"} if len(word) > 3 or word[-2] != "e" else set()  # not see: seed
        return past | {word + "ing"}  # agree: agreed, agreeing; dye: dyeing
    if word.endswith("e"):
        return {word + "d", word[:-1] + "ing"}  # raise: raised, raising
    if word[-1] == "y":
        stem = word[:-1] + "i" if word[-2] not in _VOWELS else word
        return {stem + "ed", word + "ing"}  # deny: denied, denying; deploy: deployed
    if word.endswith("c") and word[-2] in _VOWELS and len(word) >= 5:
        return {word + "ed", word + "ing", word + "ked", word + "king"}  # traffic: trafficking
    if _ends_consonant_vowel_consonant(word):
        doubled = word + word[-1]
        if _syllables(word) == 1:
            return {doubled + "ed", doubled + "ing"}  # ban: banned, banning
        return {word + "ed", word + "ing", doubled + "ed", doubled + "ing"}  # target, admit
    return {word + "ed", word + "ing"}


def _inflected(word: str) -> bool:
    """Already an -ed or -ing form: bombing, landing, united (not need, shed, bring, king)."""
    if word.endswith("ing"):
        return _has_vowel(word[:-3])
    return word.endswith("ed") and not word.endswith("eed") and _has_vowel(word[:-2])


def _has_vowel(part: str) -> bool:
    return any(c in _VOWELS or c == "y" for c in part)


def _ends_consonant_vowel_consonant(word: str) -> bool:
    """One vowel between consonants at the end (ban, admit; not bean, fix, show, quit's ui)."""
    if len(word) < 3 or word[-1] in _VOWELS or word[-1] in "wxy":
        return False
    vowel, before = word[-2], word[-3]
    if vowel not in _VOWELS:
        return False
    return before not in _VOWELS or (before == "u" and word[-4:-3] == "q")  # quit: u is a consonant


def _syllables(word: str) -> int:
    """Groups of vowels, with ``qu`` a consonant: a rough count, enough to tell one from many."""
    groups, previous = 0, False
    for i, char in enumerate(word):
        vowel = char in _VOWELS or (char == "y" and i > 0 and not previous)
        if char == "u" and i > 0 and word[i - 1] == "q":
            vowel = False
        groups += vowel and not previous
        previous = vowel
    return groups
