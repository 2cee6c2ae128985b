"""``newsmon feeds -c CONFIG [--opml]``: the configured feeds, listed or as OPML 2.0.

The list: one feed a line, its name, URL and poll interval (``(default)`` where
the schedule's). ``--opml`` writes OPML 2.0 to standard output instead, which
another reader (or newsmon's own ``opml:`` include) takes. Either way a feed's
URL is the one written in the config: ``${VAR}`` references unexpanded,
credentials shown as ``***@``; never the URL fetched. Poll intervals are not in
the OPML (it has no place for them).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from monitor.cli.settings import config_option, load, print_problems
from monitor.config.feeds import write_opml
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.cli.settings import Sub
    from monitor.config import Settings


def add(sub: Sub) -> None:
    feeds = sub.add_parser("feeds", parents=[config_option()],
                           help="list the configured feeds (--opml: as OPML 2.0)")  # fmt: skip
    feeds.add_argument("--opml", action="store_true", help="write them as OPML 2.0 to stdout")
    feeds.set_defaults(handler=_feeds)


def _feeds(args: argparse.Namespace) -> int:
    try:
        settings = load(args.config)
    except ConfigError as exc:
        print_problems(exc)
        return 1
    if args.opml:
        sys.stdout.buffer.write(write_opml((f.url, f.name) for f in settings.feeds))
        return 0
    for line in lines(settings):
        print(line)
    return 0


def lines(settings: Settings) -> list[str]:
    """The table: a header, then NAME  URL  INTERVAL for each feed, in config order."""
    default = span(settings.schedule.interval) + " (default)"
    rows = [("NAME", "URL", "INTERVAL")] + [
        (_one_line(f.name), _one_line(f.url), span(f.interval) if f.interval else default)
        for f in settings.feeds
    ]
    name_width = min(max(len(r[0]) for r in rows), 40)
    url_width = min(max(len(r[1]) for r in rows), 80)
    return [f"{n:<{name_width}}  {u:<{url_width}}  {i}".rstrip() for n, u, i in rows]


def span(seconds: float) -> str:
    """``90s``, ``5m``, ``1h30m``, ``2d``: how the config writes a duration."""
    left, out = round(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size:
            out += f"{left // size}{unit}"
            left %= size
    return out + (f"{left}s" if left or not out else "")


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
