"""``newsmon replay``: a backtest of rules and story dedup over retained items."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.cli.settings import config_option, load, print_problems
from monitor.errors import ConfigError, NewsmonError

if TYPE_CHECKING:
    from monitor.cli.settings import Sub


def add(sub: Sub) -> None:
    replay = sub.add_parser("replay", parents=[config_option()],
                            help="backtest rules on the retained items")  # fmt: skip
    replay.add_argument("--since", default="7d", help="7d, 36h, or an ISO 8601 time")
    replay.add_argument("--until", default=None, help="as --since; default: now")
    replay.add_argument("--rules", nargs="+", default=None, metavar="FILE", help="rule files")
    replay.add_argument("--out", type=Path, default=None, help="JSONL file (default: stdout)")
    replay.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from monitor.replay import parse_when, replay
    from monitor.rules.engine import Engine
    from monitor.rules.load import load_rules, rule_files

    try:
        settings = load(args.config)
        since, until = parse_when(args.since), parse_when(args.until or "0s")
        engine = Engine(load_rules(rule_files(args.rules or settings.rules)))
    except ConfigError as exc:
        print_problems(exc)
        return 1
    except ValueError as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 2
    from monitor.dedup.stories import StoryBook
    from monitor.replay import by_story_book, from_kafka, from_store
    from monitor.store import Store

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    started = time.monotonic()
    try:
        with Store(":memory:") as window, ExitStack() as stack:  # a throwaway story window
            if settings.bus.kind == "kafka":
                source = from_kafka(settings.bus, since, until)
            else:  # the items the state file retained
                retained = stack.enter_context(Store(settings.state.path))
                source = from_store(retained, since, until)
            book = StoryBook(window, settings.stories.window, settings.stories.threshold)
            summary = replay(source, engine, out, bar=sys.stderr.isatty(),
                             observe=by_story_book(book))  # fmt: skip
    except NewsmonError as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    for line in summary.lines(time.monotonic() - started):
        print(line, file=sys.stdout if args.out else sys.stderr)
    return 0
