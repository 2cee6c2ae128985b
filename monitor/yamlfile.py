"""Schema-independent YAML checking: walk composed nodes so every problem has a line.

A :class:`YamlFile` reads one file, composes it (nodes keep their line numbers),
expands ``${ENV_VAR}`` / ``${ENV_VAR:-default}`` into a :class:`Secret`, and
collects every :class:`~monitor.errors.Problem` instead of stopping at the first.
Converters (:func:`duration`, :func:`size`, :func:`integer`, :func:`real`,
:func:`string`, :func:`boolean`, :func:`choice`, :func:`strings`) turn a plain
value into a setting or raise :class:`Invalid` with what was expected::

    f = YamlFile(path, problems=shared)          # several files may share one list
    if (root := f.compose("rule file")) is not None:
        rule = f.fields(root, "rule", {"name": string, "severity": choice("low", "high")})

Which keys and sections exist is up to the caller; see ``monitor.config``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from monitor.errors import ConfigError, Problem

__all__ = [
    "MISSING",
    "Conv",
    "Invalid",
    "Secret",
    "YamlFile",
    "boolean",
    "choice",
    "duration",
    "hint",
    "integer",
    "is_null",
    "kind",
    "line",
    "plain",
    "real",
    "redact_urls",
    "reveal",
    "seconds",
    "secret_string",
    "show",
    "shown_url",
    "size",
    "string",
    "strings",
]


class Secret:
    """A value that came from ``${ENV}``: usable through :meth:`reveal`, never printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def reveal(value: str | Secret) -> str:
    """The plain value of a setting that may be a secret."""
    return value.reveal() if isinstance(value, Secret) else value


# --- URLs as shown: never their credentials ------------------------------------------

_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
HIDDEN = "***"


def shown_url(url: str) -> str:
    """``url`` with its userinfo (``user:password@``) replaced by ``***@``: how a
    URL is shown (and, for a feed, named) wherever people or other systems see it."""
    head, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    if "@" not in authority:
        return url
    return f"{head}://{HIDDEN}@{authority.rpartition('@')[2]}{rest[end:]}"


def redact_urls(text: str, *, paths: bool = True) -> str:
    """``text`` with every URL in it cut to what may be logged: no userinfo, no
    query, no fragment (and no path either when ``paths`` is False)."""
    return _URL_IN_TEXT.sub(lambda m: _redacted(m.group(), paths), text)


def _redacted(url: str, paths: bool) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"<url {HIDDEN}>"
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{HIDDEN}@{host}" if "@" in parts.netloc else host
    path = parts.path if paths else ("/" + HIDDEN if parts.path.strip("/") else parts.path)
    return urlunsplit((parts.scheme, netloc, path, HIDDEN if parts.query else "", ""))


# --- values --------------------------------------------------------------------------

Conv = Callable[[Any], Any]
MISSING: Any = object()  # a value already reported as a problem
_NULL = "tag:yaml.org,2002:null"
_ENV_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.S)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_BYTES = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_BYTES |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}


class Invalid(Exception):
    """A value is unusable; the message says what was expected and what was given."""


def show(value: Any) -> str:
    """A value for an error message: short, and never a secret."""
    if isinstance(value, Secret):
        return "a value from ${...} (hidden)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def plain(value: Any) -> Any:
    """The value with a :class:`Secret` revealed."""
    return value.reveal() if isinstance(value, Secret) else value


