"""The exception tree of newsmon.

Every error newsmon raises on purpose derives from :class:`NewsmonError`.
Library exceptions (aiohttp, feedparser, sqlite3, yaml, kafka) are translated
at the boundary with ``raise ... from exc`` so callers only ever catch these::

    NewsmonError
    ├── ConfigError            config or rule file unusable; carries every problem
    │                          as (file, line, message), printed as ``file:line: message``
    ├── FeedError              one feed poll failed; ``reason`` is a short stable code
    │   ├── FetchError         transport: timeout, dns, tls, connect, http_4xx,
    │   │   │                  http_5xx, too_large, redirect, bad_scheme ...
    │   │   └── BlockedAddress ssrf_blocked: the resolved address is not allowed
    │   └── ParseError         parse_error, parse_timeout, xml_entities, too_large_field
    ├── BusError               the bus cannot publish or consume (broker down ...)
    ├── StoreError             the SQLite store failed
    └── DeliveryError          a sink could not deliver; ``retryable`` says whether
                               the one retry loop may try again
"""

from __future__ import annotations

from dataclasses import dataclass


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a config or rule file, located by file and line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(NewsmonError):
    """A config or rule file is unusable. Carries *all* its problems at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class FeedError(NewsmonError):
    """One feed could not be polled. ``reason`` is a short, bounded code used in
    the feed's state, logs and metric labels; ``detail`` is free text for people."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class FetchError(FeedError):
    """The HTTP fetch failed (timeout, dns, tls, connect, http_4xx, http_5xx,
    too_large, too_many_redirects, bad_scheme, insecure_redirect ...).

    ``retry_after`` is the delay in seconds the server asked for (429/503), if any.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, detail)
        self.status = status
        self.retry_after = retry_after


class BlockedAddress(FetchError):
    """The feed's host resolved to an address newsmon must not connect to."""

    def __init__(self, detail: str) -> None:
        super().__init__("ssrf_blocked", detail)


class ParseError(FeedError):
    """The body could not be parsed as a feed, or was refused as hostile."""


class BusError(NewsmonError):
    """The bus cannot publish or consume."""


class StoreError(NewsmonError):
    """The SQLite store failed."""


class DeliveryError(NewsmonError):
    """A sink could not deliver an alert. ``retryable`` decides whether the one
    retry loop tries again or dead-letters it."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(reason)
