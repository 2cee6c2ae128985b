"""The query language of a rule: terms combined with AND, OR, NOT and parentheses.

    query   := or
    or      := and ("OR" and)*
    and     := unary ("AND" unary)*
    unary   := "NOT" unary | "(" or ")" | term
    term    := [("title" | "summary") ":"] (word | '"' phrase '"') ["~" [threshold]]

Operators are upper case; NOT binds tighter than AND, AND tighter than OR.
Parentheses and NOT nest at most ``MAX_DEPTH`` (50) deep.
Two terms side by side are an error (write AND, or quote the phrase). A term
that names an entity stands for all its aliases; see ``monitor.rules.load``.
``~N`` sets the term's fuzzy threshold (``~100`` means exact only). Errors carry
the 1-based column and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEX = re.compile(
    r"""\s*(?:
      (?P<paren>[()])
    | (?P<term>(?:(?P<field>title|summary):)?
        (?:"(?P<phrase>[^"]*)(?P<closed>")?|(?P<word>[^\s()"~]+))
        (?:~(?P<threshold>\d+(?:\.\d+)?)?)?)
    )""",
    re.VERBOSE,
)
OPERATORS = ("AND", "OR", "NOT")
MAX_DEPTH = 50  # parentheses and NOTs inside each other; deeper is refused, not a RecursionError


@dataclass(frozen=True, slots=True)
class Form:
    """One way a term is written: the text and whether it is a weak alias."""

    text: str
    weak: bool = False


@dataclass(frozen=True, slots=True)
class Term:
    """A leaf: ``text`` as written; ``canonical`` and ``forms`` once resolved
    (an entity's name and aliases, or the text itself); ``threshold`` is the
    fuzzy threshold in force (None: exact only)."""

    text: str
    column: int = 0
    field: str | None = None
    threshold: float | None = None
    fuzzy_set: bool = False  # ``~`` given in the query
    canonical: str = ""
    forms: tuple[Form, ...] = ()


@dataclass(frozen=True, slots=True)
class Not:
    child: Query


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Query, ...]


Query = Term | Not | And | Or


class QueryError(ValueError):
    def __init__(self, column: int, message: str) -> None:
        self.column = column
        self.message = message
        super().__init__(f"column {column}: {message}")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(" ")" AND OR NOT term end
    text: str
    column: int
    term: Term | None = None


def parse(text: str) -> Query:
    """The query's tree; QueryError with the column on a syntax error."""
    tokens = _lex(text)
    parser = _Parser(tokens)
    query = parser.or_()
    if (token := parser.peek()).kind != "end":
        expected = "AND, OR or ')'" if token.kind != ")" else "a term or '('"
        if token.kind == ")":
            raise QueryError(token.column, "unbalanced ')'")
        hint = ' (to match a phrase, quote it: "...")' if token.kind == "term" else ""
        raise QueryError(token.column, f"expected {expected}, found {token.text!r}{hint}")
    return query


def _lex(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _LEX.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                raise QueryError(pos + 1, f"unexpected {text[pos]!r}")
            break
        pos = m.end()
        start = m.start("paren") if m["paren"] else m.start("term") if m["term"] else pos
        if m["paren"]:
            out.append(_Token(m["paren"], m["paren"], start + 1))
        elif m["term"]:
            out.append(_term_token(m, start + 1))
    out.append(_Token("end", "end of query", len(text) + 1))
    return out


def _term_token(m: re.Match[str], column: int) -> _Token:
    if m["phrase"] is not None and not m["closed"]:
        raise QueryError(column, "unclosed quote: expected '\"'")
    word = m["word"]
    if word in OPERATORS and not m["field"] and m["threshold"] is None:
        return _Token(word, word, column)
    text = m["phrase"] if word is None else word
    if not text.strip():
        raise QueryError(column, "empty phrase")
    threshold = float(m["threshold"]) if m["threshold"] else None
    if threshold is not None and not 50 <= threshold <= 100:
        raise QueryError(column, f"fuzzy threshold must be from 50 to 100, got {threshold:g}")
    fuzzy_set = "~" in m["term"]
    term = Term(text.strip(), column, m["field"], threshold, fuzzy_set)
    return _Token("term", m["term"], column, term)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def or_(self) -> Query:
        children = [self.and_()]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.and_())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self) -> Query:
        children = [self.unary()]
        while self.peek().kind == "AND":
            self.take()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Query:
        token = self.take()
        if token.kind in ("NOT", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(
                    token.column,
                    f"nested more than {MAX_DEPTH} deep (parentheses and NOT); simplify the query",
                )
            inner = Not(self.unary()) if token.kind == "NOT" else self._group(token)
            self.depth -= 1
            return inner
        if token.kind == "term" and token.term is not None:
            return token.term
        raise QueryError(token.column, f"expected a term, NOT or '(', found {token.text!r}")

    def _group(self, opening: _Token) -> Query:
        inner = self.or_()
        if (close := self.take()).kind != ")":
            raise QueryError(
                close.column,
                f"expected ')' to close '(' at column {opening.column}, found {close.text!r}",
            )
        return inner


def leaves(query: Query) -> list[tuple[Term, bool]]:
    """Every term in order, with whether it counts for the rule (not under NOT)."""
    out: list[tuple[Term, bool]] = []

    def walk(node: Query, positive: bool) -> None:
        if isinstance(node, Term):
            out.append((node, positive))
        elif isinstance(node, Not):
            walk(node.child, not positive)
        else:
            for child in node.children:
                walk(child, positive)

    walk(query, True)
    return out


def replace_terms(query: Query, terms: list[Term]) -> Query:
    """The query with its leaves replaced, in order, by ``terms``."""
    it = iter(terms)

    def walk(node: Query) -> Query:
        if isinstance(node, Term):
            return next(it)
        if isinstance(node, Not):
            return Not(walk(node.child))
        children = tuple(walk(c) for c in node.children)
        return And(children) if isinstance(node, And) else Or(children)

    return walk(query)
