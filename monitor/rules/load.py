"""Rule files (YAML) -> validated rules, with every problem as ``file:line``.

The foundation's rule language is deliberately small: a rule names keywords
(any of which must appear as whole words, case-insensitively) and the fields
to look in, with a severity and labels for routing::

    rules:
      - name: s400
        keywords: ["S-400", "S400", "Triumf"]
        fields: any            # title | summary | any
        severity: high         # low | medium | high | critical
        labels: {desk: defence}
"""

from __future__ import annotations

import difflib
import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError, Problem
from monitor.model import SEVERITIES

FIELDS = ("title", "summary", "any")
_RULE_KEYS = ("name", "keywords", "fields", "severity", "labels")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    keywords: tuple[str, ...]
    fields: str = "any"
    severity: str = "medium"
    labels: tuple[tuple[str, str], ...] = ()
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
    rules: list[Rule] = []
    problems: list[Problem] = []
    for path in paths:
        rules.extend(_load_file(path, problems))
    first: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in first:
            other = first[rule.name]
            problems.append(
                Problem(rule.file, rule.line,
                        f"rule name {rule.name!r} already used at {other.file}:{other.line}")
            )  # fmt: skip
        first.setdefault(rule.name, rule)
    if problems:
        raise ConfigError(problems)
    return tuple(rules)


def _load_file(path: str, problems: list[Problem]) -> list[Rule]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except OSError as exc:
        problems.append(Problem(path, 0, f"cannot read rule file: {exc.strerror or exc}"))
        return []
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        problems.append(Problem(path, line, f"YAML syntax: {exc.problem or exc}"))
        return []
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode) or _get(root, "rules") is None:
        problems.append(Problem(path, _line(root), "expected a mapping with a 'rules' list"))
        return []
    node = _get(root, "rules")
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(path, _line(node or root), "'rules' must be a list"))
        return []
    rules = []
    for entry in node.value:
        rule = _rule(path, entry, problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(path: str, node: yaml.Node, problems: list[Problem]) -> Rule | None:
    def bad(at: yaml.Node, message: str) -> None:
        problems.append(Problem(path, _line(at), message))

    if not isinstance(node, yaml.MappingNode):
        bad(node, "a rule must be a mapping with name and keywords")
        return None
    before = len(problems)
    for key, _ in node.value:
        if key.value not in _RULE_KEYS:
            hint = difflib.get_close_matches(key.value, _RULE_KEYS, n=1)
            bad(
                key,
                f"unknown key {key.value!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""),
            )
    data: dict[str, Any] = yaml.safe_load(yaml.serialize(node)) or {}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        bad(node, "rule needs a non-empty 'name'")
    keywords = data.get("keywords")
    if (
        not isinstance(keywords, list)
        or not keywords
        or not all(isinstance(k, str) and k.strip() for k in keywords)
    ):
        bad(_get(node, "keywords") or node, "'keywords' must be a non-empty list of strings")
    fields = data.get("fields", "any")
    if fields not in FIELDS:
        bad(_get(node, "fields") or node, f"'fields' must be one of {', '.join(FIELDS)}")
    severity = data.get("severity", "medium")
    if severity not in SEVERITIES:
        bad(_get(node, "severity") or node, f"'severity' must be one of {', '.join(SEVERITIES)}")
    labels = data.get("labels", {})
    if not isinstance(labels, dict):
        bad(_get(node, "labels") or node, "'labels' must be a mapping")
    if len(problems) > before:
        return None
    return Rule(
        name=str(name).strip(),
        keywords=tuple(str(k).strip() for k in keywords or ()),
        fields=str(fields),
        severity=str(severity),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        file=path,
        line=_line(node),
    )


def _get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
