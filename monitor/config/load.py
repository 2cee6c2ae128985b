"""Loading the config file: the schema of each section, every problem at once.

:func:`load_config` reads one YAML file, expands ``${ENV}`` references and
checks every section against its schema (:data:`_SECTIONS`, and the section
readers of :mod:`~monitor.config.feeds`, :mod:`~monitor.config.routes` and
:mod:`~monitor.config.receivers`), raising one
:class:`~monitor.errors.ConfigError` with every problem as ``file:line: message``.
"""

from __future__ import annotations

import glob
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from typing import Any

import yaml

from monitor.addresses import parse_allowed
from monitor.config import routes, values
from monitor.config.feeds import FeedSection
from monitor.config.receivers import ReceiverSection
from monitor.config.secrets import Secret
from monitor.config.settings import (
    BusConfig,
    DeliveryConfig,
    FeedConfig,
    FetchConfig,
    HttpConfig,
    LogConfig,
    ReceiverSchema,
    ScheduleConfig,
    Settings,
    StateConfig,
    StoriesConfig,
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


# --- the schema ----------------------------------------------------------------------


def _networks(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    hidden = any(isinstance(item, Secret) for item in items)  # no ${...} value in messages
    return tuple(_allowed(entry, hidden) for entry in values.strings(value))


def _allowed(entry: str, hidden: bool = False) -> str:
    """One ``allow_networks`` entry, parsed by the fetcher's own parser, normalised:
    ``10.0.0.0/8``, ``127.0.0.1/32:8080``, ``[::1/128]:8080``."""
    try:
        rule = parse_allowed(entry)
    except ValueError as exc:
        try:  # a CIDR with host bits set ('10.0.0.1/8') has always been taken, normalised
            return str(ipaddress.ip_network(entry, strict=False))
        except ValueError as cidr_exc:
            if hidden:
                raise values.Invalid(
                    "expected networks such as '127.0.0.1/32' or '127.0.0.1:8080',"
                    " got a bad entry in a value from ${...} (hidden)"
                ) from None
            if entry.startswith("[") or entry.count(":") == 1:  # the form with a port
                raise values.Invalid(
                    "expected a network and port such as '127.0.0.1:8080' or '[::1]:8080',"
                    f" got {entry!r}: {exc}"
                ) from None
            raise values.Invalid(
                f"expected CIDR networks such as '127.0.0.1/32': {cidr_exc}"
            ) from None
    if rule.port is None:
        return str(rule.network)
    if rule.network.version == 6:
        return f"[{rule.network}]:{rule.port}"
    return f"{rule.network}:{rule.port}"


def _listen(value: Any) -> str:
    v = values.string(value)
    host, _, port = v.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 <= int(port) < 65536:
        raise values.Invalid(
            f"expected 'host:port' such as '127.0.0.1:9464' (port 0: any free port),"
            f" got {values.show(value)}"
        )
    return v


MIN_TOKEN = 16  # characters of http.auth_token, at least


def _token(value: Any) -> Secret:
    """``http.auth_token``: from the environment (``${NEWSMON_UI_TOKEN}``), never
    written in the file, and long enough not to be guessed."""
    if not isinstance(value, Secret):
        raise values.Invalid(
            "expected the token from the environment, such as '${NEWSMON_UI_TOKEN}'"
            " (a token written in the file is read by whoever reads the file)"
        )
    token = values.string(value)
    if len(token) < MIN_TOKEN:
        raise values.Invalid(
            f"the token from ${{...}} has {len(token)} characters: expected at least"
            f" {MIN_TOKEN} (e.g. `openssl rand -hex 16`)"
        )
    return value


_SECTIONS: dict[str, tuple[type[Any], dict[str, values.Conv]]] = {
    "bus": (
        BusConfig,
        {
            "kind": values.choice("memory", "kafka"),
            "queue_size": values.integer(1, 10_000_000),
            "bootstrap_servers": values.strings,
            "topic_prefix": values.string,
            "group_id": values.string,
            "partitions": values.integer(1, 10_000),
            "replication_factor": values.integer(1, 100),
            "retention": values.duration,
            "dead_letter": values.boolean,
            "compression": values.choice("none", "gzip", "snappy", "lz4", "zstd"),
            "linger": values.duration,
            "batch_size": values.size,
            "session_timeout": values.duration,
            "heartbeat_interval": values.duration,
            "max_poll_interval": values.duration,
            "commit_interval": values.duration,
        },
    ),
    "state": (
        StateConfig,
        {
            "path": values.string,
            "seen_retention_days": values.real(0, 36500, above=True),
            "item_retention": values.duration,
            "max_items": values.integer(0, 100_000_000),
        },
    ),
    "http": (
        HttpConfig,
        {"listen": _listen, "enabled": values.boolean, "auth_token": _token},
    ),
    "fetch": (
        FetchConfig,
        {
            "timeout": values.duration,
            "connect_timeout": values.duration,
            "max_bytes": values.size,
            "max_redirects": values.integer(0, 20),
            "per_host": values.integer(1, 1000),
            "concurrency": values.integer(1, 100_000),
            "user_agent": values.secret_string,
            "allow_networks": _networks,
            "parse_timeout": values.duration,
            "max_field_bytes": values.size,
            "max_items": values.integer(1, 1_000_000),
        },
    ),
    "schedule": (
        ScheduleConfig,
        {
            "interval": values.duration,
            "min_interval": values.duration,
            "max_interval": values.duration,
            "jitter": values.real(0, 0.5),
            "max_backoff": values.duration,
        },
    ),
    "stories": (
        StoriesConfig,
        {"window": values.duration, "threshold": values.real(0, 100, above=True)},
    ),
    "delivery": (
        DeliveryConfig,
        {
            "horizon": values.duration,
            "timeout": values.duration,
            "backoff": values.duration,
            "max_backoff": values.duration,
        },
    ),
    "log": (
        LogConfig,
        {
            "format": values.choice("text", "json"),
            "level": values.choice("debug", "info", "warning", "error"),
        },
    ),
}
_TOP = {"feeds", "rules", "receivers", "route", "time_intervals", *_SECTIONS}


# Apache Kafka's bounds on a consumer group member's timeouts: a join outside the broker's
# group.min/max.session.timeout.ms (defaults 6 s, 30 min) is refused (INVALID_SESSION_TIMEOUT)
KAFKA_MIN_SESSION, KAFKA_MAX_SESSION = 6.0, 1800.0


def bus_timing_problems(b: BusConfig) -> list[tuple[str, str]]:
    """(key, message) for each group timeout Kafka would refuse or that breaks the group:
    a session outside 6 s..30 min, heartbeats less than three per session, a poll interval
    shorter than the session. On the memory bus, only heartbeat < session (as always)."""
    s, h, p, show = b.session_timeout, b.heartbeat_interval, b.max_poll_interval, values.seconds
    if b.kind != "kafka":
        if h < s:
            return []
        return [("heartbeat_interval", "bus: expected heartbeat_interval < session_timeout,"
                 f" got {show(h)} >= {show(s)}")]  # fmt: skip
    problems = []
    if not KAFKA_MIN_SESSION <= s <= KAFKA_MAX_SESSION:
        problems.append(("session_timeout", (
            f"bus.session_timeout: {show(s)} is outside what Apache Kafka accepts by default"
            f" ({show(KAFKA_MIN_SESSION)} to 30m, the broker's group.min.session.timeout.ms and"
            " group.max.session.timeout.ms): joining the group would fail with"
            " INVALID_SESSION_TIMEOUT; a daemon that dies is noticed after this long, so"
            " 6s to 30s is usual")))  # fmt: skip
    if h > s / 3:
        problems.append(("heartbeat_interval", (
            f"bus.heartbeat_interval: expected at most a third of session_timeout"
            f" ({show(s)} / 3 = {show(round(s / 3, 3))}), got {show(h)}: two lost heartbeats"
            " would end the daemon's session")))  # fmt: skip
    if p < s:
        problems.append(("max_poll_interval", (
            f"bus.max_poll_interval: expected at least session_timeout ({show(s)}), got"
            f" {show(p)}: it also bounds how long a rebalance waits for a member")))  # fmt: skip
    return problems


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
