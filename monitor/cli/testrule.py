"""``newsmon test-rule``: which items rule files match, and why; sends nothing."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from monitor.cli.settings import print_problems
from monitor.errors import ConfigError, FeedError, NewsmonError, Problem

if TYPE_CHECKING:
    from monitor.cli.settings import Sub


def add(sub: Sub) -> None:
    test = sub.add_parser("test-rule", help="show which items rule files match, and why")
    test.add_argument("rule_files", nargs="+", metavar="RULEFILE", help="rule YAML files")
    test.add_argument("--feed", action="append", default=[], help="feed file path or URL")
    test.add_argument("--items", action="append", default=[], help="JSONL file of items")
    test.add_argument("--allow-private", action="store_true", help="let --feed reach loopback")
    test.set_defaults(handler=_test_rule)


def _test_rule(args: argparse.Namespace) -> int:
    from monitor import testrule
    from monitor.rules.engine import Engine
    from monitor.rules.load import load_rules

    warnings: list[Problem] = []
    try:
        engine = Engine(load_rules(args.rule_files, warnings))
    except ConfigError as exc:
        print_problems(exc)
        return 1
    finally:
        for warning in warnings:
            print(warning, file=sys.stderr)
    try:
        private = args.allow_private
        items = [i for f in args.feed for i in testrule.feed_items(f, allow_private=private)]
        items += [i for path in args.items for i in testrule.jsonl_items(path)]
    except FeedError as exc:
        hint = " (loopback and private addresses are refused: pass --allow-private to fetch it)"
        print(f"newsmon: {exc}{hint if exc.reason == 'ssrf_blocked' else ''}", file=sys.stderr)
        return 1
    except (NewsmonError, OSError, ValueError) as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 1
    testrule.report(engine, items, sys.stdout)
    return 0
