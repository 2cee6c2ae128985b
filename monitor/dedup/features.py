"""What the event tier knows of one match (pure): its bags of terms, entities and numbers.

:func:`features` reads the item's headline (wire prefixes and outlet suffix removed, as
the copy tier does) and lead (the first :data:`LEAD_CHARS` of the summary) with
:func:`monitor.dedup.words.terms`, and the rules' evidence: each ``Evidence.term`` is
the canonical term of an entity whatever script the item used (``С-400`` is ``S-400``,
``Турции`` is ``Turkey``), so entities are what a rewrite in another language shares
with the story. An entity is keyed as its words are (``entity_key``), so the entity
``Turkey`` and the word ``Turkish`` meet in one key. The outlet's own name and the wire
agencies' (datelines: ``(Reuters)``, ``/TASS/``) are no evidence of anything.

``units`` are the title's mentions of entities in order, a list (``Russia, China and
Iran``) as one unit: the role veto reads who comes first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from monitor.dedup.fingerprint import case_informative, headline
from monitor.dedup.variants import AFFILIATES, NAMES, acts_on
from monitor.dedup.words import Term, bag, connective, fold, terms
from monitor.model import Match

LEAD_CHARS = 800
MIN_LEAD_TERMS = 8  # fewer: a headline alone (Google News: the title and the outlet)
_WIRES_WORDS = (
    "reuters ap afp tass ria novosti interfax anadolu aa xinhua yonhap kyodo dpa efe ansa"
    " upi irna bernama pti ani ians wam spa sana mena kuna qna bna apa trend"
)
WIRES = frozenset(_WIRES_WORDS.split())
ATTRIBUTION_WORDS = 4
PREDICATE_WORDS = 3  # "Israeli jets pound ...": the act within three words of the subject
_SEPARATOR = re.compile(r",|:|;|\s[-–—]\s|\s[—–]|[—–]\s")
_SAYS = re.compile(
    r"\b(?:says?|said|reports?|claims?|according|sources?|officials?|tells?)\b", re.I
)
_SPEAKER = re.compile(r"^\W*(?:says?|said|claims?|reports?|warns?)\b", re.I)
_LABEL = re.compile(r"^\s*(?:\S+\s+){0,2}\S+\s*:\s")
_LIST_GAP = re.compile(r"^[\s,&/;]*(?:\w{1,3})?[\s,]*$")


@dataclass(frozen=True, slots=True)
class Features:
    """One member's terms. ``title`` and ``words`` are bags of stems, designators, names,
    entity keys and numbers (``#`` and the value; ``words`` is the title's and the lead's);
    ``universal`` is what another language shares: entities, names, designators,
    capitalised words (transliterated) and numbers."""

    title: frozenset[str]
    words: frozenset[str]
    universal: frozenset[str]
    title_universal: frozenset[str]
    entities: frozenset[str]  # entity keys: the rules' evidence and the table's names
    title_entities: frozenset[str]
    numbers: frozenset[str]
    title_numbers: frozenset[str]
    names: frozenset[str]  # the core title's names: named entities, capitalised words
    core_numbers: frozenset[str]  # the core title's numbers
    units: tuple[frozenset[str], ...] = ()  # entity mentions of the core title, in order
    predicate: str = ""  # the first word after the first unit
    language: str = "en"
    lead: bool = True  # whether the item has a lead paragraph (not a headline alone)


def features(match: Match) -> Features:
    item = match.item
    head = headline(item.title)
    language = item.language or "en"
    own = _own_words(item.source)
    title_terms = terms(head, language, _informative(head, language), own)
    lead = bag(item.summary[:LEAD_CHARS], language, own)
    title_ev, lead_ev = _evidence(match)
    # the title's terms in one pass: its bag (numbers as "#" and the value), the names
    # and designators, what crosses languages, the numbers
    texts, title_names, crossing, numbers = [], set(), [], []
    for t in title_terms:
        text, kind = t.text, t.kind
        if kind == "number":
            numbers.append(text)
            text = "#" + text
            crossing.append(text)
        elif kind != "word":
            title_names.add(text)
            crossing.append(text)
        elif t.capital:
            crossing.append(text)
        texts.append(text)
    title_entities = frozenset(_affiliated(title_ev | title_names))
    entities = title_entities | _affiliated(lead_ev | lead.names)
    title_bag = title_entities.union(texts)
    words = title_bag | lead.words | entities
    title_universal = title_entities.union(crossing)
    universal = entities | title_universal | lead.universal
    title_numbers = frozenset(numbers)
    core = _core(head)
    core_terms = [t for t in title_terms if t.end <= core.stop and t.start >= core.start]
    mentions = _mentions(head, match, core)
    spans = [(start, end) for start, end, _ in mentions if _one_name(head[start:end])]
    names = {t.text for t in core_terms if t.kind == "name" or (t.capital
             and not any(a <= t.start < b for a, b in spans))}  # fmt: skip
    names |= {key for _, _, key in mentions}  # "Islamic State" is one name, as "ISIS" is
    core_numbers = frozenset([t.text for t in core_terms if t.kind == "number"])
    units, predicate = _units(head, core_terms, mentions)
    return Features(
        title=title_bag,
        words=frozenset(words),
        universal=frozenset(universal),
        title_universal=frozenset(title_universal),
        entities=frozenset(entities),
        title_entities=title_entities,
        numbers=title_numbers | lead.numbers,
        title_numbers=title_numbers,
        names=frozenset(names - core_numbers),
        core_numbers=core_numbers,
        units=units,
        predicate=predicate,
        language=language.split("-")[0].lower(),
        lead=lead.count >= MIN_LEAD_TERMS,
    )


def _informative(title: str, language: str) -> bool:
    """Whether capitals mark names in this title (not in German, where every noun has one)."""
    return language != "de" and case_informative(title.split())


@lru_cache(maxsize=4096)
def entity_key(term: str) -> str:
    """An entity's key: its table name, else its terms' forms joined (``S-400`` -> ``s400``)."""
    found = terms(term)
    if len(found) == 1:
        return found[0].text
    return NAMES.get(fold(term), " ".join(t.text for t in found) or fold(term))


def _evidence(match: Match) -> tuple[set[str], set[str]]:
    """The entity keys of the evidence in the title, and in the summary."""
    title: set[str] = set()
    lead: set[str] = set()
    for hit in match.hits:
        for e in hit.evidence:
            (title if e.field == "title" else lead).add(entity_key(e.term))
    return title, lead


@lru_cache(maxsize=1024)
def _own_words(source: str) -> frozenset[str]:
    """What no item of ``source`` says of its story: the outlet's own name, the wires'."""
    return frozenset(t.text for t in terms(source)) | WIRES


def _core(head: str) -> slice:
    """The title without a trailing attribution (", ministry says", ": JCS", "— FSMTC")."""
    end = len(head)
    for m in reversed(list(_SEPARATOR.finditer(head))):
        tail = head[m.end() :].split()
        if len(head[: m.start()].split()) < 3:
            break
        if len(tail) <= ATTRIBUTION_WORDS or _SAYS.search(head[m.end() :]):
            end = m.start()
        break
    start = 0
    if (label := _LABEL.match(head[:end])) and len(head[label.end() : end].split()) >= 3:
        start = label.end()  # "Mali: ...", "Operation Sindoor: ..."
    return slice(start, end)


def _one_name(text: str) -> bool:
    """Whether a mention's words are one name, not names of their own: several words
    ("Islamic State") or an abbreviation ("ISIS"); not "Ankara", a rule's weak Turkey."""
    return len(text.split()) > 1 or text.isupper()


def _proper(term: str) -> bool:
    """Whether a rule's canonical term is a name (``Turkey``, ``S-400``), not a topic."""
    return term[:1].isupper() or any(c.isdigit() for c in term)


def _affiliated(keys: set[str]) -> set[str]:
    """``keys`` and the states their institutions stand for (``PLA``: ``china``)."""
    affiliates = _affiliates()
    return keys | {country for key in keys if (country := affiliates.get(key))}


@lru_cache(maxsize=1)
def _affiliates() -> dict[str, str]:
    return {entity_key(name): country for name, country in AFFILIATES.items()}


def _mentions(head: str, match: Match, core: slice) -> list[tuple[int, int, str]]:
    """The rules' named entities (not topics) in the core title: span and key."""
    offset = unicodedata.normalize("NFKC", match.item.title).find(head)
    out = []
    for hit in match.hits:
        for e in hit.evidence:
            start, end = e.start - offset, e.end - offset
            inside = offset >= 0 and core.start <= start and end <= core.stop
            if e.field == "title" and inside and _proper(e.term):
                out.append((start, end, entity_key(e.term)))
    return out


def _units(
    head: str, found: list[Term], named: list[tuple[int, int, str]]
) -> tuple[tuple[frozenset[str], ...], str]:
    """The core title's entity mentions in order, a list as one unit; and the word after
    the first unit."""
    mentions = [(t.start, t.end, t.text) for t in found if t.kind == "name"] + named
    mentions.sort()
    units: list[set[str]] = []
    ends: list[int] = []  # where each unit ends
    for start, end, key in mentions:
        gap = head[ends[-1] : start] if ends else ""
        if units and (start <= ends[-1] or (_LIST_GAP.match(gap) and _joins(gap))):
            units[-1].add(key)  # the same words named twice, or the next item of a list
            ends[-1] = max(ends[-1], end)
        else:
            units.append({key})
            ends.append(end)
    if units and _SPEAKER.match(head[ends[0] :]):
        units, ends = units[1:], ends[1:]  # "Philippines says Chinese coastguard used ..."
    predicate = ""
    if units:
        after = [t for t in found if t.start >= ends[0]][:PREDICATE_WORDS]
        if after and after[0].kind == "word":  # not a name: "Israel as Iran launches"
            acts = [t.text for t in after if t.kind == "word" and acts_on(t.text)]
            predicate = acts[0] if acts else after[0].text
    return tuple(frozenset(u) for u in units), predicate


def _joins(gap: str) -> bool:
    words = gap.replace(",", " ").split()
    return all(connective(fold(w)) or w in "&/;" for w in words)
