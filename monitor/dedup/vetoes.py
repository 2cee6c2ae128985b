"""What keeps two items apart however much they share (pure): a swapped name, place,
number or role. Each veto returns its reason (``"place: turkey / india"``) or None.

All of them compare normalised terms (:mod:`monitor.dedup.words`), so a variant is never
a substitution: ``US`` / ``U.S.`` / ``United States``, ``China`` / ``Chinese``, ``six`` /
``6``, ``150k`` / ``150,000``, ``Downing St`` / ``Downing Street`` are one term each.

The title read is its *core*: without a trailing attribution (", ministry says", ": JCS":
who said it is not what happened) and a leading label ("Mali: ...").

* **place / actor / name**: each core title has a name (a named entity of the rules'
  evidence, a country of the table, a word capitalised where case says something) that
  the other item has nowhere, title or lead, and the titles are otherwise alike (their
  shared words weigh at least :data:`NAME_SWAP_SHARE` of the smaller title): "... S-400
  battery to Turkey" / "... to India"; "Erdoğan, Russia's Putin discuss ..." / "Erdoğan,
  Ukraine's Zelensky discuss ...". A rewrite adds names too ("..., says Misri"), hence
  the likeness. Topics (the rules' lower-case terms: sanctions, election) are no names.
* **number**: each core title has a number of one unit (a count, a percentage, an amount
  in one currency) that the other item has nowhere, within :data:`NUMBER_TOLERANCE`
  ("nearly 200" is 189): "273 drones" / "110 drones". Amounts in two currencies never
  clash ($7.4 billion, Rs 63,000 crore).
* **role**: the core titles' first named units differ, each names the other's first, and
  the predicates are one directed act (``variants.one_act``: the same stem, not a mutual
  act such as "sign" or "meet", or one group of ``variants.ACTS``): "Azerbaijan
  accuses Armenia" / "Armenia accuses Azerbaijan", "Israel strikes Iran" / "Iran fires
  missiles at Israel"; not "Russia delivers S-400 to Turkey" / "Turkey takes delivery of
  S-400". A list is one unit, so a reordered list ("Russia, China and Iran" / "Iran,
  China, Russia") is no reversal.
"""

from __future__ import annotations

from collections.abc import Callable, Set

from monitor.dedup.features import Features
from monitor.dedup.variants import COUNTRY_KEYS, one_act

NAME_SWAP_SHARE = 0.5
NUMBER_TOLERANCE = 0.08
Weight = Callable[[str], float]


def veto(a: Features, b: Features, weight: Weight) -> str | None:
    """The first reason ``a`` and ``b`` are two stories, or None."""
    return name(a, b, weight) or number(a, b) or role(a, b)


def name(a: Features, b: Features, weight: Weight) -> str | None:
    only_a, only_b = a.names - b.words, b.names - a.words
    if a.language != b.language:  # words are not names across languages; entities are
        only_a, only_b = only_a & a.entities, only_b & b.entities
    if not (only_a and only_b) or not _kinds(only_a, a) & _kinds(only_b, b):
        return None
    # likeness by words, not by their rarity: a window full of templated headlines
    # ("X takes delivery of S-400 from Y") makes the template's words common and the
    # names rare, and rarity would then wave every swap through
    kind = "place" if only_a & COUNTRY_KEYS and only_b & COUNTRY_KEYS else "name"
    shared = len(a.title & b.title)
    smaller = min(len(a.title), len(b.title))
    if kind != "place" and (not smaller or shared / smaller < NAME_SWAP_SHARE):
        return None  # a rewrite adds names; a country each item lacks is another story
    if only_a & a.title_entities and only_b & b.title_entities and kind == "name":
        kind = "actor"
    return f"{kind}: {_show(only_a)} / {_show(only_b)}"


def _kinds(names: Set[str], f: Features) -> set[str]:
    """What the names are: a country, another entity, a designator, a capitalised word.
    A substitution swaps like for like (Turkey / India, not Asia-Pacific / South Korea)."""
    return {
        "country" if n in COUNTRY_KEYS
        else "designator" if any(c.isdigit() for c in n)
        else "entity" if n in f.entities
        else "word"
        for n in names
    }  # fmt: skip


def number(a: Features, b: Features) -> str | None:
    if not (a.core_numbers and b.core_numbers):
        return None  # a clash needs a number of each core title
    only_a = _missing(a.core_numbers, b.numbers)
    if not only_a:
        return None
    only_b = _missing(b.core_numbers, a.numbers)
    units_a = {_value(n)[1] for n in only_a}
    clash = {n for n in only_b if _value(n)[1] in units_a}
    if clash:
        return f"number: {_show(only_a)} / {_show(clash)}"
    return None


def role(a: Features, b: Features) -> str | None:
    if len(a.units) < 2 or len(b.units) < 2:
        return None
    first_a, first_b = a.units[0], b.units[0]
    if first_a & first_b:
        return None
    later_a = frozenset().union(*a.units[1:])
    later_b = frozenset().union(*b.units[1:])
    if not (first_a & later_b and first_b & later_a):
        return None
    if not one_act(a.predicate, b.predicate):  # "UK seals ... Turkey" / "Türkiye seals ... UK"
        return None  # "China launches drills around Taiwan" / "Taiwan detects ... aircraft"
    return f"role: {_show(first_a)} / {_show(first_b)}"


def _missing(numbers: Set[str], others: Set[str]) -> set[str]:
    """The ``numbers`` that no number of ``others`` comes near (any unit: ``$1.5bn`` is
    ``1,5 Milliarden``; another currency is another number, but not a contradiction)."""
    values = [_value(n)[0] for n in others]
    return {n for n in numbers if not any(_near(_value(n)[0], y) for y in values)}


def _value(text: str) -> tuple[float, str]:
    """A number's value and unit (``""``, ``"%"``, a currency code)."""
    digits = text.rstrip("%abcdefghijklmnopqrstuvwxyz")
    return float(digits), text[len(digits) :]


def _near(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= NUMBER_TOLERANCE * max(abs(a), abs(b))


def _show(terms: Set[str]) -> str:
    return ", ".join(sorted(terms)[:3])
