"""Rule files (YAML) -> validated rules, with every problem as ``file:line``.

A rule file (a "pack") has two lists, both optional; docs/rules.md is the guide::

    entities:
      - name: F-35                          # canonical name, also matched
        aliases: ["Joint Strike Fighter", "Lightning II"]
        variants: [A, B, C]                 # F-35A, F-35B, F-35C are F-35s
        weak: []                            # aliases that never fire a rule alone
        fuzzy: false                        # or a threshold for this entity's words
    rules:
      - name: f35-turkey
        query: F-35 AND (Turkey OR Erdoğan) AND NOT "Ford F-150"
        fields: any                         # title | summary | any
        exclude: ["video game"]             # no alert when any of these is found
        keywords: [...]                     # instead of query: any of these
        severity: high                      # low | medium | high | critical
        labels: {desk: defence}
        fuzzy: true                         # typos in words of 5+ letters (default)
        threshold: 85                       # rapidfuzz ratio, 50..100
        min_terms: 1                        # distinct terms that must be found

Entities are shared by all packs; entity and rule names are unique across packs.
A query term whose normalised text equals an entity's name stands for the entity.
Label names and values must be strings: YAML 1.1 reads ``urgent: yes`` as true
and ``desk: null`` as no value, so such a label is refused with a hint to quote it.
An unexpected failure while reading a file (a bug, or a file that breaks a
library) is reported as a problem of that file, the exception chained.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from monitor.config import values
from monitor.config import yamlfile as yf
from monitor.errors import ConfigError, Problem
from monitor.model import SEVERITIES
from monitor.rules.query import And, Form, Not, Or, Query, QueryError, Term, leaves, parse
from monitor.rules.query import replace_terms as _replace_terms
from monitor.rules.text import is_designator, tokens

FIELDS = ("title", "summary", "any")
DEFAULT_THRESHOLD = 85.0
_STR = "tag:yaml.org,2002:str"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    aliases: tuple[Form, ...] = ()  # every form but the name, variants included
    fuzzy: bool | float = True  # False: never fuzzy; a number: its threshold
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    """A validated rule; its query's terms are resolved (forms, thresholds)."""

    name: str
    query: Query
    fields: str = "any"
    severity: str = "medium"
    labels: tuple[tuple[str, str], ...] = ()
    min_terms: int = 1
    file: str = ""
    line: int = 0


def rule_files(patterns: Iterable[str]) -> list[str]:
    """The files the globs name, sorted, each once."""
    found: dict[str, None] = {}
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            found[str(Path(path))] = None
    return list(found)


def load_rules(paths: Iterable[str]) -> tuple[Rule, ...]:
    """All rules of all files; ConfigError with every problem of every file."""
    problems: list[Problem] = []
    failures: list[Exception] = []
    entities: dict[tuple[str, ...], Entity] = {}
    specs: list[tuple[yf.YamlFile, yaml.Node]] = []
    for path in paths:
        f = yf.YamlFile(path, env={}, problems=problems)
        try:
            specs.extend(_read_pack(f, entities))
        except Exception as exc:
            failures.append(_unexpected(f, 0, exc))
    rules: list[Rule] = []
    first: dict[str, Rule] = {}
    for f, node in specs:
        try:
            rule = _rule(f, node, entities)
        except Exception as exc:
            failures.append(_unexpected(f, yf.line(node), exc))
            continue
        if rule is None:
            continue
        if (other := first.get(rule.name)) is not None:
            where = f"{other.file}:{other.line}"
            f.problem(rule.line, f"rule name {rule.name!r} already used at {where}")
            continue
        first[rule.name] = rule
        rules.append(rule)
    if problems:
        error = ConfigError(sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line)))
        if failures:
            raise error from failures[0]  # the traceback of the first: a bug stays visible
        raise error
    return tuple(rules)


def _read_pack(
    f: yf.YamlFile, entities: dict[tuple[str, ...], Entity]
) -> list[tuple[yf.YamlFile, yaml.Node]]:
    """Add the file's entities; returns its rule nodes (checked once all entities are known)."""
    root = f.compose("rule file")
    if root is None:
        return []
    top = f.known(root, "rule file", ("entities", "rules"), label="")
    for entry in _entries(f, top.get("entities"), "entities"):
        _add_entity(f, entry, entities)
    return [(f, entry) for entry in _entries(f, top.get("rules"), "rules")]


