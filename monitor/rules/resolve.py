"""A rule's query terms resolved: each term's forms (an entity's name and aliases, or
the term as written) and its fuzzy threshold (the term's own, its entity's, the rule's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from monitor.rules.entities import Entity
from monitor.rules.query import And, Form, Not, Query, Term, leaves
from monitor.rules.query import replace_terms as _replace_terms
from monitor.rules.text import tokens

DEFAULT_THRESHOLD = 85.0


def resolve(
    query: Query,
    entities: Mapping[tuple[str, ...], Entity],
    fuzzy: bool = True,
    threshold: float | None = None,
) -> Query:
    """The query with each term's forms and fuzzy threshold filled in.

    ValueError when a term has nothing to match or the query holds without any term."""
    default = DEFAULT_THRESHOLD if threshold is None else threshold
    resolved = []
    for term, _ in leaves(query):
        if not tokens(term.text):
            raise ValueError(f"term {term.text!r} has no letters or digits")
        entity = entities.get(tokens(term.text))
        if entity is None:
            forms: tuple[Form, ...] = (Form(term.text),)
            canonical = term.text
        else:
            forms, canonical = (Form(entity.name), *entity.aliases), entity.name
        limit = _threshold(term, entity, fuzzy, default)
        resolved.append(replace(term, canonical=canonical, forms=forms, threshold=limit))
    if _holds_without_terms(query):
        raise ValueError("query matches items that contain none of its terms")
    return _replace_terms(query, resolved)


def _threshold(term: Term, entity: Entity | None, fuzzy: bool, default: float) -> float | None:
    if term.fuzzy_set:
        limit: float | None = term.threshold or default
    elif entity is not None and entity.fuzzy is False:
        limit = None
    elif entity is not None and entity.fuzzy is not True:
        limit = float(entity.fuzzy) if fuzzy else None
    else:
        limit = default if fuzzy else None
    return None if limit is None or limit >= 100 else limit


def _holds_without_terms(query: Query) -> bool:
    if isinstance(query, Term):
        return False
    if isinstance(query, Not):
        return not _holds_without_terms(query.child)
    results = [_holds_without_terms(c) for c in query.children]
    return all(results) if isinstance(query, And) else any(results)
