"""newsmon's configuration: one YAML file -> frozen settings.

Built once by the CLI and passed down explicitly; no module-level config.
Values written as ``${ENV_VAR}`` (or ``${ENV_VAR:-default}``) are expanded from
the environment; such a scalar becomes a :class:`Secret`, which never prints its
value (repr, str, logs, :func:`settings_dump`, error messages). Receiver options
and ``fetch.user_agent`` keep the ``Secret``; plain-typed settings (paths, hosts,
durations) get the revealed value. A feed URL with a ``${...}`` in it (or credentials) is known by
the URL as written (see :class:`FeedConfig`). Every problem in the file is reported at once, as
``file:line: message``, in one :class:`~monitor.errors.ConfigError`::

    feeds:                          # a URL, a mapping, or an include
      - https://example.com/rss.xml
      - {url: https://www.reuters.com/world/rss, name: Reuters World, interval: 2m}
      - file: feeds.txt             # one "URL [name]" a line; '#' comments, blank lines
      - opml: subscriptions.opml    # every <outline xmlUrl=...>, nested too; title/text -> name
    rules: ["rules/*.yaml"]         # globs against this file's folder; each must match
    bus: {kind: memory, queue_size: 1000}   # or kind: kafka + bootstrap_servers,
                                            #    topic_prefix, group_id, partitions,
                                            #    replication_factor, retention, dead_letter,
                                            #    compression, linger, batch_size,
                                            #    session_timeout, heartbeat_interval,
                                            #    max_poll_interval, commit_interval
    state: {path: newsmon.db, seen_retention_days: 90}  # path against this file's folder;
                                            # retention: seen item ids, sent alerts listed
    http: {listen: "127.0.0.1:9464", enabled: true}
    fetch: {timeout: 20s, connect_timeout: 10s, max_bytes: 10MiB, max_redirects: 5,
            per_host: 2, concurrency: 100, user_agent: "...",
            allow_networks: ["127.0.0.1/32", "[::1]:8080"],  # CIDR or address, [:port]
            parse_timeout: 10s, max_field_bytes: 64KiB}
    schedule: {interval: 5m, min_interval: 1m, max_interval: 1h, jitter: 0.1, max_backoff: 6h}
    log: {format: text, level: info}        # text | json; debug | info | warning | error
    receivers:                              # absent -> one {name: console, kind: console}
      - {name: desk-file, kind: file, path: alerts.jsonl}
      - {name: slack-desk, kind: slack, url: "${SLACK_WEBHOOK_URL}"}

Durations are seconds (``30``, ``0.5``) or ``90s``, ``5m``, ``1h30m``, ``2d``; sizes
are bytes or ``64KiB``, ``10MiB``, ``1MB``. Every section and key is optional.
"""

from __future__ import annotations

