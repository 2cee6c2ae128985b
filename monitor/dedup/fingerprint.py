"""Story fingerprints: the copy tier's near-duplicates, pure functions of an item.

(Exact sameness, the link and GUID keys, is ``monitor.dedup.keys``; rewrites of one
event in other words are the event tier, ``monitor.dedup.events``.)

* **Near-duplicate**: wire copies of one story. Titles are normalised
  (:func:`normalise_title`: NFKC, case-folded, diacritics folded so
  ``Erdoğan`` = ``Erdogan``, dotted acronyms joined (``U.S.`` = ``US``),
  possessives and quotes dropped, hyphens inside words joined so ``S-400`` =
  ``S400``, wire prefixes such as ``UPDATE 1-``, ``UPDATE 2, WRAPUP 1-``,
  ``EXCLUSIVE-``, ``REFILE-`` and an outlet suffix such as ``" - Reuters"``
  removed), then compared by :func:`similarity`.

Thresholds, tuned on ``tests/fixtures/stories/clusters.yaml`` (syndicated
copies from Reuters/AP/AFP-style wires, Title Case and ALL CAPS copies, and
distinct stories about the same entities; ``tests/dedup/test_fingerprint.py``
checks every pair):

* titles: rapidfuzz ``token_sort_ratio`` >= ``TITLE_THRESHOLD`` (75). Every
  copy in the fixtures scores >= 83.3 once normalised. As ``token_sort_ratio``
  ignores word order and case, two checks follow; a pair failing either is a
  different story (similarity 0) unless its leads match (below):

  - **substitution**: each title has a *name-like* token the other lacks
    ("Russia delivers S-400 to Turkey" / "... to India", 78.0; "F-35 crashes in
    Utah" / "... in Japan", 82.1; "... in 2019, ..." / "... in 2020, ...", 96.8).
    Name-like: has a digit (S-400, 2020), or is capitalised in its own title
    other than as its first word, unless that title is Title Case or ALL CAPS
    (case says nothing there: only digits count). A word whose case says
    nothing (the first word; any word of such a title) is name-like when the
    item's summary capitalises it inside a sentence. A one-sided addition
    ("... by April" / "... by April 2020", 90.1) is no substitution.
  - **reordering**: two shared name-like tokens in opposite order ("Iran strikes
    Israel" / "Israel strikes Iran": token_sort 100, ``fuzz.ratio`` 78.9; a longer
    reversal 94.1), or titles that match (>= 75) with an order-aware ``fuzz.ratio``
    below ``ORDER_FLOOR`` (70; "PUTIN MEETS ERDOGAN IN SOCHI" / "ERDOGAN MEETS PUTIN
    IN SOCHI", no case to see names by, 64.3); unless a clause moved to the other
    end: one title's shared words are the other's rotated, and only one title has
    words of its own ("Despite US pressure, Turkey says ..." / "Turkey says ...
    despite US pressure", ratio 67.2; not "Turkey delivers S-400 to Russia" /
    "Russia delivers S-400 to India"). No ratio floor separates reversals from
    copies (the lowest ``fuzz.ratio`` of a copy that is not a rotation is 76.4,
    "UPDATE 2-Russia to share S-400 technology with Turkey, official says" / "Russia
    says it will share ..."), hence the names; 70 leaves that copy a margin.

  The closest distinct pair that passes both checks scores 63.3 ("Turkey says
  it will not back down on S-400 despite US pressure" / "NATO chief says
  Turkey's S-400 purchase is a national decision"). Not caught: a substitution
  seen only where case says nothing and no summary names it ("Russia Delivers
  S-400 to India" / "Russia delivers S-400 to Turkey"; "Turkey sends ..." /
  "Greece sends ..."), and symmetric wording is split ("Putin meets Erdogan" /
  "Erdogan meets Putin": one extra alert, never a hidden story).
* leads: the same lead paragraph (``fuzz.ratio`` of the first 40 normalised
  words >= ``LEAD_THRESHOLD``, 90) under a title that still shares something
  (>= ``LEAD_TITLE_FLOOR``, 40) is the same story: a retitled copy.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Set
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from monitor.dedup.keys import exact_keys, story_id

__all__ = ["exact_keys", "story_id"]  # re-exported: the kafka key and replay use story_id

TITLE_THRESHOLD = 75.0
ORDER_FLOOR = 70.0
LEAD_THRESHOLD = 90.0
LEAD_TITLE_FLOOR = 40.0
LEAD_WORDS = 40  # words of the summary compared as the "lead paragraph"
LEAD_KEY_WORDS = 12  # words hashed into the exact lead key (candidate search)
MIN_LEAD_WORDS = 12  # a shorter summary is not a lead paragraph
LEAD_CHARS = 800  # characters of the summary read for the lead (40 words fit)
NAME_CHARS = 600  # characters of the summary read for capitalised words

_TAGS = (
    "UPDATE|WRAPUP|CORRECTED|REFILE|RPT|EXCLUSIVE|BREAKING|URGENT|FLASH|INSIGHT|ANALYSIS|"
    "FACTBOX|TIMELINE|FOCUS|BRIEF|WATCH|VIDEO|LIVE|EXPLAINER|PREVIEW|COLUMN|POLL|GRAPHIC"
)
_TAG = rf"(?:{_TAGS})(?:\s*\d+)?"  # wire style, upper case: "UPDATE 2-", "UPDATE 1, WRAPUP 2-"
_ANY_TAG = rf"(?i:{_TAGS})(?:\s*\d+)?"  # any case, but only before ": " or " - " ("Live: ")
_PREFIX = re.compile(
    rf"^\s*(?:\((?:{_TAGS}|LEAD|\d+(?:st|nd|rd|th) LD)(?:[ ,][^)]{{0,24}})?\)\s*"  # (LEAD)
    rf"|{_TAG}(?:\s*,\s*{_TAG})*\s*[-:–—|]\s*"
    rf"|{_ANY_TAG}(?:\s*,\s*{_ANY_TAG})*(?:\s*[:|]\s*|\s+[-–—]\s+))+"
)
_SUFFIX = re.compile(r"\s+[-–—|]\s+((?:[\w.&'’]+\s*){1,4})$")
# Patterns start with a literal or a class where they can (a lookbehind moved after what
# it looks at): the engine then skips to where a match can start; a leading lookbehind
# is tried at every character (2-4x slower on a lead paragraph, the same matches).
ACRONYM = re.compile(r"\b(?:[^\W\d_]\.){2,}")  # U.S., U.K., E.U.
DOTTED = re.compile(r"\.[^\W\d_]\.")  # in every acronym: a cheap test before ACRONYM
_POSSESSIVE = re.compile(r"['’ʼ](?<=\w.)s\b")
_QUOTES = re.compile(r"[\"'`´‘’‚‛“”„‟«»‹›ʼ]")
_JOIN = re.compile(r"[-‐‑‒–](?<=\w.)(?=\w)")
_NON_WORD = re.compile(r"[\W_]+")
# their ASCII forms (on ASCII text \w is [a-zA-Z0-9_] either way)
_ASCII_QUOTES = b"\"'`"
_ASCII_JOIN = re.compile(rb"-(?<=\w.)(?=\w)")
_ASCII_BLANKS = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = b"0123456789"
# a word after a word or comma, starting with a capital (or any non-ASCII letter)
_MID_SENTENCE = re.compile(r" (?<=[\w,] )((?:[A-Z]|[^\W\d_a-z])[\w‐‑-]*)")
_STOP = "a an the and or but of to in on at for from by with as is are was were be been has have"
_STOP += " had it its this that these those into over after before says said"
STOPWORDS = frozenset(_STOP.split())
_MINOR = "up via vs per off out near than upon onto amid down nor so yet about above across"
_MINOR += " against along among around behind below between beyond despite during inside"
_MINOR += " outside since through toward towards under until within without"
MINOR_WORDS = STOPWORDS | frozenset(_MINOR.split())  # lower case in Title Case too


@dataclass(frozen=True, slots=True)
class Signature:
    """What near-duplicate search compares: the normalised title, its content
    tokens, the normalised lead paragraph and its exact key, and the title's
    name-like tokens (normalised)."""

    title: str
    tokens: tuple[str, ...]
    lead: str = ""
    lead_key: str = ""
    names: frozenset[str] = frozenset()


@lru_cache(maxsize=1024)
def headline(title: str) -> str:
    """The title without wire prefixes and an outlet suffix, case kept (remembered for the
    last titles: an item's features and its signature both read it)."""
    text = unicodedata.normalize("NFKC", title)
    text = _PREFIX.sub("", text)
    if (m := _SUFFIX.search(text)) and len(text[: m.start()].split()) >= 4:
        text = text[: m.start()]
    return text


def normalise_title(title: str) -> str:
    return _fold(_clean(headline(title)).casefold())


def normalise_text(text: str) -> str:
    """NFKC, case-folded, without diacritics, quotes or punctuation; hyphens inside
    words joined (the lead paragraph's form)."""
    if text.isascii():  # most leads
        return _ascii_words(text.lower())
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _QUOTES.sub("", text)
    text = _JOIN.sub("", text)
    return _NON_WORD.sub(" ", _fold(text)).strip()


def has_digit(text: str) -> bool:
    """Whether ``text`` has a digit (``\\d``); ASCII text by one C call, 8x the regex's speed."""
    if text.isascii():
        return len(text.encode().translate(None, _ASCII_DIGITS)) != len(text)
    return _DIGIT.search(text) is not None


def _clean(text: str) -> str:
    """A title's words, case kept: :func:`normalise_text` without case folding,
    also joining dotted acronyms and dropping possessives."""
    text = unicodedata.normalize("NFKC", text)
    if DOTTED.search(text):
        text = ACRONYM.sub(lambda m: m[0].replace(".", ""), text)
    text = _POSSESSIVE.sub("", text)
    if text.isascii():
        return _ascii_words(text)
    text = _QUOTES.sub("", text)
    text = _JOIN.sub("", text)
    return _NON_WORD.sub(" ", _fold(text)).strip()


def _ascii_words(text: str) -> str:
    """The last steps of :func:`_clean` on ASCII text, on bytes (a C call each, 3x faster
    on a lead): quotes dropped, hyphens inside words joined, the other non-word
    characters one space between words."""
    raw = text.encode().translate(None, _ASCII_QUOTES)
    if b"-" in raw:
        raw = _ASCII_JOIN.sub(b"", raw)
    return b" ".join(raw.translate(_ASCII_BLANKS).split()).decode()


def _fold(text: str) -> str:
    """Without combining marks: Erdoğan -> Erdogan, Türkiye -> Turkiye."""
    if text.isascii():
        return text
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)


