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
    │   └── ParseError         parse_error, parse_timeout, parse_crash, xml_entities
    ├── BusError               the bus cannot publish or consume (broker down ...)
    ├── StoreError             the SQLite store failed
    └── DeliveryError          a sink could not deliver; ``retryable`` says whether
                               the one retry loop may try again

A failure's ``reason`` is bounded where the error is made (as Alertmanager's
``notify.Reason``): it is one of the vocabularies below, used as is in the feed's
state, logs and metric labels; ``detail`` is free text for people (status codes,
exception names, what the server said). Building an error with a reason outside its
vocabulary is a bug and raises ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# why a feed's fetch failed (FetchError; ssrf_blocked is BlockedAddress)
FETCH_REASONS: Final = (
    "timeout", "dns", "tls", "connect", "http_3xx", "http_4xx", "http_5xx", "too_large",
    "too_many_redirects", "bad_url", "bad_redirect", "bad_scheme", "insecure_redirect",
    "ssrf_blocked", "bad_encoding", "protocol",
)  # fmt: skip
# why a fetched body gave no feed (ParseError)
PARSE_REASONS: Final = ("parse_error", "parse_timeout", "parse_crash", "xml_entities")
# every reason a poll can fail for; "error" is a bug in newsmon, caught per poll
FEED_REASONS: Final = (*FETCH_REASONS, *PARSE_REASONS, "error")
# why a delivery attempt failed (DeliveryError)
DELIVERY_REASONS: Final = (
    "timeout", "connect", "tls", "http_429", "http_4xx", "http_5xx",
    "smtp_4xx", "smtp_5xx", "smtp_auth", "other",
)  # fmt: skip
# why a bus record was given up on: unreadable (undecodable, unknown_schema), or
# readable but the stage's handling of it raised (handler_error)
DEAD_LETTER_REASONS: Final = ("undecodable", "unknown_schema", "handler_error")


def _bounded(reason: str, vocabulary: tuple[str, ...], what: str) -> str:
    if reason not in vocabulary:
        raise ValueError(f"{what} reason {reason!r} is not one of {', '.join(vocabulary)}")
    return reason


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose.

    Errors cross process boundaries (a parse worker raises, the daemon catches), so
    each pickles as its class, message and attributes, whatever its ``__init__``
    takes: unpickling never calls ``__init__`` again."""

    def __reduce__(self) -> tuple[object, ...]:
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(
    cls: type[NewsmonError], args: tuple[object, ...], state: dict[str, object]
) -> NewsmonError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


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
        self.reason = _bounded(reason, FEED_REASONS, "feed")
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class FetchError(FeedError):
    """The HTTP fetch failed; ``reason`` is one of FETCH_REASONS.

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
        super().__init__(_bounded(reason, FETCH_REASONS, "fetch"), detail)
        self.status = status
        self.retry_after = retry_after


class BlockedAddress(FetchError):
    """The feed's host resolved to an address newsmon must not connect to."""

    def __init__(self, detail: str) -> None:
        super().__init__("ssrf_blocked", detail)


class ParseError(FeedError):
    """The body could not be parsed as a feed, or was refused as hostile; ``reason``
    is one of PARSE_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(_bounded(reason, PARSE_REASONS, "parse"), detail)


class BusError(NewsmonError):
    """The bus cannot publish or consume."""


class StoreError(NewsmonError):
    """The SQLite store failed."""


class DeliveryError(NewsmonError):
    """A sink could not deliver an alert, shaped like :class:`FeedError`: ``reason`` is
    one of DELIVERY_REASONS, ``detail`` free text (never a URL or a secret).
    ``retryable`` decides whether the one retry loop tries again or dead-letters it;
    ``retry_after`` is the wait the receiver asked for (429/503), in seconds."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        self.reason = _bounded(reason, DELIVERY_REASONS, "delivery")
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(f"{reason}: {detail}" if detail else reason)