def _unexpected(f: yf.YamlFile, line: int, exc: Exception) -> Exception:
    """Report an exception nothing expected as a problem of the file; returns it."""
    if isinstance(exc, RecursionError):
        f.problem(line, "nested too deeply to read (RecursionError)")
    else:
        f.problem(line, f"internal error, please report it: {type(exc).__name__}: {exc}")
    log.error("rule_file_failed file=%s line=%d error=%s", f.file, line, type(exc).__name__,
              exc_info=not isinstance(exc, RecursionError))  # fmt: skip
    return exc


def _entries(
    f: yf.YamlFile, found: tuple[yaml.Node, yaml.Node] | None, what: str
) -> list[yaml.Node]:
    if found is None or yf.is_null(found[1]):
        return []
    if not isinstance(found[1], yaml.SequenceNode):
        f.problem(yf.line(found[1]), f"'{what}' must be a list, got a {yf.kind(found[1])}")
        return []
    return list(found[1].value)


def _fuzzy_setting(value: Any) -> bool | float:
    if isinstance(values.plain(value), bool) or str(values.plain(value)).lower() in ("on", "off"):
        return values.boolean(value)
    result: float = values.real(50, 100)(value)
    return result


_ENTITY: dict[str, values.Conv] = {
    "name": values.string,
    "aliases": values.strings,
    "weak": values.strings,
}
_ENTITY |= {"variants": values.strings, "fuzzy": _fuzzy_setting}


def _add_entity(f: yf.YamlFile, node: yaml.Node, entities: dict[tuple[str, ...], Entity]) -> None:
    data = f.fields(node, "entity", _ENTITY)
    if "name" not in data:
        if isinstance(node, yaml.MappingNode):
            f.problem(yf.line(node), "entity needs a 'name'")
        return
    name = data["name"].strip()
    strong = [name, *data.get("aliases", ())]
    forms = [Form(a) for a in strong[1:]] + [Form(w, weak=True) for w in data.get("weak", ())]
    for variant in data.get("variants", ()):
        forms += [Form(f"{t}{variant}") for t in strong if _ends_in_number(t)]
    for form in (Form(name), *forms):
        if not tokens(form.text):
            f.problem(yf.line(node), f"entity {name!r}: {form.text!r} has no letters or digits")
            return
    key = tokens(name)
    if (other := entities.get(key)) is not None:
        f.problem(yf.line(node), f"entity {name!r} already defined at {other.file}:{other.line}")
        return
    entities[key] = Entity(name, tuple(forms), data.get("fuzzy", True), f.file, yf.line(node))


def _ends_in_number(text: str) -> bool:
    words = tokens(text)
    return bool(words) and is_designator(words[-1])


def _labels(f: yf.YamlFile, node: yaml.Node, label: str) -> tuple[tuple[str, str], ...]:
    """A rule's labels from their node: string names to string values, each
    other value reported at its own line with how YAML read it."""
    if not isinstance(node, yaml.MappingNode):
        f.problem(yf.line(node), f"{label}: labels: expected a mapping of label names to "
                                f"values, got a {yf.kind(node)}")  # fmt: skip
        return ()
    out: dict[str, str] = {}
    for knode, vnode in node.value:
        if not _is_text(knode):
            f.problem(yf.line(knode), f"{label}: label name {_reading(knode)}; quote it")
        elif knode.value in out:
            f.problem(yf.line(knode), f"{label}: label {knode.value!r} given twice")
        elif not isinstance(vnode, yaml.ScalarNode):
            f.problem(yf.line(vnode), f"{label}: label {knode.value!r}: expected a text value, "
                                     f"got a {yf.kind(vnode)}")  # fmt: skip
        elif not vnode.value and not _is_text(vnode):
            f.problem(yf.line(vnode), f"{label}: label {knode.value!r} has no value; "
                                     f"write {knode.value}: \"...\"")  # fmt: skip
        elif not _is_text(vnode):
            f.problem(yf.line(vnode), f"{label}: label {knode.value!r}: value {_reading(vnode)}; "
                                     f"quote it: {knode.value}: \"{vnode.value}\"")  # fmt: skip
        elif (value := f.expand(vnode.value, yf.line(vnode))) is not values.MISSING:
            out[knode.value] = str(values.plain(value))
    return tuple(sorted(out.items()))


