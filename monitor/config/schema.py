"""The schema of the config file's own sections: each key's converter, and the checks
between keys that need no file.

:data:`_SECTIONS` maps each plain section (``bus``, ``state``, ``http``, ``fetch``,
``schedule``, ``stories``, ``delivery``, ``log``) to its record and the converter of
each key; :func:`bus_timing_problems` checks a bus's group timeouts against what
Apache Kafka accepts. :mod:`~monitor.config.load` walks the file with them.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from monitor.addresses import parse_allowed
from monitor.config import values
from monitor.config.secrets import Secret
from monitor.config.settings import (
    BusConfig,
    DeliveryConfig,
    FetchConfig,
    HttpConfig,
    LogConfig,
    ScheduleConfig,
    StateConfig,
    StoriesConfig,
)


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
