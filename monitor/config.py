"""newsmon's configuration: one YAML file -> frozen settings.

Built once by the CLI and passed down explicitly; no module-level config.
Values written as ``${ENV_VAR}`` are expanded from the environment and kept as
:class:`Secret`, which never prints its value (repr, str, logs, dumps).
Every problem in the file is reported at once as ``file:line: message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024


class Secret:
    """A value that came from ``${ENV}``: usable through :meth:`reveal`, never printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def reveal(value: str | Secret) -> str:
    """The plain value of a setting that may be a secret."""
    return value.reveal() if isinstance(value, Secret) else value


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    name: str  # defaults to the URL; used in logs and bounded metric labels
    interval: float | None = None  # seconds; None = the schedule default
    file: str = ""  # where it was declared, for messages
    line: int = 0


@dataclass(frozen=True, slots=True)
class FetchConfig:
    timeout: float = 20.0  # total deadline of one fetch, redirects included, seconds
    connect_timeout: float = 10.0
    max_bytes: int = 10 * MiB  # body cap after decompression
    max_redirects: int = 5
    per_host: int = 2  # concurrent fetches per host
    concurrency: int = 100  # concurrent fetches in all
    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    allow_networks: tuple[str, ...] = ()  # CIDRs the SSRF guard lets through, e.g. 127.0.0.1/32
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
    group_id: str = "newsmon"


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
