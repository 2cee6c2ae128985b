"""The settings records: frozen dataclasses, one per config section, built once by
:mod:`monitor.config.load` and passed down explicitly (no module-level config)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from monitor.config.routes import RouteConfig, TimeInterval
from monitor.config.secrets import Secret
from monitor.config.values import Conv

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
    max_items: int = 500  # entries read per feed body, the newest (a bigger feed is cut)


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
    item_retention: float = 7 * 86400.0  # new items kept for backtests (replay), seconds
    max_items: int = 1_000_000  # at most this many kept, the oldest dropped first


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """The HTTP server: /metrics /healthz /readyz, the web UI and its REST API. On a
    loopback address (the default) the UI and API answer without a token, unless one
    is set; on any other address they need ``auth_token`` (a config error without)."""

    enabled: bool = True
    listen: str = "127.0.0.1:9464"
    auth_token: Secret | None = None  # from ${...}: the API's bearer token, the UI's login

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the listen address (127.0.0.0/8, ::1,
        ``localhost``); ``0.0.0.0``, ``::``, a name or another address is off loopback."""
        host = self.host
        if host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

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
    convs: Mapping[str, Conv] = field(default_factory=dict)
