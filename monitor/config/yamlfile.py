"""Schema-independent YAML checking: walk composed nodes so every problem has a line.

A :class:`YamlFile` reads one file, composes it (nodes keep their line numbers),
expands ``${ENV_VAR}`` / ``${ENV_VAR:-default}`` into a :class:`Secret`, and
collects every :class:`~monitor.errors.Problem` instead of stopping at the first.
The converters of :mod:`monitor.config.values` turn a plain value into a setting::

    f = YamlFile(path, problems=shared)          # several files may share one list
    if (root := f.compose("rule file")) is not None:
        rule = f.fields(root, "rule", {"name": v.string, "severity": v.choice("low", "high")})

Which keys and sections exist is up to the caller; see ``monitor.config.load``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from monitor.config.compose import MAX_FILE_BYTES, compose, gc_paused
from monitor.config.secrets import Secret
from monitor.config.values import MISSING, Conv, Invalid, hint
from monitor.config.yamlerrors import explain
from monitor.errors import ConfigError, Problem

_NULL = "tag:yaml.org,2002:null"
NESTED_TOO_DEEPLY = "nested too deeply to read (RecursionError)"
_ENV_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.S)


def line(node: yaml.Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL


def kind(node: yaml.Node) -> str:
    """``mapping``, ``list`` or ``single value``, for messages."""
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    return "list" if isinstance(node, yaml.SequenceNode) else "single value"


class YamlFile:
    """One YAML file being checked; every problem goes to :attr:`problems`."""

    def __init__(
        self,
        file: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        self.file = os.fspath(file)
        self.env = os.environ if env is None else env
        self.base = Path(os.path.abspath(self.file)).parent  # relative paths start here
        self.problems: list[Problem] = [] if problems is None else problems
        self._build = yaml.constructor.SafeConstructor()

    def problem(self, line: int, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, line, message))

    def raise_problems(self) -> None:
        """Raise ConfigError with every problem (each once, this file's first), if any."""
        if self.problems:
            unique = dict.fromkeys(self.problems)  # an aliased node reports once
            first = self.file
            raise ConfigError(sorted(unique, key=lambda p: (p.file != first, p.file, p.line)))

    def compose(
        self, what: str = "file", *, max_bytes: int = MAX_FILE_BYTES, advice: str = ""
    ) -> yaml.Node | None:
        """The root node; None when the file is empty, or unusable (reported): not
        readable, over ``max_bytes`` (``advice`` says what to do then), not UTF-8,
        not YAML, or its aliases expand past the budget (:mod:`~monitor.config.compose`)."""
        text = self.read(what, max_bytes, advice)
        if text is None:
            return None
        try:
            with gc_paused():
                root = compose(text)
        except yaml.YAMLError as exc:
            self.yaml_problem(exc, text)
            return None
        except RecursionError:
            self.problem(0, NESTED_TOO_DEEPLY)
            return None
        return None if root is None or is_null(root) else root

    def read(self, what: str, max_bytes: int, advice: str = "") -> str | None:
        """The file's text, or None (reported) when it cannot be read, is over
        ``max_bytes`` (never more is read, whatever the file claims) or is not UTF-8."""
        try:
            with open(self.file, "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as exc:
            self.problem(0, f"cannot read {what}: {exc.strerror or exc}")
            return None
        if len(data) > max_bytes:
            self.problem(0, f"{what} is over {max_bytes / 2**20:g} MiB, the limit for one file"
                            f"{'; ' + advice if advice else ''}")  # fmt: skip
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            at = data.count(b"\n", 0, exc.start) + 1
            self.problem(at, f"cannot read {what}: not UTF-8 text ({exc.reason})")
            return None

    def yaml_problem(self, exc: yaml.YAMLError, text: str = "") -> None:
        """A syntax error as a problem at its line, in plain words (see yamlerrors)."""
        at, message = explain(exc, text)
        self.problem(at, f"invalid YAML: {message}")

    def pairs(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """A mapping's (key, key node, value node), reporting non-mappings and repeats."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(line(node), f"{what}: expected a mapping, got a {kind(node)}")
            return []
        out, first = [], dict[str, int]()
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else None
            if knode.tag == "tag:yaml.org,2002:merge":
                self.problem(line(knode), f"{what}: merge keys (<<) are not supported")
            elif not isinstance(key, str) or knode.tag != "tag:yaml.org,2002:str":
                self.problem(line(knode), f"{what}: keys must be strings")
            elif key in first:
                self.problem(line(knode), f"duplicate key {key!r} (first at line {first[key]})")
            else:
                first[key] = line(knode)
                out.append((key, knode, vnode))
        return out

    def known(
        self, node: yaml.Node, what: str, allowed: Iterable[str], *, label: str | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """:meth:`pairs` of the allowed keys; each other key is reported with a hint,
        as ``{label}: unknown key 'x'`` (``label`` defaults to ``what``; "" for none)."""
        allowed = set(allowed)
        label = what if label is None else label
        prefix = f"{label}: " if label else ""
        out = {}
        for key, knode, vnode in self.pairs(node, what):
            if key in allowed:
                out[key] = (knode, vnode)
            else:
                self.problem(line(knode), f"{prefix}unknown key {key!r}{hint(key, allowed)}")
        return out

    def fields(self, node: yaml.Node, what: str, convs: Mapping[str, Conv]) -> dict[str, Any]:
        """The mapping's keys converted by ``convs``; unknown keys and bad values are
        reported (``{what}.{key}: ...``) and left out."""
        out = {}
        for key, (_, vnode) in self.known(node, what, convs).items():
            if (value := self.convert(vnode, convs[key], f"{what}.{key}")) is not MISSING:
                out[key] = value
        return out

    def value(self, node: yaml.Node) -> Any:
        """Plain data; strings with ``${...}`` become Secret; MISSING if reported."""
        if isinstance(node, yaml.MappingNode):
            return {k: self.value(v) for k, _, v in self.pairs(node, "value")}
        if isinstance(node, yaml.SequenceNode):
            return [self.value(v) for v in node.value]
        try:
            value = self._build.construct_object(node)
            self._build.constructed_objects.pop(node, None)  # a cache that would keep every node
        except yaml.YAMLError as exc:
            self.problem(line(node), f"{getattr(exc, 'problem', None) or exc}")
            return MISSING
        return self.expand(value, line(node)) if isinstance(value, str) else value

    def expand(self, text: str, at: int) -> Any:
        """``text`` with ``${NAME}`` / ``${NAME:-default}`` expanded, as a Secret."""
        if "${" not in text:
            return text
        missing = False

        def sub(m: re.Match[str]) -> str:
            nonlocal missing
            ref = _ENV_NAME.fullmatch(m[1])
            if ref is None:
                self.problem(at, "bad environment reference: expected ${NAME} or ${NAME:-default}")
                missing = True
                return ""
            value = self.env.get(ref[1])
            if not value and ref[2] is not None:
                return ref[2]
            if value is None:
                self.problem(at, f"environment variable {ref[1]} is not set")
                missing = True
                return ""
            return value

        expanded = _ENV_REF.sub(sub, text)
        return MISSING if missing else Secret(expanded)

    def convert(self, node: yaml.Node, conv: Conv, what: str) -> Any:
        """``conv`` of the node's value; MISSING (and a problem ``{what}: ...``) if bad."""
        value = self.value(node)
        if value is MISSING:
            return MISSING
        try:
            return conv(value)
        except Invalid as exc:
            self.problem(line(node), f"{what}: {exc}")
            return MISSING
