"""Feed bodies -> :class:`ParsedFeed`, defended against hostile XML (pure core).

feedparser is lenient and therefore exploitable, so it only ever sees bytes
that were made safe first (:func:`harden`):

* **Entities.** The body is decoded the way feedparser decodes it (its own
  ``convert_to_utf8``: BOM, XML declaration, HTTP charset; UTF-16/32 and EBCDIC
  included) and every DOCTYPE in the prolog is removed, so neither expat nor
  feedparser's loose parser (which expands ``<!ENTITY`` values itself: 60 KB of
  quadratic entities become 600 MB) ever sees an entity declaration; undefined
  ``&refs;`` stay inert text. An ``<!ENTITY`` left where the loose parser
  would look for it is refused with ``ParseError("xml_entities")``.
* **Oversized fields.** Any run of text between ``<`` and ``>`` longer than
  ``max_field_bytes`` keeps its head and tail only, and any run of the
  characters feedparser's author/e-mail regex backtracks on (feedparser #562:
  O(n²), 24 s for a 100 KB ``<author>``) is cut to ``MAX_TOKEN`` bytes. Both
  scans are linear (anchored with a look-behind, so no retry inside a run).
* **Time and memory.** :class:`ParsePool` runs parse + normalise in worker
  processes, kills a worker that overruns its deadline and caps its address
  space; it admits only a few bodies at a time (workers + a short queue), and
  the fetcher waits for that admission before it lets its slot go.

``parse_feed`` passes feedparser a stream, never a string: a bytes body such as
``b"/etc/passwd"`` would otherwise be opened as a local file.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from datetime import datetime
from functools import lru_cache, partial
from multiprocessing import get_context
from types import TracebackType
from typing import Any, NamedTuple

import feedparser
from feedparser.encodings import convert_to_utf8

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.sources.normalise import ParsedFeed, normalise

__all__ = [
    "MAX_TOKEN",
    "Hardened",
    "ParsePool",
    "ParsedFeed",
    "harden",
    "parse_and_normalise",
    "parse_feed",
]

MAX_TOKEN = 256  # longest run of [A-Za-z0-9_.+-] kept; bounds feedparser #562 to ~0.1 s/64 KB
_TAIL = 64  # bytes kept at the end of a shortened run (closing quote, "]]", "--")
_UTF8_HEADERS = {"content-type": "application/xml; charset=utf-8"}
_TOKEN = re.compile(rb"(?<![A-Za-z0-9_.+\-])[A-Za-z0-9_.+\-]{%d,}" % (MAX_TOKEN + 1))
_HEAD_END = re.compile(rb"<\w")  # where feedparser's replace_doctype stops looking
_ENTITY_LINE = re.compile(rb"^\s*<!ENTITY", re.IGNORECASE | re.MULTILINE)  # feedparser's test
_SPACES = re.compile(rb"[ \t\r\n]{2,}")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_XML_SPACE = b" \t\r\n"


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    max_field_bytes: int = 64 * 1024,
    base: str = "",
) -> Any:
    """Parse one feed body with feedparser after :func:`harden`; return its result dict.

    Raises ``ParseError`` when the body is refused or is not a feed at all. A
    document that parses with problems but yields a feed is returned; its
    problem is in ``result["bozo_reason"]``. Relative links resolve against the
    Content-Location header, else ``base`` (the feed's URL)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    data, problem, had_entities = harden(body, lowered, max_field_bytes=max_field_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # feedparser's own Deprecation/Runtime noise
            result = feedparser.parse(
                io.BytesIO(data),
                response_headers={"content-location": base, **lowered, **_UTF8_HEADERS},
                sanitize_html=False,  # normalise strips all markup anyway
                resolve_relative_uris=False,  # only item links matter; normalise resolves them
            )
    except MemoryError as exc:
        raise ParseError("parse_crash", "out of memory") from exc
    except Exception as exc:  # a feedparser bug must cost one feed, not the poller
        raise ParseError("parse_error", f"{type(exc).__name__}: {exc}"[:200]) from exc
    reason = str(result.get("bozo_exception") or "") if result.get("bozo") else ""
    result["bozo_reason"] = reason or problem or None
    head = result.get("feed") or {}
    if not (result.get("entries") or result.get("version") or head.get("title")):
        if had_entities:  # say why an operator's feed yields nothing
            raise ParseError("xml_entities", "entity declarations removed; no feed left")
        raise ParseError("parse_error", (result["bozo_reason"] or "not a feed")[:200])
    return result


def parse_and_normalise(
    body: bytes,
    headers: Mapping[str, str],
    feed: FeedConfig,
    seen: datetime,
    max_field_bytes: int = 64 * 1024,
) -> ParsedFeed:
    """parse_feed + normalise: what one ParsePool worker runs for one body."""
    result = parse_feed(body, headers, max_field_bytes=max_field_bytes, base=feed.base)
    return normalise(result, feed, seen=seen, bozo=result["bozo_reason"])


class Hardened(NamedTuple):
    data: bytes  # UTF-8, no DOCTYPE, long runs shortened
    problem: str | None  # an encoding problem feedparser would have reported
    had_entities: bool  # a removed DOCTYPE declared entities


def harden(body: bytes, headers: Mapping[str, str], *, max_field_bytes: int) -> Hardened:
    """Make a body safe to give feedparser (see the module docstring).

    ``headers`` must have lower-case keys (feedparser looks them up so)."""
    if not body.strip():
        raise ParseError("parse_error", "empty body")
    state: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = convert_to_utf8(headers, body, state)
    if not state.get("encoding"):  # nothing decoded: make it UTF-8 all the same
        data = data.decode("utf-8", "replace").encode("utf-8")
    data, removed = _strip_doctypes(data)
    data = _collapse_head(_cap_runs(data, max_field_bytes))
    if _ENTITY_LINE.search(data, 0, _head_end(data)):
        raise ParseError("xml_entities", "entity declaration outside the prolog")
    problem = state.get("bozo_exception")
    return Hardened(
        data,
        str(problem) if problem else None,
        any(_ENTITY.search(doctype) for doctype in removed),
    )


def _head_end(data: bytes) -> int:
    """Where feedparser's ``replace_doctype`` stops looking for declarations."""
    match = _HEAD_END.search(data)
    return match.start() + 1 if match and match.start() else 0


def _collapse_head(data: bytes) -> bytes:
    """Fold whitespace runs before the root element: feedparser scans that region
    with ``^\\s*<!ENTITY`` (MULTILINE), which is quadratic in blank lines
    (40 KB of newlines cost it 5 s)."""
    end = _head_end(data)
    return _SPACES.sub(b"\n", data[:end]) + data[end:] if end else data


def _strip_doctypes(data: bytes) -> tuple[bytes, list[bytes]]:
    """Remove every DOCTYPE declaration from the prolog (the only place expat
    honours one), walking whitespace, processing instructions and comments.
    Returns the document and the declarations removed."""
    out: list[bytes] = []
    removed: list[bytes] = []
    pos = last = 0
    while True:
        while pos < len(data) and data[pos] in _XML_SPACE:
            pos += 1
        if data.startswith(b"<?", pos):
            end = _end_of(data, b"?>", pos + 2)
        elif data.startswith(b"<!--", pos):
            end = _end_of(data, b"-->", pos + 4)
        elif data[pos : pos + 9].upper() == b"<!DOCTYPE":
            end = _doctype_end(data, pos + 9)
            out.append(data[last:pos])
            removed.append(data[pos:end])
            pos = last = end
            continue
        else:
            break
        if end < 0:
            break
        pos = end + 1
    out.append(data[last:])
    return b"".join(out), removed


def _doctype_end(data: bytes, pos: int) -> int:
    """Index just past the DOCTYPE whose body starts at ``pos``; quotes, comments,
    processing instructions and the internal subset are honoured."""
    depth = 0
    while pos < len(data):
        char = data[pos : pos + 1]
        end = pos
        if char in (b'"', b"'"):
            end = data.find(char, pos + 1)
        elif data.startswith(b"<!--", pos):
            end = _end_of(data, b"-->", pos + 4)
        elif data.startswith(b"<?", pos):
            end = _end_of(data, b"?>", pos + 2)
        elif char == b"[":
            depth += 1
        elif char == b"]":
            depth = max(depth - 1, 0)
        elif char == b">" and depth == 0:
            return pos + 1
        if end < 0:
            break
        pos = end + 1
    raise ParseError("xml_entities", "unterminated DOCTYPE")


def _end_of(data: bytes, marker: bytes, start: int) -> int:
    """Index of the last byte of ``marker`` found from ``start``, or -1."""
    found = data.find(marker, start)
    return found + len(marker) - 1 if found >= 0 else -1


def _cap_runs(data: bytes, limit: int) -> bytes:
    """Shorten text runs longer than ``limit`` and tokens longer than MAX_TOKEN."""
    limit = max(limit, 2 * _TAIL)
    if len(data) > limit:
        data = _long_run(limit).sub(lambda m: _shorten(m.group(), limit), data)
    return _TOKEN.sub(lambda m: m.group()[:MAX_TOKEN], data)


@lru_cache(maxsize=8)
def _long_run(limit: int) -> re.Pattern[bytes]:
    """Runs of text between markup longer than ``limit``, matched from their start only."""
    return re.compile(rb"(?<![^<>])[^<>]{%d,}" % (limit + 1))


def _shorten(run: bytes, limit: int) -> bytes:
    """Head and tail of ``run``, cut on UTF-8 character boundaries."""
    head, tail = limit - _TAIL, len(run) - _TAIL
    while head > 0 and run[head] & 0xC0 == 0x80:
        head -= 1
    while tail < len(run) and run[tail] & 0xC0 == 0x80:
        tail += 1
    return run[:head] + run[tail:]


def _init_worker(memory_limit: int, owner: int) -> None:
    """Worker initializer: cap the address space so a blow-up fails, not the host,
    and exit when the daemon (``owner``) does, however it ended."""
    import resource
    import threading

    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()


def _exit_with(owner: int) -> None:
    """Block until process ``owner`` ends, then end this one.

    A ProcessPoolExecutor worker (and the forkserver it came from) outlives a
    daemon killed with SIGKILL: it waits on a queue whose write end it holds
    itself. Orphans would keep the daemon's stdout/stderr open and pile up."""
    import os
    import select
    import time

    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):  # not Linux 5.3+: look once a second
        while True:
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(1.0)
    select.select([fd], [], [])
    os._exit(1)


