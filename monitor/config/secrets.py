"""Secrets and redaction: values from ``${ENV}`` that never print, URLs shown without
their credentials, and text cut to what may be logged."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


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