def signature(title: str, summary: str = "") -> Signature:
    clean = _clean(headline(title))
    words = clean.split()
    # ASCII: casefold is lower and nothing to fold, so the words of the lowered title
    lowered = clean.lower().split() if clean.isascii() else [_fold(w.casefold()) for w in words]
    norm = " ".join(lowered)
    tokens = tuple(dict.fromkeys(t for t in lowered if t not in STOPWORDS))
    names = _names(words, lowered, summary, has_digit(clean))
    lead = normalise_text(summary[:LEAD_CHARS]).split()
    if len(lead) <= LEAD_WORDS and len(summary) > LEAD_CHARS:
        lead = normalise_text(summary[:2000]).split()  # very long words: read further
    lead = lead[:LEAD_WORDS]
    if len(lead) < MIN_LEAD_WORDS:
        return Signature(norm, tokens, names=names)
    key = hashlib.sha256(" ".join(lead[:LEAD_KEY_WORDS]).encode()).hexdigest()[:16]
    return Signature(norm, tokens, " ".join(lead), key, names)


def _names(
    words: list[str], lowered: list[str], summary: str, digits: bool = True
) -> frozenset[str]:
    """The name-like tokens of a title (``words``, case kept; ``lowered``, normalised;
    ``digits``: whether any word may have a digit)."""
    informative = case_informative(words)
    names, unknown = set(), set()
    for i, (word, low) in enumerate(zip(words, lowered, strict=True)):
        if low in STOPWORDS or (len(low) < 2 and not low.isdigit()):
            continue
        if digits and _DIGIT.search(word):
            names.add(low)  # S-400, F-35, 2020
        elif informative and i > 0:
            if word[0].isupper():
                names.add(low)
        else:
            unknown.add(low)  # the first word, or any word of a Title Case / CAPS title
    if unknown and summary:
        names |= unknown & _capitalised(summary[:NAME_CHARS])
    return frozenset(names)