def _ready() -> None:
    """A worker's first job: it has started and imported this module."""


START_TIMEOUT = 60.0  # seconds a new worker process may take to start (not a parse's deadline)


class _Worker:
    """One worker process in its own executor, so that killing a runaway parse
    touches no other feed's job."""

    __slots__ = ("broken", "executor", "started")

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self.executor = executor
        self.started = False  # it has run a job: its start-up is behind it
        self.broken = False  # killed or dead: to be replaced before its next job


class ParsePool:
    """Parse + normalise in worker processes, each body under a deadline.

    Usage::

        async with ParsePool(workers=2, timeout=10.0) as pool:
            async with pool.admission() as admit:     # optional: bounds bodies in memory
                result = await fetcher.fetch(url, admit=admit)
                parsed = await pool.parse(result.body, result.headers, feed, seen=now)

    A job waits for an idle worker first; its ``timeout`` starts only then (and
    after a new worker's start-up), so a queue of bodies never times out an
    ordinary one. Each worker is a process of its own: a body that overruns
    ``timeout`` gets ``ParseError("parse_timeout")`` and only its worker is
    killed and replaced; a dead worker gives ``ParseError("parse_crash")``. No
    other job is ever cancelled or failed by that.

    :meth:`admission` bounds the bodies waiting for the pool: at most
    ``workers + queue`` callers are admitted at once (one being parsed per
    worker, ``queue`` waiting). The fetcher asks for admission once a body is
    read and keeps its fetch slot until it is given, so while parsing is behind,
    fetching pauses: bodies in memory stay under ``fetch.concurrency + workers +
    queue``, whatever the number of feeds. Admission is asked only for a
    complete body, so a feed that drips its body slowly never holds a place.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 10.0,
        max_field_bytes: int = 64 * 1024,
        memory_limit: int = 1 << 30,
        queue: int | None = None,
    ) -> None:
        self.workers = max(1, workers)
        self.queue = 2 * self.workers if queue is None else max(0, queue)
        self.timeout = timeout
        self.max_field_bytes = max_field_bytes
        self.memory_limit = memory_limit
        self._idle: asyncio.Queue[_Worker] | None = None
        self._live: set[_Worker] = set()
        self._room: asyncio.Semaphore | None = None

    async def __aenter__(self) -> ParsePool:
        self._idle = asyncio.Queue()
        for _ in range(self.workers):
            self._idle.put_nowait(self._new_worker())
        self._room = asyncio.Semaphore(self.workers + self.queue)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._idle = None
        for worker in list(self._live):
            self._retire(worker)

    @asynccontextmanager
    async def admission(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """Yields ``admit``: awaiting it (once or more) takes one of the
        ``workers + queue`` places for a body, held until the block ends."""
        room = self._room
        held = False

        async def admit() -> None:
            nonlocal held
            if not held and room is not None:
                await room.acquire()
                held = True

        try:
            yield admit
        finally:
            if held and room is not None:
                room.release()

    async def parse(
        self, body: bytes, headers: Mapping[str, str], feed: FeedConfig, *, seen: datetime
    ) -> ParsedFeed:
        """Parse and normalise one body off the event loop."""
        job = partial(parse_and_normalise, body, dict(headers), feed, seen, self.max_field_bytes)
        return await self.run(job)

    async def run(self, job: partial[ParsedFeed]) -> ParsedFeed:
        """Run a picklable job in a worker under the deadline (tests use it too)."""
        idle = self._idle
        if idle is None:
            raise RuntimeError("ParsePool used outside 'async with'")
        worker = await idle.get()
        try:
            return await self._call(worker, job)
        finally:
            if worker.broken:
                self._retire(worker)
                worker = self._new_worker()
            if self._idle is idle:  # not closed meanwhile
                idle.put_nowait(worker)
            else:
                self._retire(worker)

    async def _call(self, worker: _Worker, job: partial[ParsedFeed]) -> ParsedFeed:
        try:
            if not worker.started:  # its start-up is not the parse's time
                async with asyncio.timeout(START_TIMEOUT):
                    await asyncio.wrap_future(worker.executor.submit(_ready))
                worker.started = True
            async with asyncio.timeout(self.timeout):
                return await asyncio.wrap_future(worker.executor.submit(job))
        except TimeoutError as exc:
            worker.broken = True
            what = f"over {self.timeout:g}s" if worker.started else "worker did not start"
            raise ParseError("parse_timeout" if worker.started else "parse_crash", what) from exc
        except BrokenProcessPool as exc:
            worker.broken = True
            raise ParseError("parse_crash", str(exc)[:200]) from exc
        except MemoryError as exc:
            raise ParseError("parse_crash", "out of memory") from exc
        except asyncio.CancelledError:
            worker.broken = True  # its job may still run: never hand it to the next one
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this task is being cancelled: let it
            raise ParseError("parse_crash", "parse job cancelled") from None

    def _new_worker(self) -> _Worker:
        worker = _Worker(
            ProcessPoolExecutor(
                max_workers=1,
                mp_context=get_context("forkserver"),
                initializer=_init_worker,
                initargs=(self.memory_limit, os.getpid()),
            )
        )
        self._live.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        self._live.discard(worker)
        _kill(worker.executor)


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop ``executor`` and its process now; harmless if it is already shut down.

    ProcessPoolExecutor cannot cancel a running call; terminating its process is
    the only way to stop a runaway parse."""
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(Exception):  # already gone
            process.terminate()
    with contextlib.suppress(Exception):
        executor.shutdown(wait=False, cancel_futures=True)
