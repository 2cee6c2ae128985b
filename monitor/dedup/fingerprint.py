"""Story fingerprints: pure functions of an item.

Two kinds of sameness:

* **Exact**: the same canonical link, or the same globally unique GUID (a URL,
  a URN or a long opaque id), whatever feed carried it. Short GUIDs such as
  ``"1234"`` are only unique within their feed, so they are keyed by feed.
* **Near-duplicate**: wire copies of one story. Titles are normalised
  (:func:`normalise_title`: NFKC, case-folded, quotes and punctuation dropped,
  hyphens inside words joined so ``S-400`` = ``S400``, wire prefixes such as
  ``UPDATE 1-``, ``EXCLUSIVE-``, ``REFILE-`` and an outlet suffix such as
  ``" - Reuters"`` removed), then compared by :func:`similarity`.

Thresholds, tuned on ``tests/fixtures/stories/`` (syndicated copies from
Reuters/AP/AFP-style wires and distinct stories about the same entities):

* titles: rapidfuzz ``token_sort_ratio`` >= ``TITLE_THRESHOLD`` (75). Every
  syndicated copy in the fixtures scores >= 83 once normalised; the closest
  distinct pair on the same entities scores 64.5; 75 sits in the middle of the
  gap (a missed copy costs one extra alert; a false merge hides a story).
* leads: the same lead paragraph (``fuzz.ratio`` of the first 40 normalised
  words >= ``LEAD_THRESHOLD``, 90) under a title that still shares something
  (>= ``LEAD_TITLE_FLOOR``, 40) is the same story: a retitled copy.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from monitor.model import Item

TITLE_THRESHOLD = 75.0
LEAD_THRESHOLD = 90.0
LEAD_TITLE_FLOOR = 40.0
LEAD_WORDS = 40  # words of the summary compared as the "lead paragraph"
LEAD_KEY_WORDS = 12  # words hashed into the exact lead key (candidate search)
MIN_LEAD_WORDS = 12  # a shorter summary is not a lead paragraph

_PREFIX = re.compile(
    r"^\s*(?:(?:UPDATE|WRAPUP|CORRECTED|REFILE|RPT|EXCLUSIVE|BREAKING|URGENT|FLASH|"
    r"INSIGHT|ANALYSIS|FACTBOX|TIMELINE|FOCUS|BRIEF|WATCH|VIDEO|LIVE)(?:\s*\d+)?"
    r"(?:\s*,\s*[A-Z]+)?\s*[-:–—|]\s*)+",
    re.IGNORECASE,
)
_SUFFIX = re.compile(r"\s+[-–—|]\s+((?:[\w.&'’]+\s*){1,4})$")
_QUOTES = re.compile(r"[\"'`´‘’‚‛“”„‟«»‹›]")
_JOIN = re.compile(r"(?<=\w)[-‐‑‒–](?=\w)")
_NON_WORD = re.compile(r"[\W_]+")
_STOP = "a an the and or but of to in on at for from by with as is are was were be been has have"
_STOP += " had it its this that these those into over after before says said"
STOPWORDS = frozenset(_STOP.split())


@dataclass(frozen=True, slots=True)
class Signature:
    """What near-duplicate search compares: the normalised title, its content
    tokens, the normalised lead paragraph and its exact key."""

    title: str
    tokens: tuple[str, ...]
    lead: str = ""
    lead_key: str = ""


def story_id(item: Item) -> str:
    """A new story's id: stable for the item (its link, else its feed and id)."""
    basis = f"link\0{item.link}" if item.link else f"item\0{item.feed_url}\0{item.id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:20]


def exact_keys(item: Item) -> tuple[str, ...]:
    """Keys that make two items the same item, across feeds."""
    keys = []
    if item.link:
        keys.append("link:" + item.link)
    if item.guid:
        keys.append(("guid:" if _global_guid(item.guid) else f"guid:{item.feed_url}\0") + item.guid)
    keys.append(f"item:{item.feed_url}\0{item.id}")
    return tuple(hashlib.sha256(k.encode()).hexdigest()[:24] for k in keys)


def _global_guid(guid: str) -> bool:
    low = guid.lower()
    return low.startswith(("http://", "https://", "urn:", "tag:")) or len(guid) >= 24


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title)
    text = _PREFIX.sub("", text)
    if (m := _SUFFIX.search(text)) and len(text[: m.start()].split()) >= 4:
        text = text[: m.start()]
    return normalise_text(text)


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _QUOTES.sub("", text)
    text = _JOIN.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


def signature(title: str, summary: str = "") -> Signature:
    norm = normalise_title(title)
    tokens = tuple(dict.fromkeys(t for t in norm.split() if t not in STOPWORDS))
    words = normalise_text(summary[:2000]).split()[:LEAD_WORDS]
    if len(words) < MIN_LEAD_WORDS:
        return Signature(norm, tokens)
    key = hashlib.sha256(" ".join(words[:LEAD_KEY_WORDS]).encode()).hexdigest()[:16]
    return Signature(norm, tokens, " ".join(words), key)


def similarity(a: Signature, b: Signature) -> float:
    """0..100: how much ``a`` and ``b`` look like one story (100 = certainly)."""
    title = fuzz.token_sort_ratio(a.title, b.title)
    if title >= TITLE_THRESHOLD or not (a.lead and b.lead) or title < LEAD_TITLE_FLOOR:
        return float(title)
    lead = fuzz.ratio(a.lead, b.lead, score_cutoff=LEAD_THRESHOLD)
    return 100.0 if lead else float(title)


def same_story(a: Signature, b: Signature) -> bool:
    return similarity(a, b) >= TITLE_THRESHOLD
