"""What runs inside a parse worker process besides the parse itself: its start
(address-space cap, SIGINT ignored, exit with the daemon), its warm-up, and the
CPU time reported with each job (:mod:`monitor.sources.pool`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from monitor.config import FeedConfig
from monitor.sources.parse import parse_and_normalise


def init_worker(memory_limit: int, owner: int) -> None:
    """Worker initializer: cap the address space so a blow-up fails, not the host;
    ignore SIGINT (Ctrl-C reaches the terminal's whole process group: the daemon
    stops its workers itself, and a worker's KeyboardInterrupt traceback would read
    like a crash); and exit when the daemon (``owner``) does, however it ended."""
    import resource
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

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


_WARM_FEEDS = (
    b'<rss version="2.0"><channel><title>t</title><item><title>a</title>'
    b"<link>https://example.org/a</link><pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>"
    b"<description>&lt;p&gt;b&lt;/p&gt;</description></item></channel></rss>",
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>a</title>'
    b'<link href="https://example.org/a"/><updated>2003-12-13T18:30:02Z</updated>'
    b'<summary type="html">&lt;p&gt;b&lt;/p&gt;</summary></entry></feed>',
)


def ready() -> float:
    """A worker's first job: it has started, and has parsed a tiny RSS and Atom feed,
    so the first use of the parser (lazy imports, patterns compiled on first use:
    over a second on a loaded machine) is not charged to a real feed's deadline.
    Returns the worker's CPU time so far."""
    warm = FeedConfig(url="https://example.org/feed", name="warm-up")
    for body in _WARM_FEEDS:
        parse_and_normalise(body, {}, warm, datetime(2003, 12, 13, tzinfo=UTC))
    return time.process_time()


def timed(job: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``job`` in the worker; its result and the worker's CPU time after it."""
    return job(), time.process_time()