def _is_text(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _STR


def _reading(node: yaml.Node) -> str:
    """How YAML reads a node that is not a string, for a message."""
    if not isinstance(node, yaml.ScalarNode):
        return f"is a {yf.kind(node)}, not text"
    try:
        value = yaml.constructor.SafeConstructor().construct_object(node)
    except yaml.YAMLError:
        return f"{node.value!r} is not text"
    if isinstance(value, bool):
        shown = "true" if value else "false"
    else:
        shown = "null (no value)" if value is None else f"the {type(value).__name__} {value!r}"
    return f"{node.value!r} is read as {shown}, not as text"


_RULE: dict[str, values.Conv] = {
    "name": values.string, "query": values.string, "keywords": values.strings,
    "exclude": values.strings,
    "fields": values.choice(*FIELDS), "severity": values.choice(*SEVERITIES),
    "labels": values.string,  # never converted: _rule reads labels from their node (_labels)
    "fuzzy": values.boolean, "threshold": values.real(50, 100), "min_terms": values.integer(1, 50),
}  # fmt: skip


def _split(node: yaml.Node, key: str) -> tuple[yaml.Node, list[yaml.Node]]:
    """The mapping without its ``key`` entries, and their value nodes."""
    if not isinstance(node, yaml.MappingNode):
        return node, []
    rest = [(k, v) for k, v in node.value if not (_is_text(k) and k.value == key)]
    found = [v for k, v in node.value if _is_text(k) and k.value == key]
    return yaml.MappingNode(node.tag, rest, node.start_mark, node.end_mark, node.flow_style), found


def _rule(
    f: yf.YamlFile, node: yaml.Node, entities: Mapping[tuple[str, ...], Entity]
) -> Rule | None:
    before = len(f.problems)
    node, label_nodes = _split(node, "labels")
    data = f.fields(node, "rule", _RULE)
    if "name" not in data and isinstance(node, yaml.MappingNode):
        f.problem(yf.line(node), "rule needs a non-empty 'name'")
    label = f"rule {data.get('name', '?')!r}"
    for extra in label_nodes[1:]:
        f.problem(yf.line(extra), f"{label}: duplicate key 'labels'")
    labels = _labels(f, label_nodes[0], label) if label_nodes else ()
    if ("query" in data) == ("keywords" in data) and isinstance(node, yaml.MappingNode):
        f.problem(yf.line(node), f"{label}: needs either 'query' or 'keywords'")
    if len(f.problems) > before or not isinstance(node, yaml.MappingNode):
        return None
    query_node = next(v for k, v in node.value if k.value in ("query", "keywords"))
    try:
        query = _query(data)
        query = resolve(query, entities, data.get("fuzzy", True), data.get("threshold"))
    except QueryError as exc:
        f.problem(yf.line(query_node), f"{label}: query {exc}")
        return None
    except ValueError as exc:
        f.problem(yf.line(query_node), f"{label}: {exc}")
        return None
    return Rule(
        name=data["name"].strip(), query=query, fields=data.get("fields", "any"),
        severity=data.get("severity", "medium"), labels=labels,
        min_terms=data.get("min_terms", 1), file=f.file, line=yf.line(node),
    )  # fmt: skip


def _query(data: Mapping[str, Any]) -> Query:
    if "query" in data:
        query = parse(data["query"])
    else:
        terms = tuple(Term(k.strip(), i + 1) for i, k in enumerate(data["keywords"]))
        query = terms[0] if len(terms) == 1 else Or(terms)
    if excluded := data.get("exclude"):
        query = And((query, Not(Or(tuple(Term(e.strip()) for e in excluded)))))
    return query


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