def case_informative(words: list[str]) -> bool:
    """Whether capitals mark names here: not ALL CAPS, not Title Case."""
    if all(w.upper() == w for w in words):
        return False
    content = False  # a content word: a word, not ALL CAPS, not a minor word
    for w in words[1:]:
        if w.isalpha() and not w.isupper() and w.casefold() not in MINOR_WORDS:
            if not w[0].isupper():
                return True  # a content word in lower case: case says something
            content = True
    return not content


def _capitalised(text: str) -> set[str]:
    """Words capitalised inside a sentence of ``text`` (normalised), if its case says anything."""
    if text.upper() == text:
        return set()
    found = {w for w in _MID_SENTENCE.findall(text) if w[0].isupper()}
    return {w.replace("-", "").lower() if w.isascii() else normalise_text(w) for w in found}


def similarity(a: Signature, b: Signature) -> float:
    """0..100: how much ``a`` and ``b`` look like one story (100 = certainly).

    Titles over the threshold that substitute a name or reverse an order score
    0 (different stories) unless the leads match. The checks run only there:
    most candidates of a search score below the threshold and cost one ratio."""
    title = fuzz.token_sort_ratio(a.title, b.title)
    if title < LEAD_TITLE_FLOOR:
        return float(title)
    different = False
    if title >= TITLE_THRESHOLD:
        different = _substituted(a, b) or _reordered(a, b)
        if not different:
            return float(title)
    if a.lead and b.lead and fuzz.ratio(a.lead, b.lead, score_cutoff=LEAD_THRESHOLD):
        return 100.0
    return 0.0 if different else float(title)


