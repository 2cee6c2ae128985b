"""Numbers as the event tier compares them (pure, for :mod:`monitor.dedup.words`): a run
of words read as one value and its unit (``"1500000000usd"``, ``"5%"``, ``"411000"``).

Separators read as thousands or decimals by their digits (``10.000``, ``1,5``);
magnitudes glued or apart (``150k``, ``$1.5bn``, ``1,5 Milliarden``, ``411 тыс.``); number
words (``six``, ``шестеро``, ``fünf`` in German text); ordinals (``2nd``, ``17th``);
percentages (``5 %``, ``5 percent``); a day beside a month (``May 6``, ``6 мая``) is no
number (:func:`dateline_day`).
"""

from __future__ import annotations

import re

from monitor.dedup import variants as v

_AMOUNT = re.compile(r"(us\$|\$|£|€|eur|gbp|dh|rs)?(\d[\d.,]*)([^\W\d_]*)$")
_ORDINAL = frozenset({"th", "st", "nd", "rd", "y", "i", "go", "ya", "e", "er", "eme", "o", "a"})
_NUMERIC = re.compile(r"(?:us\$|\$|£|€|eur|gbp|dh|rs)?\d")
_LOCAL_WORDS = frozenset(w for words in v.LOCAL_NUMBER_WORDS.values() for w in words) | {
    "tysyacha",
    "tysyachu",
}


def may_start(low: str) -> bool:
    """Whether a number may start at a word (folded): a digit, a number word of any language."""
    return bool(_NUMERIC.match(low)) or low in v.NUMBER_WORDS or low in _LOCAL_WORDS


def number(folded: list[str], i: int, local: dict[str, int]) -> tuple[str | None, int]:
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
    elif i + 1 < len(folded) and folded[i + 1].rstrip(".") in v.MAGNITUDES and not suffix:
        value *= v.MAGNITUDES[folded[i + 1].rstrip(".")]
        unit = unit or v.CURRENCIES.get(folded[i + 1], "")  # crore: rupees
        width = 2
    after = folded[i + width] if i + width < len(folded) else ""
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


def dateline_day(folded: list[str], i: int, width: int, starts_sentence: bool) -> bool:
    """Whether the number at ``i`` is a day next to a month (``May 6``, ``6 мая``)."""
    word = folded[i]
    if width > 1 or not word.isdigit() or not 1 <= int(word) <= 31:
        return False
    before = folded[i - 1] if i > 0 and not starts_sentence else ""
    after = folded[i + 1] if i + 1 < len(folded) else ""
    return before in v.MONTHS or after in v.MONTHS
