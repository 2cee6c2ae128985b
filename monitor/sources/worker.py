"""What runs inside a parse worker process: its start (address-space cap, SIGINT
ignored, exit with the daemon), its warm-up, and its loop over the jobs the pool
sends it (:mod:`monitor.sources.pool`).

The protocol, one socket per worker: every message is a frame, an 8-byte
big-endian length and a pickle. The pool sends a job (a picklable callable);
the worker answers ``(kind, value, cpu)``: :data:`READY` once, after its
warm-up; then for each job :data:`DONE` and the job's result, or :data:`FAILED`
and the exception it raised; ``cpu`` is the worker's CPU seconds so far. The
worker exits when the daemon closes its end (or dies: see :func:`init_worker`).
"""

from __future__ import annotations

import copyreg
import io
import operator
import pickle
import socket
import struct
import time
from datetime import UTC, datetime
from typing import Any

from monitor.config import FeedConfig
from monitor.model import Item
from monitor.sources.normalise import ParsedFeed
from monitor.sources.parse import parse_and_normalise

HEADER = struct.Struct("!Q")  # a frame's length
READY, DONE, FAILED = 0, 1, 2

# Items and parsed feeds travel as their constructor's arguments: the default
# pickling of a slotted dataclass calls dataclasses.fields() per object, on both
# sides, which cost more than the rest of a 50-item feed's message.
_ITEM_VALUES = operator.attrgetter(*Item.__dataclass_fields__)
_PARSED_VALUES = operator.attrgetter(*ParsedFeed.__dataclass_fields__)
_TABLE = copyreg.dispatch_table.copy()
_TABLE[Item] = lambda item: (Item, _ITEM_VALUES(item))
_TABLE[ParsedFeed] = lambda parsed: (ParsedFeed, _PARSED_VALUES(parsed))


def dumps(value: object) -> bytes:
    """``value`` pickled (Items and ParsedFeeds by their fields, as above)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _TABLE
    pickler.dump(value)
    return out.getvalue()


def serve(sock: socket.socket, memory_limit: int, owner: int) -> None:
    """A worker process's life: start, warm up, say so, then run jobs until the
    daemon closes the socket."""
    init_worker(memory_limit, owner)
    reader = sock.makefile("rb")
    try:
        _send(sock, (READY, None, ready()))
        while True:
            head = reader.read(HEADER.size)
            if len(head) < HEADER.size:
                return  # the daemon closed its end: nothing left to do
            (size,) = HEADER.unpack(head)
            data = reader.read(size)
            if len(data) < size:
                return
            _send(sock, _run(data))
    except OSError:  # the daemon went away mid-message
        return


def _run(data: bytes) -> tuple[int, Any, float]:
    try:
        job = pickle.loads(data)
        return DONE, job(), time.process_time()
    except Exception as exc:  # the job's own error (ParseError, MemoryError ...): the pool's
        return FAILED, exc, time.process_time()


def _send(sock: socket.socket, message: tuple[int, Any, float]) -> None:
    try:
        payload = dumps(message)
    except Exception as exc:  # a result or exception that does not pickle: say what it was
        text = f"{type(exc).__name__}: {exc}"[:200]
        payload = dumps((FAILED, RuntimeError(f"unpicklable parse result ({text})"), message[2]))
    sock.sendall(HEADER.pack(len(payload)) + payload)


def init_worker(memory_limit: int, owner: int) -> None:
    """Cap the address space so a blow-up fails, not the host; ignore SIGINT
    (Ctrl-C reaches the terminal's whole process group: the daemon stops its
    workers itself, and a worker's KeyboardInterrupt traceback would read like a
    crash); and exit when the daemon (``owner``) does, however it ended (a
    runaway parse reads no socket)."""
    import resource
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    if memory_limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    threading.Thread(target=_exit_with, args=(owner,), name="owner-watch", daemon=True).start()


def _exit_with(owner: int) -> None:
    """Block until process ``owner`` ends, then end this one (orphans would keep
    the daemon's stdout/stderr open and pile up)."""
    import os
    import select

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


_WARM_FEEDS = (
    b'<rss version="2.0"><channel><title>t</title><item><title>a</title>'
    b"<link>https://example.org/a</link><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>"
    b"<description>&lt;p&gt;b&lt;/p&gt;</description></item></channel></rss>",
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title>'
    b'<link href="https://example.org/a"/><updated>2003-12-13T18:30:02Z</updated>'
    b'<summary type="html">&lt;p&gt;b&lt;/p&gt;</summary></entry></feed>',
)


def ready() -> float:
    """A worker's warm-up: it parses a tiny RSS and Atom feed, so the first use of
    the parser (lazy imports, patterns compiled on first use: over a second on a
    loaded machine) is not charged to a real feed's deadline. Returns the worker's
    CPU time so far."""
    warm = FeedConfig(url="https://example.org/feed", name="warm-up")
    for body in _WARM_FEEDS:
        parse_and_normalise(body, {}, warm, datetime(2003, 12, 13, tzinfo=UTC))
    return time.process_time()
