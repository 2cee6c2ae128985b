"""The parse workers: :func:`~monitor.sources.parse.parse_and_normalise` in
processes of their own, each body under a deadline and an address-space cap.

A runaway parse (a body feedparser chews on for minutes, or one that blows up
memory) costs only its own feed: its worker is killed and replaced, no other
feed's job is touched. The pool admits only a few bodies at a time (workers +
a short queue), and the fetcher waits for that admission before it lets its
slot go, so bodies in memory stay bounded whatever the number of feeds.

Each worker (:mod:`monitor.sources.poolworker`) is one process with one socket to the
daemon, read by the event loop itself (a protocol on the socket): a job is one write and
its answer one read, with no thread or queue between (``concurrent.futures``' process
pool hands each job through two threads and a queue: ~300 µs of the daemon's CPU per
job, most of a changed feed's poll). The messages are in :mod:`monitor.sources.worker`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial

from monitor.config import FeedConfig
from monitor.errors import ParseError
from monitor.sources.bound import MAX_ITEMS
from monitor.sources.normalise import ParsedFeed
from monitor.sources.parse import parse_and_normalise
from monitor.sources.poolworker import Answer, _Died, _kill, _reap, _Worker
from monitor.sources.worker import DONE

START_TIMEOUT = 60.0  # seconds a new worker process may take to start (not a parse's deadline)
WALL_FACTOR = 10.0  # a job making no CPU progress is given up after timeout x this, wall clock


class ParsePool:
    """Parse + normalise in worker processes, each body under a deadline.

    Usage::

        async with ParsePool(workers=2, timeout=10.0) as pool:
            async with pool.admission() as admit:     # optional: bounds bodies in memory
                result = await fetcher.fetch(url, admit=admit)
                parsed = await pool.parse(result.body, result.headers, feed, seen=now)

    A job waits for an idle worker first; its ``timeout`` starts only then (and
    after a new worker's start-up and warm-up), so a queue of bodies never times
    out an ordinary one. ``timeout`` is CPU time, as ``fetch.parse_timeout`` says:
    the worker's own, read from /proc when the job has run ``timeout`` seconds of
    wall-clock time. A job that has not used that much CPU is waited for (the
    machine is busy, the job is not runaway), up to ``WALL_FACTOR`` x ``timeout``
    of wall-clock time (a job that makes no progress at all). Each worker is a
    process of its own: a body that overruns gets ``ParseError("parse_timeout")``
    and only its worker is killed and replaced; a dead worker gives
    ``ParseError("parse_crash")``. No other job is ever cancelled or failed by that.

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
        max_items: int = MAX_ITEMS,
    ) -> None:
        self.workers = max(1, workers)
        self.queue = 2 * self.workers if queue is None else max(0, queue)
        self.timeout = timeout
        self.max_field_bytes = max_field_bytes
        self.memory_limit = memory_limit
        self.max_items = max_items  # entries read per body, the newest (fetch.max_items)
        self._idle: asyncio.Queue[_Worker] | None = None
        self._live: set[_Worker] = set()
        self._room: asyncio.Semaphore | None = None

    async def __aenter__(self) -> ParsePool:
        self._idle = asyncio.Queue()
        for _ in range(self.workers):
            self._idle.put_nowait(self._new_worker())
        self._room = asyncio.Semaphore(self.workers + self.queue)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._idle = None
        processes = [w.process for w in self._live if w.process is not None]
        for worker in list(self._live):
            self._retire(worker)
        if processes:
            await asyncio.to_thread(_reap, processes)

    def admission(self) -> Admission:
        """An async context manager yielding ``admit``: awaiting it (once or more)
        takes one of the ``workers + queue`` places for a body, held until the block
        ends."""
        return Admission(self._room)

    async def parse(
        self,
        body: bytes,
        headers: Mapping[str, str],
        feed: FeedConfig,
        *,
        seen: datetime,
        known: bytes = b"",
    ) -> ParsedFeed:
        """Parse and normalise one body off the event loop; items whose id digest is
        in ``known`` (the feed's previous body) are left out."""
        job = partial(parse_and_normalise, body, dict(headers), feed, seen,
                      self.max_field_bytes, known, self.max_items)  # fmt: skip
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
                    worker.cpu = await worker.start(self.memory_limit)
                worker.started = True
            assert worker.channel is not None
            kind, value, worker.cpu = await self._bounded(worker, worker.channel.send(job))
        except TimeoutError as exc:
            worker.broken = True
            what = f"over {self.timeout:g}s" if worker.started else "worker did not start"
            raise ParseError("parse_timeout" if worker.started else "parse_crash", what) from exc
        except _Died as exc:
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
        if kind == DONE:
            return value  # type: ignore[no-any-return]
        if isinstance(value, MemoryError):
            raise ParseError("parse_crash", "out of memory") from value
        raise value

    async def _bounded(self, worker: _Worker, done: asyncio.Future[Answer]) -> Answer:
        """``done``'s result, or TimeoutError once the job used ``timeout`` of the
        worker's CPU time (or ``WALL_FACTOR`` x ``timeout`` of wall-clock time)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.timeout * WALL_FACTOR

        def look() -> None:  # at each wall-clock deadline: has the job used its CPU time?
            now = worker.cpu_seconds()
            used = self.timeout if now is None else now - worker.cpu  # unknown: wall
            wall_left = give_up - loop.time()
            if used >= self.timeout or wall_left <= 0:
                if not done.done():
                    done.set_exception(TimeoutError())
                return
            worker.timer = loop.call_later(max(min(self.timeout - used, wall_left), 0.05), look)

        worker.timer = loop.call_later(self.timeout, look)
        try:
            return await done
        finally:
            worker.timer.cancel()

    def _new_worker(self) -> _Worker:
        worker = _Worker()
        self._live.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        self._live.discard(worker)
        _kill(worker)


class Admission:
    """One caller's place among the bodies the pool admits (see :meth:`ParsePool.admission`);
    a plain object rather than a generator-based context manager: one per poll."""

    __slots__ = ("_held", "_room")

    def __init__(self, room: asyncio.Semaphore | None) -> None:
        self._room = room
        self._held = False

    async def __aenter__(self) -> Callable[[], Awaitable[None]]:
        return self._admit

    async def __aexit__(self, *exc: object) -> None:
        if self._held and self._room is not None:
            self._held = False
            self._room.release()

    async def _admit(self) -> None:
        if not self._held and self._room is not None:
            await self._room.acquire()
            self._held = True