import glob
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from monitor import routetree as routes
from monitor import yamlfile as y
from monitor.addresses import parse_allowed
from monitor.errors import ConfigError, Problem
from monitor.feedlist import FeedSection
from monitor.routetree import Matcher as Matcher  # re-exported: part of the settings API
from monitor.routetree import RouteConfig as RouteConfig
from monitor.routetree import TimeInterval as TimeInterval
from monitor.yamlfile import Secret as Secret  # re-exported: part of the settings API
from monitor.yamlfile import redact_urls as redact_urls
from monitor.yamlfile import reveal as reveal
from monitor.yamlfile import shown_url as shown_url

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One feed. ``url`` is its identity (state, items, alerts, logs, dumps): the URL
    as written, with ``${VAR}`` references left unexpanded and any userinfo shown as
    ``***@``. When that is not the URL to fetch, ``secret_url`` holds the real one
    (only the fetcher reveals it, through :attr:`fetch_url`)."""

    url: str
    name: str  # defaults to the URL; used in logs and bounded metric labels
    interval: float | None = None  # seconds; None = the schedule default
    file: str = ""  # where it was declared, for messages
    line: int = 0
    secret_url: Secret | None = None  # the URL to fetch, when it differs from url

    @property
    def fetch_url(self) -> str:
        """The URL to fetch (revealed: never log or store it)."""
        return self.url if self.secret_url is None else self.secret_url.reveal()

    @property
    def base(self) -> str:
        """What relative item links resolve against: the URL fetched, without its
        userinfo, query and fragment, and without its path when the path was
        written with a ``${...}`` in it; the URL itself for a feed with no secret."""
        if self.secret_url is None:
            return self.url
        try:
            real = urlsplit(self.secret_url.reveal())
            shown = urlsplit(self.url)
        except ValueError:
            return ""
        path = real.path if "${" not in shown.path + shown.netloc else "/"
        return urlunsplit((real.scheme, real.netloc.rpartition("@")[2], path or "/", "", ""))


@dataclass(frozen=True, slots=True)
class FetchConfig:
    timeout: float = 20.0  # total deadline of one fetch, redirects included, seconds
    connect_timeout: float = 10.0  # bounded by timeout anyway: the total deadline
    max_bytes: int = 10 * MiB  # body cap after decompression
    max_redirects: int = 5
    per_host: int = 2  # concurrent fetches per host
    concurrency: int = 100  # concurrent fetches in all
    user_agent: str | Secret = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    # networks the SSRF guard lets through, optionally on one port: 10.0.0.0/8, [::1]:8080
    allow_networks: tuple[str, ...] = ()
    parse_timeout: float = 10.0  # CPU time bound of parsing one feed body, seconds
    max_field_bytes: int = 64 * 1024  # longest text of one feed element kept before parsing


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    interval: float = 300.0  # default poll interval, seconds
    min_interval: float = 60.0
    max_interval: float = 3600.0
    jitter: float = 0.1  # fraction of the interval, +/-
    max_backoff: float = 6 * 3600.0  # longest wait after repeated errors


@dataclass(frozen=True, slots=True)
class BusConfig:
    kind: str = "memory"  # memory | kafka
    queue_size: int = 1000  # memory: bound of each topic's queue
    bootstrap_servers: tuple[str, ...] = ()
    topic_prefix: str = "newsmon"
    group_id: str = "newsmon"  # kafka: each stage consumes as group "<group_id>.<stage>"
    partitions: int = 6  # kafka: of each topic created on start
    replication_factor: int = 1  # kafka: of each topic created on start (3 in production)
    retention: float = 7 * 86400.0  # kafka: items/matches kept this long (replay window)
    dead_letter: bool = True  # kafka: bad records go to "<topic_prefix>.dead-letter"
    compression: str = "gzip"  # kafka producer: none | gzip | snappy | lz4 | zstd
    linger: float = 0.005  # kafka producer: wait this long to fill a batch, seconds
    batch_size: int = 256 * 1024  # kafka producer: bytes per partition batch
    session_timeout: float = 10.0  # kafka consumer group timeouts, seconds
    heartbeat_interval: float = 3.0
    max_poll_interval: float = 300.0
    commit_interval: float = 1.0  # kafka: commit acked offsets at most this often, seconds


@dataclass(frozen=True, slots=True)
class StateConfig:
    path: str = "newsmon.db"
    seen_retention_days: float = 90.0


@dataclass(frozen=True, slots=True)
class HttpConfig:
    enabled: bool = True
    listen: str = "127.0.0.1:9464"

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


@dataclass(frozen=True, slots=True)
class LogConfig:
    format: str = "text"  # text (key=value) | json
    level: str = "info"


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """A named receiver; ``kind`` picks the sink, which validates ``options``."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class StoriesConfig:
    window: float = 48 * 3600.0  # copies join a story seen within this window
    threshold: float = 75.0  # title similarity (0..100) that makes a copy


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    horizon: float = 48 * 3600.0  # retry a failing alert this long, then dead-letter it
    timeout: float = 30.0  # one send attempt
    backoff: float = 1.0  # first retry delay; doubles each attempt, with jitter
    max_backoff: float = 600.0


