"""Loading the config file: the schema of each section, every problem at once.

:func:`load_config` reads one YAML file, expands ``${ENV}`` references and
checks every section against its schema (:mod:`~monitor.config.schema`, and the section
readers of :mod:`~monitor.config.feeds`, :mod:`~monitor.config.routes` and
:mod:`~monitor.config.receivers`), raising one
:class:`~monitor.errors.ConfigError` with every problem as ``file:line: message``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from typing import Any

import yaml

from monitor.config import routes, values
from monitor.config.feeds import FeedSection
from monitor.config.receivers import ReceiverSection
from monitor.config.schema import _SECTIONS, _TOP, MIN_TOKEN, bus_timing_problems
from monitor.config.secrets import Secret
from monitor.config.settings import (
    BusConfig,
    FeedConfig,
    HttpConfig,
    ReceiverSchema,
    ScheduleConfig,
    Settings,
    StateConfig,
)
from monitor.config.yamlfile import YamlFile, is_null, line
from monitor.errors import ConfigError, Problem


def load_config(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    receivers: Mapping[str, ReceiverSchema] | None = None,
) -> Settings:
    """Read, expand, validate. Raises :class:`ConfigError` carrying EVERY problem.

    ``receivers`` maps each known receiver kind to its options; when None, kinds
    and options are not checked (the sinks check them later).
    """
    settings, problems = check_config(path, env=env, receivers=receivers)
    if problems:
        raise ConfigError(problems)
    return settings


def check_config(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    receivers: Mapping[str, ReceiverSchema] | None = None,
) -> tuple[Settings, list[Problem]]:
    """:func:`load_config` without raising: the settings as far as they could be
    read (a bad value left at its default) and every problem, sorted, each once,
    so ``newsmon check`` can go on to the rule files."""
    loader = _Loader(os.fspath(path), os.environ if env is None else env, receivers)
    settings = loader.load()
    try:
        loader.raise_problems()
    except ConfigError as exc:
        return settings, exc.problems
    return settings, []


def settings_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, every :class:`Secret` shown as ``***``."""
    dumped = _dump(settings)
    assert isinstance(dumped, dict)
    return dumped


def _dump(value: Any) -> Any:
    if isinstance(value, Secret):
        return "***"
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    return value


# --- the file ------------------------------------------------------------------------


class _Loader(YamlFile):
    """One load of newsmon's config: the schema on top of the generic node walk."""

    def __init__(
        self, file: str, env: Mapping[str, str], schemas: Mapping[str, ReceiverSchema] | None
    ) -> None:
        super().__init__(file, env)
        self.schemas = schemas
        self._broken: set[str] = set()  # sections with a bad key: no cross-key checks
        self._bus_lines: dict[str, int] = {}  # bus key -> its line, for the timing checks

    def load(self) -> Settings:
        top: dict[str, tuple[int, yaml.Node]] = {}
        if (root := self.compose("config")) is not None:
            for key, (knode, vnode) in self.known(root, "the config", _TOP, label="").items():
                if not is_null(vnode):
                    top[key] = (line(knode), vnode)
        parts = {name: self.section(name, top.get(name)) for name in _SECTIONS}
        self.check(parts, {name: at for name, (at, _) in top.items()})
        state: StateConfig = parts["state"]
        schedule: ScheduleConfig = parts["schedule"]
        receivers = ReceiverSection(self, self.schemas).read(top.get("receivers"))
        intervals = routes.time_intervals(self, top.get("time_intervals"))
        tree = routes.RouteSection(self, {r.name for r in receivers}, {i.name for i in intervals})
        return Settings(
            path=self.file,
            feeds=self.feeds(top.get("feeds"), schedule),
            rules=self.rules(top.get("rules")),
            receivers=receivers,
            route=tree.read(top.get("route")),
            time_intervals=intervals,
            state=replace(state, path=str(self.base / state.path)),
            **{k: v for k, v in parts.items() if k != "state"},
        )

    def section(self, name: str, entry: tuple[int, yaml.Node] | None) -> Any:
        cls, convs = _SECTIONS[name]
        if name == "bus" and entry is not None and isinstance(entry[1], yaml.MappingNode):
            self._bus_lines = {k.value: line(k) for k, _ in entry[1].value
                               if isinstance(k, yaml.ScalarNode)}  # fmt: skip
        before = len(self.problems)
        kwargs = self.fields(entry[1], name, convs) if entry else {}
        if len(self.problems) > before:
            self._broken.add(name)
        return cls(**kwargs)

    def check(self, parts: dict[str, Any], lines: dict[str, int]) -> None:
        """Rules between the keys of one section."""
        s: ScheduleConfig = parts["schedule"]
        if "schedule" not in self._broken and not s.min_interval <= s.interval <= s.max_interval:
            self.problem(
                lines.get("schedule", 0),
                "schedule: expected min_interval <= interval <= max_interval, got"
                f" {values.seconds(s.min_interval)} <= {values.seconds(s.interval)}"
                f" <= {values.seconds(s.max_interval)}",
            )
        h: HttpConfig = parts["http"]
        if "http" not in self._broken and h.enabled and not h.loopback and h.auth_token is None:
            self.problem(
                lines.get("http", 0),
                f"http: listen {h.listen!r} is off loopback: the web UI and API there need"
                " http.auth_token: '${NEWSMON_UI_TOKEN}' (a token of at least"
                f" {MIN_TOKEN} characters from the environment)",
            )
        b: BusConfig = parts["bus"]
        at = lines.get("bus", 0)
        if b.kind == "kafka" and not b.bootstrap_servers:
            self.problem(at, "bus: kind kafka needs bootstrap_servers (e.g. 'localhost:9092')")
        if "bus" in self._broken:
            return
        keys = self._bus_lines
        for key, message in bus_timing_problems(b):
            self.problem(keys.get(key, at), message)

    def feeds(
        self, entry: tuple[int, yaml.Node] | None, sched: ScheduleConfig
    ) -> tuple[FeedConfig, ...]:
        if entry is None:
            return ()
        bounds = None if "schedule" in self._broken else (sched.min_interval, sched.max_interval)
        return tuple(
            FeedConfig(**feed._asdict()) for feed in FeedSection(self, bounds).read(entry[1])
        )

    def rules(self, entry: tuple[int, yaml.Node] | None) -> tuple[str, ...]:
        if entry is None:
            return ()
        node = entry[1]
        patterns = []
        for item in node.value if isinstance(node, yaml.SequenceNode) else [node]:
            if (pattern := self.convert(item, values.string, "rules")) is values.MISSING:
                continue
            full = os.path.join(glob.escape(str(self.base)), pattern)
            if not glob.glob(full, recursive=True):
                raw = item.value if isinstance(item, yaml.ScalarNode) else pattern
                self.problem(line(item), f"rules: {raw!r} matches no file (in {self.base})")
            patterns.append(full)
        return tuple(patterns)