def hint(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)``, else `` (expected one of: ...)``; "" if nothing is known."""
    known = sorted(known)
    if not known:
        return ""
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(known)})"


def seconds(value: float) -> str:
    """A duration for a message: ``90s``."""
    return f"{value:g}s"


def duration(value: Any) -> float:
    """Positive seconds from ``30``, ``0.5``, ``'90s'``, ``'5m'``, ``'1h30m'``, ``'2d'``."""
    v = plain(value)
    secs: float | None = None
    if isinstance(v, int | float) and not isinstance(v, bool):
        secs = float(v)
    elif isinstance(v, str) and _DURATION.fullmatch(text := v.replace(" ", "")):
        secs = sum(float(n) * _SECONDS[u] for n, u in _DURATION_PART.findall(text))
    if secs is None:
        raise Invalid(f"expected a duration such as 30, '90s', '5m' or '1h30m', got {show(value)}")
    if not (math.isfinite(secs) and secs > 0):
        raise Invalid(f"expected a positive duration, got {show(value)}")
    return secs


def size(value: Any) -> int:
    """Positive bytes from ``65536``, ``'64KiB'``, ``'10MiB'``, ``'1MB'``."""
    v = plain(value)
    n: int | None = None
    if isinstance(v, int) and not isinstance(v, bool):
        n = v
    elif isinstance(v, str) and (m := _SIZE.fullmatch(v.strip().lower())) and m[2] in _BYTES:
        n = int(float(m[1]) * _BYTES[m[2]])
    if n is None or n <= 0:
        raise Invalid(
            f"expected a positive size such as 65536, '64KiB' or '10MiB', got {show(value)}"
        )
    return n


def integer(lo: int, hi: int) -> Conv:
    """A whole number from ``lo`` to ``hi`` (a numeric string too)."""

    def conv(value: Any) -> int:
        v = plain(value)
        if isinstance(v, str) and re.fullmatch(r"\s*[+-]?\d+\s*", v):
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise Invalid(f"expected a whole number from {lo} to {hi}, got {show(value)}")
        return v

    return conv


def real(lo: float, hi: float, *, above: bool = False) -> Conv:
    """A number from ``lo`` (or above it) to ``hi``."""

    def conv(value: Any) -> float:
        v = plain(value)
        try:
            number = float(v) if not isinstance(v, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not (lo < number <= hi if above else lo <= number <= hi):
            low = f"above {lo:g}" if above else f"from {lo:g}"
            raise Invalid(f"expected a number {low} to {hi:g}, got {show(value)}")
        return number

    return conv


def string(value: Any) -> str:
    """A non-empty string (a number is taken as its text)."""
    v = plain(value)
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str) or not v.strip():
        raise Invalid(f"expected a non-empty string, got {show(value)}")
    return v


def secret_string(value: Any) -> str | Secret:
    """:func:`string`, kept a :class:`Secret` when it came from ``${...}``."""
    text = string(value)
    return Secret(text) if isinstance(value, Secret) else text


def boolean(value: Any) -> bool:
    """true/false, also as yes/no/on/off strings."""
    v = plain(value)
    if isinstance(v, str) and v.lower() in ("true", "false", "yes", "no", "on", "off"):
        v = v.lower() in ("true", "yes", "on")
    if not isinstance(v, bool):
        raise Invalid(f"expected true or false, got {show(value)}")
    return v


def choice(*options: str) -> Conv:
    """One of ``options``, case-insensitively; returned lower-cased."""

    def conv(value: Any) -> str:
        v = plain(value)
        if isinstance(v, str) and v.lower() in options:
            return v.lower()
        close = hint(v, options) if isinstance(v, str) else ""
        raise Invalid(f"expected {' | '.join(options)}, got {show(value)}{close}")

    return conv


def strings(value: Any) -> tuple[str, ...]:
    """Non-empty strings from a list or a comma-separated string, stripped."""
    v = plain(value)
    items = v.split(",") if isinstance(v, str) else v
    if not isinstance(items, list):
        raise Invalid(f"expected a list or a comma-separated string, got {show(value)}")
    return tuple(string(item).strip() for item in items)


# --- nodes ---------------------------------------------------------------------------


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

    def compose(self, what: str = "file") -> yaml.Node | None:
        """The root node; None when the file is empty, or unreadable (reported)."""
        try:
            with open(self.file, encoding="utf-8") as f:
                root = yaml.compose(f, Loader=yaml.SafeLoader)
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(0, f"cannot read {what}: {getattr(exc, 'strerror', None) or exc}")
            return None
        except yaml.YAMLError as exc:
            self.yaml_problem(exc)
            return None
        return None if root is None or is_null(root) else root

    def yaml_problem(self, exc: yaml.YAMLError) -> None:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        parts = (getattr(exc, "context", None), getattr(exc, "problem", None))
        text = ", ".join(p for p in parts if p) or str(exc)
        self.problem(mark.line + 1 if mark else 0, f"invalid YAML: {text}")

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