def same_story(a: Signature, b: Signature) -> bool:
    return similarity(a, b) >= TITLE_THRESHOLD


def _substituted(a: Signature, b: Signature) -> bool:
    """Whether each title has a name-like token the other lacks."""
    return _lacks(b.tokens, a.names) and _lacks(a.tokens, b.names)


def _lacks(tokens: tuple[str, ...], names: frozenset[str]) -> bool:
    if not names:
        return False
    have = set(tokens)
    return any(
        n not in have and n + "s" not in have and not (n.endswith("s") and n[:-1] in have)
        for n in names
    )


def _reordered(a: Signature, b: Signature) -> bool:
    """Whether titles that match say their shared words in another order: two
    shared names crossed ("Iran strikes Israel" / "Israel strikes Iran") or a
    ``fuzz.ratio`` below ``ORDER_FLOOR``; a clause moved to the other end is no
    reordering."""
    shared = set(a.tokens).intersection(b.tokens)
    crossed = _crossed(a.title.split(), b.title.split(), (a.names | b.names) & shared)
    if not crossed and fuzz.ratio(a.title, b.title, score_cutoff=ORDER_FLOOR):
        return False
    if len(shared) < len(a.tokens) and len(shared) < len(b.tokens):
        return True  # words swapped *and* replaced: no mere moved clause
    return not _rotated([t for t in a.tokens if t in shared], [t for t in b.tokens if t in shared])


def _crossed(a: list[str], b: list[str], names: Set[str]) -> bool:
    """Whether two of ``names`` come strictly in one order in ``a``, the other in ``b``."""
    if len(names) < 2:
        return False
    span_a, span_b = _spans(a, names), _spans(b, names)
    return any(
        span_a[x][1] < span_a[y][0] and span_b[y][1] < span_b[x][0]
        for x in names
        for y in names
        if x != y
    )


def _spans(words: list[str], names: Set[str]) -> dict[str, tuple[int, int]]:
    """First and last position of each name among ``words``."""
    out: dict[str, tuple[int, int]] = {}
    for i, word in enumerate(words):
        if word in names:
            out[word] = (out[word][0], i) if word in out else (i, i)
    return out


def _rotated(a: list[str], b: list[str]) -> bool:
    """Whether ``b`` is ``a`` with a leading part moved to the end (or the same)."""
    if len(a) != len(b) or not a:
        return len(a) == len(b)
    k = a.index(b[0]) if b[0] in a else -1
    return k >= 0 and a[k:] + a[:k] == b
