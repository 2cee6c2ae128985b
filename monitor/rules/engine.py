"""The compiled matcher: a pure function of (item, rules), no I/O.

Foundation version: each rule compiles to one case-insensitive regex of its
keywords, bounded by non-word characters so "F-35" does not match "F-350".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.model import Evidence, Item, RuleHit
from monitor.rules.load import Rule


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    pattern: re.Pattern[str]
    fields: tuple[str, ...]


class Engine:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._compiled = tuple(_compile(rule) for rule in self.rules)

    def match(self, item: Item) -> tuple[RuleHit, ...]:
        texts = {"title": item.title, "summary": item.summary}
        hits = []
        for compiled in self._compiled:
            evidence = tuple(
                Evidence(compiled.rule.keywords[_which(compiled.rule, m.group(0))], field,
                         m.group(0), m.start(), m.end())
                for field in compiled.fields
                for m in compiled.pattern.finditer(texts[field])
            )  # fmt: skip
            if evidence:
                rule = compiled.rule
                hits.append(RuleHit(rule.name, rule.severity, rule.labels, evidence))
        return tuple(hits)


def _compile(rule: Rule) -> _Compiled:
    alternatives = "|".join(re.escape(k) for k in sorted(rule.keywords, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    fields = ("title", "summary") if rule.fields == "any" else (rule.fields,)
    return _Compiled(rule, pattern, fields)


def _which(rule: Rule, text: str) -> int:
    folded = text.casefold()
    for index, keyword in enumerate(rule.keywords):
        if keyword.casefold() == folded:
            return index
    return 0
