"""Why each rule matched an item, or did not (``newsmon explain``, the API, the UI).

For every rule, one :class:`Verdict`: matched (with its evidence), or the reason it
did not: no term found; the query needs more (the terms found, those missing); a
NOT term found; only weak aliases found (they support a rule, never fire it);
fewer distinct terms than its ``min_terms``.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.model import Item, RuleHit
from monitor.rules.engine import Engine, _Compiled, _Hit, _holds, _judge


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str
    matched: bool
    reason: str
    found: tuple[str, ...] = ()  # the rule's terms found in the item (NOT terms too)
    hit: RuleHit | None = None


def explain(engine: Engine, item: Item) -> tuple[Verdict, ...]:
    """One verdict per rule, in rule order."""
    found, scanned = engine.scan(item)
    out = []
    for r, rule in enumerate(engine.rules):
        compiled = engine.compiled(r)
        hits = found.get(r, [])
        terms = tuple(dict.fromkeys(compiled.leaves[h.leaf].canonical for h in hits))
        hit = _judge(compiled, hits, scanned) if hits else None
        if hit is not None:
            out.append(Verdict(rule.name, True, "matched", terms, hit))
        else:
            out.append(Verdict(rule.name, False, _why_not(compiled, hits), terms))
    return tuple(out)


def _why_not(compiled: _Compiled, hits: list[_Hit]) -> str:
    leaves = compiled.leaves
    if not hits:
        return "no term of the rule found"
    present = {h.leaf for h in hits}
    negated = sorted({leaves[i].canonical for i in present if not leaves[i].positive})
    if not _holds(compiled.tree, present):
        if negated and _holds(compiled.tree, {i for i in present if leaves[i].positive}):
            return "excluded: " + ", ".join(repr(t) for t in negated) + " found"
        have = sorted({leaves[i].canonical for i in present if leaves[i].positive})
        missing = sorted({leaf.canonical for i, leaf in enumerate(leaves)
                          if leaf.positive and i not in present})  # fmt: skip
        return (f"the query needs more: found {', '.join(have) or 'none of its terms'};"
                f" not found {', '.join(missing)}")  # fmt: skip
    positive = [h for h in hits if leaves[h.leaf].positive]
    if all(h.weak for h in positive):
        weak = sorted({leaves[h.leaf].canonical for h in positive})
        return f"only weak aliases found ({', '.join(weak)}): they never fire a rule alone"
    distinct = {leaves[h.leaf].canonical for h in positive}
    return f"{len(distinct)} distinct term(s) found, min_terms is {compiled.rule.min_terms}"
