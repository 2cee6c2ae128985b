"""A YAML syntax error in plain words, beside the line where the mistake is.

PyYAML (and libyaml) say what their grammar expected: ``expected <block end>, but
found '<block mapping start>'``, ``found character '\\t' that cannot start any
token``, ``did not find expected key``. :func:`explain` reads the error's marks and
the file's own text and says what the user did instead::

    c.yaml:3: invalid YAML: this line is indented differently from the lines around
              it (a key at column 3 where column 5 or 1 was expected)
    c.yaml:2: invalid YAML: a tab character at column 1: YAML indents with spaces only
    c.yaml:4: invalid YAML: the '[' at column 14 is never closed: a ']' is missing

It covers tabs, indentation, unclosed quotes and brackets, a missing ':' after a
key, a ': ' inside an unquoted value, text after a quoted value, reserved and
control characters, aliases and anchors, and a second document. Anything else
keeps the parser's own words. Lines and columns are 1-based.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from monitor.config.compose import AliasError

_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks
_NOT_ALLOWED = re.compile(  # characters YAML forbids anywhere (PyYAML's NON_PRINTABLE)
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_ALIAS = re.compile(r"[*&]([^\s,\[\]{}]*)")


def explain(exc: yaml.YAMLError, text: str) -> tuple[int, str]:
    """The line the mistake is on (0 if unknown) and what it is, in plain words."""
    lines = _BREAK.split(text)
    if isinstance(exc, yaml.reader.ReaderError):
        return _control_character(text, exc)
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    if isinstance(exc, AliasError) and problem is not None:
        return problem.line + 1, exc.message
    words = ", ".join(p for p in (getattr(exc, "context", ""), getattr(exc, "problem", "")) if p)
    at = problem or context
    if at is None:
        return 0, words or str(exc)
    error = _Error(words, lines, at.line, at.column, context)
    for explainer in _EXPLAINERS:
        if (found := explainer(error)) is not None:
            return found
    return at.line + 1, words


class _Error:
    """What an explainer looks at: the parser's words, the problem line and column
    (0-based), the text of every line, and where the enclosing construct starts."""

    def __init__(self, words: str, lines: list[str], row: int, col: int, context: Any) -> None:
        self.words, self.lines, self.row, self.col = words, lines, row, col
        self.context = context  # a mark, or None
        self.line = lines[row] if row < len(lines) else ""
        self.char = self.line[col] if col < len(self.line) else ""

    def says(self, *parts: str) -> bool:
        return any(part in self.words for part in parts)

    @property
    def indent(self) -> int:
        return len(self.line) - len(self.line.lstrip(" "))

    def previous(self, row: int) -> int | None:
        """The line before ``row`` that has content (not blank, not a comment)."""
        for before in range(min(row, len(self.lines)) - 1, -1, -1):
            if (text := self.lines[before].strip()) and not text.startswith("#"):
                return before
        return None


def _control_character(text: str, exc: Any) -> tuple[int, str]:
    found = _NOT_ALLOWED.search(text)
    if found is None:
        return 0, f"a character YAML does not allow ({exc.reason})"
    row = text.count("\n", 0, found.start())
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    code = f"U+{ord(found[0]):04X}"
    return row + 1, f"a control character ({code}) at column {column}: YAML does not allow it"


def _tab(e: _Error) -> tuple[int, str] | None:
    indentation = e.line[: len(e.line) - len(e.line.lstrip(" \t"))]
    if "\t" in indentation:
        column = indentation.index("\t") + 1
        return e.row + 1, f"a tab character at column {column}: YAML indents with spaces only"
    if e.char == "\t":
        return e.row + 1, (
            f"a tab character at column {e.col + 1}: YAML allows only spaces here;"
            " replace it with a space"
        )
    return None


def _reserved(e: _Error) -> tuple[int, str] | None:
    if not e.says("cannot start any token"):
        return None
    why = " (YAML reserves @ and `)" if e.char in "@`" else ""
    return e.row + 1, (
        f"{e.char!r} at column {e.col + 1} cannot start a value{why}: put the value in quotes"
    )


def _quoted(e: _Error) -> tuple[int, str] | None:
    if not e.says("quoted scalar") or e.context is None:
        return None
    if e.says("escape"):
        at = e.col if e.char == "\\" else e.col - 1  # libyaml marks the backslash, PyYAML after
        return e.row + 1, (
            f"'{e.line[at : at + 2]}' at column {at + 1} is not an escape: in double quotes"
            " a backslash starts one (\\n, \\t, \\\\); write \\\\ for a backslash, or use"
            " single quotes"
        )
    row, col = e.context.line, e.context.column
    quote = e.lines[row][col] if col < len(e.lines[row]) else '"'
    return row + 1, f"the {quote} at column {col + 1} is never closed: a closing {quote} is missing"


def _flow(e: _Error) -> tuple[int, str] | None:
    if not e.says("flow sequence", "flow mapping") or e.context is None:
        return None
    row, col = e.context.line, e.context.column
    opening = "[" if e.says("flow sequence") else "{"
    closing = "]" if opening == "[" else "}"
    if e.row > row:
        return row + 1, (
            f"the {opening!r} at column {col + 1} is never closed: a {closing!r} is missing"
            f" (YAML read on to line {e.row + 1})"
        )
    return row + 1, (
        f"a ',' between two entries, or the closing {closing!r}, is missing before"
        f" column {e.col + 1} (in the {opening!r} at column {col + 1})"
    )


def _no_colon(e: _Error) -> tuple[int, str] | None:
    if not e.says("could not find expected ':'") or e.context is None:
        return None
    row = e.context.line
    return row + 1, f"{_content(e.lines[row])!r} has no ':' after its key (write 'key: value')"


def _colon(e: _Error) -> tuple[int, str] | None:
    if not e.says("mapping values are not allowed"):
        return None
    before = _content(e.line[: e.col])
    if ": " in before or before.endswith(":"):
        key = before.split(":", 1)[0]
        return e.row + 1, (
            f"a second ': ' at column {e.col + 1}: a value that contains ': ' must be"
            f' quoted ({key}: "...")'
        )
    if (prev := e.previous(e.row)) is None or e.indent == e.col:
        return e.row + 1, f"a ':' at column {e.col + 1} where no key can start"
    content = _content(e.lines[prev])
    if ":" not in content:
        return prev + 1, (
            f"{content!r} has no ':' after its key (write 'key: value'),"
            f" so YAML reads line {e.row + 1} as more of its text"
        )
    wanted = len(e.lines[prev]) - len(e.lines[prev].lstrip(" -"))
    return e.row + 1, (
        f"this line is indented more than the line before it (a key at column"
        f" {e.indent + 1} where column {wanted + 1} was expected), so YAML reads it as"
        f" more of line {prev + 1}'s value"
    )


def _indentation(e: _Error) -> tuple[int, str] | None:
    if not e.says("<block end>", "expected key", "'-' indicator"):
        return None
    if e.col > e.indent:
        return _after_value(e)
    if e.char == ":":
        return e.row + 1, "a ':' with no key before it"
    what = "list item" if e.line[e.col :].startswith("-") else "key"
    in_list = e.says("block collection", "'-' indicator") and e.context is not None
    if in_list and what == "key" and e.col == e.context.column:
        return e.row + 1, (
            f"a key at column {e.col + 1} inside the list of line {e.context.line + 1},"
            f" where a list item ('- ') at column {e.context.column + 1} was expected"
        )
    expected = [str(c + 1) for c in _open_columns(e) if c != e.col]
    where = " or ".join(filter(None, (", ".join(expected[:-1]), *expected[-1:])))
    detail = f" where column {where} was expected" if expected else ""
    return e.row + 1, (
        "this line is indented differently from the lines around it"
        f" (a {what} at column {e.col + 1}{detail})"
    )


def _after_value(e: _Error) -> tuple[int, str]:
    before = e.line[: e.col].rstrip()
    if e.char in "]}":
        return e.row + 1, f"a {e.char!r} at column {e.col + 1} that closes nothing"
    if before.endswith(('"', "'")):
        key, _, value = _content(e.line).rpartition(": ")
        whole = "'" + value.replace("'", "''") + "'"
        return e.row + 1, (
            f"text after the closing quote at column {len(before)}: a value that starts"
            f" with a quote ends there; quote the whole value: {key}{': ' if key else ''}{whole}"
        )
    return e.row + 1, f"unexpected text at column {e.col + 1}, after the value"


def _open_columns(e: _Error) -> list[int]:
    """The columns of the keys and list items still open at the problem line: the
    nearest line above, then each line above that is indented less (0-based)."""
    columns: list[int] = []
    row = e.previous(e.row)
    while row is not None:
        line = e.lines[row]
        here = [len(line) - len(line.lstrip(" "))]
        if line.lstrip(" ").startswith("- "):  # "  - name: a": the dash and the key
            here.append(len(line) - len(line.lstrip(" -")))
        for column in sorted(here, reverse=True):
            if not columns or column < min(columns):
                columns.append(column)
        if min(columns) == 0:
            break
        row = e.previous(row)
    return columns


def _aliases(e: _Error) -> tuple[int, str] | None:
    name = m[1] if (m := _ALIAS.match(e.line, e.col)) else ""
    if e.says("undefined alias"):
        return e.row + 1, (
            f"'*{name}' names no anchor '&{name}' above it; a value that starts with '*'"
            " must be quoted"
        )
    if e.says("duplicate anchor") and e.context is not None:
        return e.row + 1, f"anchor '&{name}' is defined twice (first at line {e.context.line + 1})"
    if e.says("scanning an anchor", "scanning an alias"):
        return e.row + 1, "'&' and '*' must be followed by a name; quote a value that starts so"
    return None


def _depth(e: _Error) -> tuple[int, str] | None:
    if not e.says("nesting depth"):
        return None
    return e.row + 1, "nested too deeply to read (lists and mappings inside each other)"


def _documents(e: _Error) -> tuple[int, str] | None:
    if not e.says("single document"):
        return None
    return e.row + 1, "a second YAML document starts here ('---'): a file holds one"


def _content(line: str) -> str:
    """A line without its indentation and list dash."""
    return line.strip().removeprefix("- ").strip()


_EXPLAINERS = (_tab, _reserved, _quoted, _flow, _no_colon, _colon, _indentation, _aliases,
               _depth, _documents)  # fmt: skip