@dataclass(frozen=True, slots=True)
class Settings:
    path: str  # the config file
    feeds: tuple[FeedConfig, ...] = ()
    rules: tuple[str, ...] = ()  # rule file globs, resolved against the config's folder
    bus: BusConfig = BusConfig()
    state: StateConfig = StateConfig()
    http: HttpConfig = HttpConfig()
    fetch: FetchConfig = FetchConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    log: LogConfig = LogConfig()
    receivers: tuple[ReceiverConfig, ...] = ()
    stories: StoriesConfig = StoriesConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    route: RouteConfig | None = None  # None: every receiver gets every alert
    time_intervals: tuple[TimeInterval, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiverSchema:
    """The options a receiver kind (a sink) takes, for checking at load time;
    ``convs`` checks the values of some (each with its file:line on error)."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    convs: Mapping[str, y.Conv] = field(default_factory=dict)


# options every receiver takes, whatever its kind (used by monitor.alerts.deliver)
COMMON_RECEIVER_OPTIONS: dict[str, y.Conv] = {"rate_limit": routes.rate}


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
    return tuple(_allowed(entry, hidden) for entry in y.strings(value))


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
                raise y.Invalid(
                    "expected networks such as '127.0.0.1/32' or '127.0.0.1:8080',"
                    " got a bad entry in a value from ${...} (hidden)"
                ) from None
            if entry.startswith("[") or entry.count(":") == 1:  # the form with a port
                raise y.Invalid(
                    "expected a network and port such as '127.0.0.1:8080' or '[::1]:8080',"
                    f" got {entry!r}: {exc}"
                ) from None
            raise y.Invalid(f"expected CIDR networks such as '127.0.0.1/32': {cidr_exc}") from None
    if rule.port is None:
        return str(rule.network)
    if rule.network.version == 6:
        return f"[{rule.network}]:{rule.port}"
    return f"{rule.network}:{rule.port}"


def _listen(value: Any) -> str:
    v = y.string(value)
    host, _, port = v.rpartition(":")
    if not host.strip("[]") or not port.isdigit() or not 0 <= int(port) < 65536:
        raise y.Invalid(
            f"expected 'host:port' such as '127.0.0.1:9464' (port 0: any free port),"
            f" got {y.show(value)}"
        )
    return v


_SECTIONS: dict[str, tuple[type[Any], dict[str, y.Conv]]] = {
    "bus": (
        BusConfig,
        {
            "kind": y.choice("memory", "kafka"),
            "queue_size": y.integer(1, 10_000_000),
            "bootstrap_servers": y.strings,
            "topic_prefix": y.string,
            "group_id": y.string,
            "partitions": y.integer(1, 10_000),
            "replication_factor": y.integer(1, 100),
            "retention": y.duration,
            "dead_letter": y.boolean,
            "compression": y.choice("none", "gzip", "snappy", "lz4", "zstd"),
            "linger": y.duration,
            "batch_size": y.size,
            "session_timeout": y.duration,
            "heartbeat_interval": y.duration,
            "max_poll_interval": y.duration,
            "commit_interval": y.duration,
        },
    ),
    "state": (StateConfig, {"path": y.string, "seen_retention_days": y.real(0, 36500, above=True)}),
    "http": (HttpConfig, {"listen": _listen, "enabled": y.boolean}),
    "fetch": (
        FetchConfig,
        {
            "timeout": y.duration,
            "connect_timeout": y.duration,
            "max_bytes": y.size,
            "max_redirects": y.integer(0, 20),
            "per_host": y.integer(1, 1000),
            "concurrency": y.integer(1, 100_000),
            "user_agent": y.secret_string,
            "allow_networks": _networks,
            "parse_timeout": y.duration,
            "max_field_bytes": y.size,
        },
    ),
    "schedule": (
        ScheduleConfig,
        {
            "interval": y.duration,
            "min_interval": y.duration,
            "max_interval": y.duration,
            "jitter": y.real(0, 0.5),
            "max_backoff": y.duration,
        },
    ),
    "stories": (
        StoriesConfig,
        {"window": y.duration, "threshold": y.real(0, 100, above=True)},
    ),
    "delivery": (
        DeliveryConfig,
        {
            "horizon": y.duration,
            "timeout": y.duration,
            "backoff": y.duration,
            "max_backoff": y.duration,
        },
    ),
    "log": (
        LogConfig,
        {
            "format": y.choice("text", "json"),
            "level": y.choice("debug", "info", "warning", "error"),
        },
    ),
}
_TOP = {"feeds", "rules", "receivers", "route", "time_intervals", *_SECTIONS}


# --- the file ------------------------------------------------------------------------


class _Loader(y.YamlFile):
    """One load of newsmon's config: the schema on top of the generic node walk."""

    def __init__(
        self, file: str, env: Mapping[str, str], schemas: Mapping[str, ReceiverSchema] | None
    ) -> None:
        super().__init__(file, env)
        self.schemas = schemas
        self._broken: set[str] = set()  # sections with a bad key: no cross-key checks

    def load(self) -> Settings:
        top: dict[str, tuple[int, yaml.Node]] = {}
        if (root := self.compose("config")) is not None:
            for key, (knode, vnode) in self.known(root, "the config", _TOP, label="").items():
                if not y.is_null(vnode):
                    top[key] = (y.line(knode), vnode)
        parts = {name: self.section(name, top.get(name)) for name in _SECTIONS}
        self.check(parts, {name: at for name, (at, _) in top.items()})
        state: StateConfig = parts["state"]
        schedule: ScheduleConfig = parts["schedule"]
        receivers = self.receivers(top.get("receivers"))
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
                "schedule: expected min_interval <= interval"
                f" <= max_interval, got {y.seconds(s.min_interval)} <= {y.seconds(s.interval)}"
                f" <= {y.seconds(s.max_interval)}",
            )
        b: BusConfig = parts["bus"]
        if b.kind == "kafka" and not b.bootstrap_servers:
            self.problem(
                lines.get("bus", 0),
                "bus: kind kafka needs bootstrap_servers (e.g. 'localhost:9092')",
            )
        if "bus" not in self._broken and not b.heartbeat_interval < b.session_timeout:
            self.problem(
                lines.get("bus", 0),
                "bus: expected heartbeat_interval < session_timeout, got"
                f" {y.seconds(b.heartbeat_interval)} >= {y.seconds(b.session_timeout)}",
            )

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
            if (pattern := self.convert(item, y.string, "rules")) is y.MISSING:
                continue
            full = os.path.join(glob.escape(str(self.base)), pattern)
            if not glob.glob(full, recursive=True):
                raw = item.value if isinstance(item, yaml.ScalarNode) else pattern
                self.problem(y.line(item), f"rules: {raw!r} matches no file (in {self.base})")
            patterns.append(full)
        return tuple(patterns)

    def receivers(self, entry: tuple[int, yaml.Node] | None) -> tuple[ReceiverConfig, ...]:
        if entry is None:
            return (ReceiverConfig(name="console", kind="console", file=self.file),)
        if not isinstance(node := entry[1], yaml.SequenceNode):
            self.problem(y.line(node), f"receivers: expected a list, got a {y.kind(node)}")
            return ()
        out, names = [], dict[str, int]()
        for item in node.value:
            keys = {k: (kn, vn) for k, kn, vn in self.pairs(item, "receiver")}
            got = {}
            for field_ in ("name", "kind"):
                got[field_] = y.MISSING
                if field_ in keys:
                    got[field_] = self.convert(keys[field_][1], y.string, f"receiver {field_}")
                elif isinstance(item, yaml.MappingNode):
                    self.problem(y.line(item), f"receiver: needs {field_!r}")
            name, sink = got["name"], got["kind"]
            if name in names:
                self.problem(
                    y.line(item), f"duplicate receiver name {name!r} (first at line {names[name]})"
                )
            elif name is not y.MISSING:
                names[name] = y.line(item)
            if sink is not y.MISSING and self.schemas is not None:
                self.check_receiver(name if name is not y.MISSING else "?", sink, keys)
            options = {k: self.value(v) for k, (_, v) in keys.items() if k not in ("name", "kind")}
            if name is not y.MISSING and sink is not y.MISSING:
                out.append(
                    ReceiverConfig(name, sink, MappingProxyType(options), self.file, y.line(item))
                )
        return tuple(out)

    def check_receiver(
        self, name: str, sink: str, keys: dict[str, tuple[yaml.Node, yaml.Node]]
    ) -> None:
        assert self.schemas is not None
        knode = keys["kind"][1]
        if (schema := self.schemas.get(sink)) is None:
            self.problem(
                y.line(knode),
                f"receiver {name!r}: unknown kind {sink!r}{y.hint(sink, self.schemas)}",
            )
            return
        for option in sorted(schema.required - keys.keys()):
            self.problem(y.line(knode), f"receiver {name!r}: kind {sink} needs option {option!r}")
        known = schema.required | schema.optional | COMMON_RECEIVER_OPTIONS.keys()
        convs = {**schema.convs, **COMMON_RECEIVER_OPTIONS}
        for key, (knode, vnode) in keys.items():
            if key in convs:
                self.convert(vnode, convs[key], f"receiver {name!r}: {key}")
            if key not in known | {"name", "kind"}:
                close = y.hint(key, known) if schema.required | schema.optional else ""
                message = f"unknown option {key!r} for kind {sink}{close}"
                self.problem(y.line(knode), f"receiver {name!r}: {message}")
