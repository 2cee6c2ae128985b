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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.config import values
from monitor.config import yamlfile as yf
from monitor.config.compose import gc_paused
from monitor.errors import ConfigError, Problem
from monitor.model import SEVERITIES
from monitor.rules.entities import Entity as Entity
from monitor.rules.entities import add_entity
from monitor.rules.labels import is_text
from monitor.rules.labels import labels as read_labels
from monitor.rules.nearmiss import NearMisses
from monitor.rules.query import And, Not, Or, Query, QueryError, Term, leaves, parse
from monitor.rules.resolve import resolve
from monitor.rules.text import tokens

FIELDS = ("title", "summary", "any")
SPLIT_ADVICE = "split it into several rule files (entities are shared by all of them)"

log = logging.getLogger(__name__)


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


def load_rules(paths: Iterable[str], warnings: list[Problem] | None = None) -> tuple[Rule, ...]:
    """All rules of all files; ConfigError with every problem of every file.

    Near misses (:mod:`~monitor.rules.nearmiss`: a term one edit from an entity, a
    field-scope typo) are warnings, ``file:line: warning: ...``: appended to
    ``warnings`` when given, else logged once each (``rule_warning problem=...``)."""
    load = _Load()
    with gc_paused():  # millions of long-lived objects: see monitor.config.compose
        rules = load.run(paths)
    if warnings is not None:
        warnings.extend(load.warnings)
    else:
        for warning in load.warnings:
            log.warning("rule_warning problem=%s", warning)
    if load.problems:
        error = ConfigError(_sorted(load.problems))
        if load.failures:
            raise error from load.failures[0]  # the traceback of the first: a bug stays visible
        raise error
    return tuple(rules)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line))


class _Load:
    """One load of a set of rule files: every problem, warning and unexpected failure."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.failures: list[Exception] = []
        self.entities: dict[tuple[str, ...], Entity] = {}

    def run(self, paths: Iterable[str]) -> list[Rule]:
        specs: list[tuple[yf.YamlFile, yaml.Node]] = []
        for path in paths:
            f = yf.YamlFile(path, env={}, problems=self.problems)
            try:
                specs.extend(_read_pack(f, self.entities))
            except Exception as exc:
                self.failures.append(_unexpected(f, 0, exc))
        near = NearMisses(
            ((key, e.name) for key, e in self.entities.items()),
            (tokens(form.text) for e in self.entities.values() for form in e.aliases),
        )
        rules: list[Rule] = []
        first: dict[str, Rule] = {}
        for f, node in specs:
            try:
                rule = _rule(f, node, self.entities)
            except Exception as exc:
                self.failures.append(_unexpected(f, yf.line(node), exc))
                continue
            if rule is None:
                continue
            if (other := first.get(rule.name)) is not None:
                where = f"{other.file}:{other.line}"
                f.problem(rule.line, f"rule name {rule.name!r} already used at {where}")
                continue
            first[rule.name] = rule
            rules.append(rule)
            self.warn(f, node, rule, near)
        self.warnings = _sorted(self.warnings)
        return rules

    def warn(self, f: yf.YamlFile, node: yaml.Node, rule: Rule, near: NearMisses) -> None:
        """A warning for each term of the rule that looks like a near miss, at the
        line of its query (or keywords, or exclude)."""
        lines = {k.value: yf.line(v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        for term, _ in leaves(rule.query):
            if (message := near.check(term)) is None:
                continue
            where = "query" if "query" in lines else "keywords"
            key = "exclude" if term.column == 0 else where  # exclude's terms have no column
            at = lines.get(key, rule.line)
            self.warnings.append(Problem(f.file, at, f"warning: rule {rule.name!r}: {message}"))


def _read_pack(
    f: yf.YamlFile, entities: dict[tuple[str, ...], Entity]
) -> list[tuple[yf.YamlFile, yaml.Node]]:
    """Add the file's entities; returns its rule nodes (checked once all entities are known)."""
    root = f.compose("rule file", advice=SPLIT_ADVICE)
    if root is None:
        return []
    top = f.known(root, "rule file", ("entities", "rules"), label="")
    for entry in _entries(f, top.get("entities"), "entities"):
        add_entity(f, entry, entities)
    return [(f, entry) for entry in _entries(f, top.get("rules"), "rules")]


def _unexpected(f: yf.YamlFile, line: int, exc: Exception) -> Exception:
    """Report an exception nothing expected as a problem of the file; returns it."""
    if isinstance(exc, RecursionError):
        f.problem(line, yf.NESTED_TOO_DEEPLY)
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


_RULE: dict[str, values.Conv] = {
    "name": values.string, "query": values.string, "keywords": values.strings,
    "exclude": values.strings,
    "fields": values.choice(*FIELDS), "severity": values.choice(*SEVERITIES),
    "labels": values.string,  # never converted: _rule reads labels from their node
    "fuzzy": values.boolean, "threshold": values.real(50, 100), "min_terms": values.integer(1, 50),
}  # fmt: skip


def _split(node: yaml.Node, key: str) -> tuple[yaml.Node, list[yaml.Node]]:
    """The mapping without its ``key`` entries, and their value nodes."""
    if not isinstance(node, yaml.MappingNode):
        return node, []
    rest = [(k, v) for k, v in node.value if not (is_text(k) and k.value == key)]
    found = [v for k, v in node.value if is_text(k) and k.value == key]
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
    labels = read_labels(f, label_nodes[0], label) if label_nodes else ()
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
