"""The sink contract, and what every sink shares: outcome classification and HTTP.

Every sink keeps one contract (:class:`Sink`): ``async send(alerts)`` (one alert,
or a group's digest, of one receiver) returning the receiver's receipts, raising
:class:`~monitor.errors.DeliveryError`; each is an async context manager. A group
larger than ``max_batch`` comes as several :class:`Batch` es, each saying where it
sits in its group, so every message can say it is part of a larger one. Sinks
never retry: ``alerts/deliver.py`` does, for all, from what the error says. How
a receiver's answer becomes that error lives here, in one place (Alertmanager's
``notify/util.go``):

* :func:`classify_http`: 2xx ok; 429 retry after its ``Retry-After``; 5xx, 408 and
  425 retry (503 with its ``Retry-After``); any other 4xx fails for good;
* :func:`classify_smtp`: 4xx transient, 5xx permanent, 530/534/535/538 refused auth.

:class:`HttpSink` is the base of the sinks that POST (Slack, webhook): one
aiohttp session per sink for its lifetime, and :func:`post`, which never puts the
URL in an error (webhook URLs are secrets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, Self

import aiohttp

from monitor.config import ReceiverConfig, Secret, reveal
from monitor.errors import ConfigError, DeliveryError, Problem
from monitor.model import Alert
from monitor.retry_after import parse_retry_after

Receipt = Mapping[str, str]  # a receiver's reference to a message it took (Slack channel, ts)


class Batch(list[Alert]):
    """The alerts of one message, and where they sit in their group: ``first`` is
    the index in the group of the first of them, ``group`` the group's size. The
    delivery loop passes one when it sends a group in parts; a plain list is a
    whole group."""

    def __init__(self, alerts: Sequence[Alert], *, first: int = 0, group: int = 0) -> None:
        super().__init__(alerts)
        self.first = first
        self.group = max(group, first + len(alerts))


def part_of(alerts: Sequence[Alert]) -> tuple[int, int]:
    """(index in the group of the first alert, the group's size)."""
    if isinstance(alerts, Batch):
        return alerts.first, alerts.group
    return 0, len(alerts)


class Sink(Protocol):
    """``send`` takes one alert or a group's digest and returns, for alerts posted
    as new messages, the receiver's reference to each (aligned with ``alerts``; None
    where there is none, or None for all): the thread later updates of the story go
    to. ``edits`` says whether the sink can bring a message it posted up to date in
    place (``mode == "edit"``; others are not given such alerts). ``max_batch`` is
    the most alerts one message shows whole (None: no bound); a larger group is sent
    as several messages, each marked sent only once the receiver took it."""

    edits: bool
    max_batch: int | None

    async def send(self, alerts: Sequence[Alert]) -> Sequence[Receipt | None] | None: ...

    async def __aenter__(self) -> Sink: ...

    async def __aexit__(self, *exc: object) -> None: ...


def classify_http(status: int, retry_after: str | None = None) -> DeliveryError | None:
    """None for 2xx; else the error the retry loop acts on."""
    if 200 <= status < 300:
        return None
    detail = f"HTTP {status}"
    if status == 429:
        wait = parse_retry_after(retry_after)
        return DeliveryError("http_429", detail, retryable=True, retry_after=wait)
    if status >= 500 or status in (408, 425):
        wait = parse_retry_after(retry_after) if status == 503 else None
        reason = "http_5xx" if status >= 500 else "http_4xx"
        return DeliveryError(reason, detail, retryable=True, retry_after=wait)
    return DeliveryError("http_4xx", detail, retryable=False)


def classify_smtp(code: int) -> DeliveryError:
    """An SMTP reply code that refused the mail: 4xx transient, 5xx permanent."""
    detail = f"SMTP {code}"
    if 400 <= code < 500:
        return DeliveryError("smtp_4xx", detail, retryable=True)
    if code in (530, 534, 535, 538):
        return DeliveryError("smtp_auth", detail, retryable=False)
    return DeliveryError("smtp_5xx", detail, retryable=False)


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> None:
    """POST ``body``; raise the classified :class:`DeliveryError` unless 2xx.

    Errors never carry the URL (webhook URLs are secrets)."""
    try:
        async with session.post(url, data=body, headers=dict(headers)) as resp:
            await resp.read()
            if (error := classify_http(resp.status, resp.headers.get("Retry-After"))) is not None:
                raise error
    except TimeoutError:
        raise DeliveryError("timeout", retryable=True) from None
    except aiohttp.ClientSSLError as exc:
        raise DeliveryError("tls", type(exc).__name__, retryable=True) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError("connect", type(exc).__name__, retryable=True) from None


class HttpSink:
    """A sink that POSTs: one aiohttp session from ``__aenter__`` to ``__aexit__``."""

    edits = False  # see Sink
    max_batch: int | None = None

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """:func:`post` through the sink's session."""
        if self._session is None:
            raise DeliveryError("other", "sink not open", retryable=True)
        await post(self._session, url, body, headers)


def url_options(receiver: ReceiverConfig, what: str) -> tuple[list[str], list[str]]:
    """A receiver's ``url`` (``what`` says what one is) or ``urls`` (a list), exactly one
    of them: the URLs as given (secrets revealed) and the problems with the options."""
    o = receiver.options
    given = [o["url"]] if o.get("url") else list(o.get("urls") or [])
    problems = []
    if bool(o.get("url")) == bool(o.get("urls")):
        problems.append(
            f"kind {receiver.kind} takes url ({what}) or urls (a list), not both"
            if o.get("url")
            else f"kind {receiver.kind} needs url ({what}) or urls (a list)"
        )
    return [reveal(u) if isinstance(u, Secret) else str(u) for u in given], problems


def which_url(receiver: ReceiverConfig, index: int) -> str:
    """How a problem names the ``index``-th (from 0) of a receiver's URLs."""
    return "url" if receiver.options.get("url") else f"urls #{index + 1}"


def refuse(receiver: ReceiverConfig, problems: Sequence[str]) -> None:
    """Raise the receiver's problems, if any, each at its file and line."""
    if problems:
        where = receiver.file, receiver.line
        raise ConfigError([Problem(*where, f"receiver {receiver.name!r}: {p}") for p in problems])
