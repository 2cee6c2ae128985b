"""Hot reload of rule files: notice a change, swap in a new engine or say why not.

:class:`RuleWatcher` remembers (path, mtime, size) of every file the config's
rule globs match; ``changed()`` is true when a file was edited, added or
removed. ``reload()`` loads and compiles all of them into a new
:class:`~monitor.rules.engine.Engine`, or raises ConfigError with every
problem as ``file:line: message``; the caller keeps the engine it has.

:class:`RuleReloader` is the daemon's loop over it: it polls ``changed()`` every
second and wakes on :meth:`~RuleReloader.request` (SIGHUP); on a change it swaps
:attr:`~RuleReloader.engine` between items, or keeps the old one, counts the
failure and logs it once per distinct error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable

from monitor.errors import ConfigError
from monitor.metrics import Metrics
from monitor.rules.engine import Engine
from monitor.rules.load import load_rules, rule_files

log = logging.getLogger(__name__)

Stamp = tuple[tuple[str, int, int], ...]


class RuleWatcher:
    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._stamp = self.stamp()
        self._reported: str | None = None

    def stamp(self) -> Stamp:
        """What the rule files look like now: (path, mtime_ns, size) each."""
        out = []
        for path in rule_files(self.patterns):
            try:
                info = os.stat(path)
            except OSError:
                continue
            out.append((path, info.st_mtime_ns, info.st_size))
        return tuple(out)

    def changed(self) -> bool:
        return self.stamp() != self._stamp

    def reload(self) -> Engine:
        """A new engine from the files as they are now; ConfigError if any is bad.

        The files' state is remembered either way, so a bad file is reported
        once and tried again only when it changes (or when asked to)."""
        self._stamp = self.stamp()
        engine = Engine(load_rules(path for path, _, _ in self._stamp))
        self._reported = None
        return engine

    def first_report(self, error: str) -> bool:
        """Whether this error differs from the last one reported (log it once)."""
        fresh = error != self._reported
        self._reported = error
        return fresh


class RuleReloader:
    """The live engine, and the loop that replaces it when the rule files change."""

    def __init__(self, patterns: Iterable[str], metrics: Metrics) -> None:
        self.patterns = tuple(patterns)
        self.metrics = metrics
        self.engine = Engine(load_rules(rule_files(self.patterns)))  # ConfigError: no start
        self.watcher = RuleWatcher(self.patterns)
        self._requested = asyncio.Event()
        self._counted(self.engine)

    def request(self) -> None:
        """Reload the rule files now (SIGHUP), changed or not."""
        self._requested.set()

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the rule files every ``interval`` s, and wake on :meth:`request`."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._requested.wait(), interval)
            asked = self._requested.is_set()
            self._requested.clear()
            if asked or await asyncio.to_thread(self.watcher.changed):
                await self.reload()

    async def reload(self) -> None:
        """Swap in the rules as the files are now; on any failure count it, say why
        (once per distinct error) and keep the rules that run."""
        try:
            engine = await asyncio.to_thread(self.watcher.reload)
        except ConfigError as exc:
            self._failed(str(exc), [str(p) for p in exc.problems], None)
            return
        except Exception as exc:  # a bug, or e.g. RecursionError on a hostile file
            error = f"{type(exc).__name__}: {exc}"
            self._failed(error, [], exc)
            return
        self.engine = engine  # the rules stage picks it up with its next item
        self._counted(engine)
        self.metrics.rule_reloads.labels("ok").inc()
        log.info("rules_reloaded rules=%d", len(engine.rules))

    def _failed(self, error: str, problems: list[str], exc: Exception | None) -> None:
        self.metrics.rule_reloads.labels("failed").inc()
        if not self.watcher.first_report(error):
            return
        for problem in problems:
            log.error("rules_reload_failed problem=%s", problem)
        if exc is not None:
            log.error("rules_reload_failed error=%s", error, exc_info=exc)
        log.warning("rules_kept rules=%d", len(self.engine.rules))

    def _counted(self, engine: Engine) -> None:
        self.metrics.init_rules(r.name for r in engine.rules)
        self.metrics.rules_loaded.set(len(engine.rules))
