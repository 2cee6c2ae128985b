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

The package, one module per concern: :mod:`~monitor.config.yamlfile` (the YAML walk and
``${ENV}`` expansion), :mod:`~monitor.config.values` (converters),
:mod:`~monitor.config.secrets` (secrets and redaction), :mod:`~monitor.config.settings`
(the records), :mod:`~monitor.config.feeds` (feeds, feed lists and OPML),
:mod:`~monitor.config.routes` (the routing tree and time intervals),
:mod:`~monitor.config.receivers`, :mod:`~monitor.config.schema` (the sections' schema) and
:mod:`~monitor.config.load` (the loader).
What other packages use is imported from ``monitor.config`` itself.
"""

from __future__ import annotations

from monitor.config.load import check_config, load_config, settings_dump
from monitor.config.receivers import COMMON_RECEIVER_OPTIONS
from monitor.config.routes import (
    GROUP_BY,
    UPDATES,
    Escalation,
    Matcher,
    RouteConfig,
    TimeInterval,
    rate,
)
from monitor.config.secrets import Secret, redact_urls, reveal, shown_url
from monitor.config.settings import (
    BusConfig,
    DeliveryConfig,
    FeedConfig,
    FetchConfig,
    HttpConfig,
    LogConfig,
    MiB,
    ReceiverConfig,
    ReceiverSchema,
    ScheduleConfig,
    Settings,
    StateConfig,
    StoriesConfig,
)

__all__ = [
    "COMMON_RECEIVER_OPTIONS",
    "GROUP_BY",
    "UPDATES",
    "BusConfig",
    "DeliveryConfig",
    "Escalation",
    "FeedConfig",
    "FetchConfig",
    "HttpConfig",
    "LogConfig",
    "Matcher",
    "MiB",
    "ReceiverConfig",
    "ReceiverSchema",
    "RouteConfig",
    "ScheduleConfig",
    "Secret",
    "Settings",
    "StateConfig",
    "StoriesConfig",
    "TimeInterval",
    "check_config",
    "load_config",
    "rate",
    "redact_urls",
    "reveal",
    "settings_dump",
    "shown_url",
]
