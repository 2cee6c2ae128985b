"""Hot reload of rule files: notice a change, build a new engine or say why not.

:class:`RuleWatcher` remembers (path, mtime, size) of every file the config's
rule globs match; ``changed()`` is true when a file was edited, added or
removed. ``reload()`` loads and compiles all of them into a new
:class:`~monitor.rules.engine.Engine`, or raises ConfigError with every
problem as ``file:line: message``; the caller keeps the engine it has.
The daemon (``monitor.app``) polls ``changed()`` every second and on SIGHUP.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from monitor.rules.engine import Engine
from monitor.rules.load import load_rules, rule_files

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
