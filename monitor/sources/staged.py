"""Writing what the polls staged (:class:`~monitor.sources.poller.Poller`): feed states,
seen marks and retained items in one transaction every FLUSH_EVERY seconds and once on
the way out, the retained items pruned every PRUNE_EVERY, a failing store logged once
(and once again when it changes or ends)."""

from __future__ import annotations

import asyncio
import logging

from monitor.errors import StoreError
from monitor.sources.poll import Polls
from monitor.sources.waits import _sleep_unless

log = logging.getLogger("monitor.sources.poller")

FLUSH_EVERY = 1.0  # seconds between two writes of the staged feed states and seen marks
PRUNE_EVERY = 60.0  # seconds between two prunes of the retained items


class StagedWrites(Polls):
    # set by Poller.__init__
    _retention: tuple[float, int]  # (item_retention seconds, max_items)
    _pruned: float  # when the retained items were last pruned
    _store_error: str | None  # the store failure logged last (None: none, or recovered)

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        while not await _sleep_unless(stop, FLUSH_EVERY):
            self._flush()

    def _flush(self, *, final: bool = False) -> None:
        """Write what the polls staged; a failure is logged once and retried."""
        try:
            if self._store.staged:
                self._store.flush()
            now = self._clock()
            if not final and now - self._pruned >= PRUNE_EVERY:
                self._pruned = now
                retention, keep = self._retention
                self._store.forget_items(now - retention, keep)
        except StoreError as exc:
            self._store_failed(exc)
            if final:
                log.warning("state_not_saved rows=%d (their feeds are polled again on the next"
                            " start; their items published again)", self._store.staged)  # fmt: skip
            return
        self._store_failed(None)

    def _store_failed(self, exc: StoreError | None) -> None:
        """Log a store failure once (and once again when it changes or ends)."""
        text = None if exc is None else str(exc)
        if text == self._store_error:
            return
        if text is None:
            log.info("store_recovered")
        else:
            log.warning("store_failed error=%s (kept in memory and written again; polls"
                        " go on)", text)  # fmt: skip
        self._store_error = text
