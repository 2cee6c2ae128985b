"""Rules for the web: the live rules with their match counts, and the test box (an
analyst's pasted headline and text, and what each rule makes of it and why:
:mod:`monitor.rules.explain`, the engine ``newsmon explain`` uses). Nothing is stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor.model import Item
from monitor.rules.explain import Verdict, explain
from monitor.rules.load import Rule
from monitor.rules.query import And, Not, Or, Query, Term
from monitor.web.desk import Desk, Problem
from monitor.web.stories import hit

MAX_TITLE = 2000  # characters
MAX_TEXT = 64 * 1024


def rule_list(desk: Desk) -> dict[str, Any]:
    ids = desk.store.story_ids_since(desk.clock() - desk.book.window)
    stories = Counter(r for sid in ids if (s := desk.book.get(sid)) for r in s.rules)
    rules = [rule(r, _matches(desk, r.name), stories[r.name]) for r in desk.engine().rules]
    return {"rules": rules, "count": len(rules)}


def _matches(desk: Desk, name: str) -> int | None:
    if desk.registry is None:
        return None
    value = desk.registry.get_sample_value("newsmon_matches_total", {"rule": name})
    return None if value is None else int(value)


def rule(r: Rule, matches: int | None, stories: int) -> dict[str, Any]:
    return {
        "name": r.name, "severity": r.severity, "labels": dict(r.labels),
        "query": query_text(r.query), "fields": r.fields, "min_terms": r.min_terms,
        "file": f"{Path(r.file).name}:{r.line}" if r.file else None,
        "matches": matches, "stories": stories,
    }  # fmt: skip


def query_text(q: Query) -> str:
    """A rule's query as it could be written again."""
    if isinstance(q, Term):
        text = f'"{q.text}"' if any(c in q.text for c in ' ()"~') else q.text
        fuzzy = "" if not q.fuzzy_set else "~" if q.threshold is None else f"~{q.threshold:g}"
        return (f"{q.field}:" if q.field else "") + text + fuzzy
    if isinstance(q, Not):
        return "NOT " + _grouped(q.child)
    op = " AND " if isinstance(q, And) else " OR "
    return op.join(_grouped(c) for c in q.children)


def _grouped(q: Query) -> str:
    return f"({query_text(q)})" if isinstance(q, And | Or) else query_text(q)


def test(desk: Desk, body: Mapping[str, Any]) -> dict[str, Any]:
    """What each rule makes of a pasted ``title`` and ``text``, in rule order."""
    title, text = body.get("title"), body.get("text", "")
    if not isinstance(title, str) or not title.strip():
        raise Problem(400, "title: paste a headline", "title")
    if not isinstance(text, str):
        raise Problem(400, "text: expected a string", "text")
    if len(title) > MAX_TITLE or len(text) > MAX_TEXT:
        raise Problem(400, f"at most {MAX_TITLE} characters of title and {MAX_TEXT} of text")
    item = Item(id="pasted", feed_url="", feed="pasted", source="pasted", title=title,
                summary=text)  # fmt: skip
    verdicts = explain(desk.engine(), item)
    return {
        "title": title,
        "text": text,
        "matched": [v.rule for v in verdicts if v.matched],
        "rules": [verdict(v) for v in verdicts],
    }


def verdict(v: Verdict) -> dict[str, Any]:
    return {"rule": v.rule, "matched": v.matched, "reason": v.reason, "found": list(v.found),
            "hit": hit(v.hit) if v.hit else None}  # fmt: skip
