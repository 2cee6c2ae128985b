"""``newsmon run|check|test-rule|replay|alerts``: the command line.

Builds the settings once from the config file and passes them down. Exit
codes: 0 success, 1 unusable config or rules (each problem printed as
``file:line: message``), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.alerts.outbox import Entry, Outbox

from monitor import __version__
from monitor.config import Settings, check_config, load_config, settings_dump
from monitor.errors import ConfigError, FeedError, NewsmonError, Problem


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "check": _check, "test-rule": _test_rule, "replay": _replay,
                "alerts": _alerts}  # fmt: skip
    try:
        code = handlers[args.command](args)
        sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
        return code
    except BrokenPipeError:  # `newsmon alerts | head`: the reader left; stop quietly
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as a Unix tool killed by it


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsmon", description="Self-hosted news-alert monitor")
    parser.add_argument("--version", action="version", version=f"newsmon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon until SIGTERM/SIGINT")
    run.add_argument("-c", "--config", required=True, type=Path, help="config YAML file")
    run.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    check = sub.add_parser("check", help="validate config and rules without network")
    check.add_argument("-c", "--config", required=True, type=Path, help="config YAML file")
    check.add_argument("--dump", action="store_true", help="print the effective settings")
    check.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    test = sub.add_parser("test-rule", help="show which items rule files match, and why")
    test.add_argument("rule_files", nargs="+", metavar="RULEFILE", help="rule YAML files")
    test.add_argument("--feed", action="append", default=[], help="feed file path or URL")
    test.add_argument("--items", action="append", default=[], help="JSONL file of items")
    test.add_argument("--allow-private", action="store_true", help="let --feed reach loopback")
    replay = sub.add_parser("replay", help="backtest rules on the items Kafka retained")
    replay.add_argument("-c", "--config", required=True, type=Path, help="config YAML file")
    replay.add_argument("--since", default="7d", help="7d, 36h, or an ISO 8601 time")
    replay.add_argument("--until", default=None, help="as --since; default: now")
    replay.add_argument("--rules", nargs="+", default=None, metavar="FILE", help="rule files")
    replay.add_argument("--out", type=Path, default=None, help="JSONL file (default: stdout)")
    _alerts_parser(sub)
    return parser


def _alerts_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = argparse.ArgumentParser(add_help=False)  # -c before or after "retry"
    config.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS,
                        help="config YAML file")  # fmt: skip
    alerts = sub.add_parser("alerts", parents=[config],
                            help="list the alert outbox; re-queue a failed alert")  # fmt: skip
    which = alerts.add_mutually_exclusive_group()
    for flag, state in (("--pending", "pending"), ("--failed", "dead"), ("--sent", "sent")):
        which.add_argument(flag, dest="state", action="store_const", const=state,
                           help=f"only {flag[2:]} alerts")  # fmt: skip
    alerts.add_argument("--json", action="store_true", help="one JSON object per line")
    actions = alerts.add_subparsers(dest="action")
    retry = actions.add_parser("retry", parents=[config], help="send a failed alert again")
    retry.add_argument("alert_id", nargs="+", help="alert ids (from `newsmon alerts --failed`)")


def _load(path: Path) -> Settings:
    from monitor.alerts.sinks import schemas

    return load_config(path, receivers=schemas())


def _run(args: argparse.Namespace) -> int:
    from monitor.app import App, run_until_signalled

    try:
        settings = _load(args.config)
        setup_logging(settings.log.format, settings.log.level)
        app = App(settings)
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    except NewsmonError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(run_until_signalled(app, once=args.once))
    except NewsmonError as exc:
        logging.getLogger("monitor").error("fatal error=%s", exc)
        return 1
    return 0


def _check(args: argparse.Namespace) -> int:
    """Every problem at once: the config's, those of the rule files its
    ``rules:`` globs name (as far as they could be read), and those only a
    receiver's sink sees (an email cafile that is missing), without network.
    Warnings (``file:line: warning: ...``) are printed too; they fail the check
    only with ``--strict``."""
    from monitor.alerts.sinks import build, schemas
    from monitor.rules.load import load_rules, rule_files

    settings, problems = check_config(args.config, receivers=schemas())
    rules: Sequence[object] = ()
    warnings: list[Problem] = []
    try:
        rules = load_rules(rule_files(settings.rules), warnings)
    except ConfigError as exc:
        problems = [*problems, *exc.problems]
    kinds = schemas()
    for receiver in settings.receivers:  # building a sink opens nothing
        if receiver.kind not in kinds:
            continue  # an unknown kind: already a problem, with a did-you-mean
        try:
            build(receiver, Path(settings.path).parent)
        except ConfigError as exc:
            problems = [*problems, *exc.problems]
    for line in (*problems, *warnings):
        print(line, file=sys.stderr)
    if problems or (args.strict and warnings):
        if warnings and args.strict:
            print(f"newsmon check: {_count(warnings, 'warning')}, failing (--strict)",
                  file=sys.stderr)  # fmt: skip
        return 1
    if args.dump:
        print(json.dumps(settings_dump(settings), indent=2, default=str))
    noted = f", {_count(warnings, 'warning')}" if warnings else ""
    print(
        f"{args.config}: ok: {len(settings.feeds)} feeds, {len(rules)} rules, "
        f"{len(settings.receivers)} receivers{noted}"
    )
    return 0


def _count(things: Sequence[object], what: str) -> str:
    return f"{len(things)} {what}{'' if len(things) == 1 else 's'}"


def _test_rule(args: argparse.Namespace) -> int:
    from monitor import testrule
    from monitor.rules.engine import Engine
    from monitor.rules.load import load_rules

    warnings: list[Problem] = []
    try:
        engine = Engine(load_rules(args.rule_files, warnings))
    except ConfigError as exc:
        _print_problems(exc)
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


def _replay(args: argparse.Namespace) -> int:
    from monitor.replay import parse_when, replay
    from monitor.rules.engine import Engine
    from monitor.rules.load import load_rules, rule_files

    try:
        settings = _load(args.config)
        since, until = parse_when(args.since), parse_when(args.until or "0s")
        engine = Engine(load_rules(rule_files(args.rules or settings.rules)))
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    except ValueError as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 2
    if settings.bus.kind != "kafka":
        print("newsmon replay: needs bus kind kafka (items are retained there)", file=sys.stderr)
        return 1
    from monitor.dedup.stories import StoryBook
    from monitor.replay import by_story_book
    from monitor.store import Store

    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    started = time.monotonic()
    try:
        with Store(":memory:") as store:  # a throwaway story window, never on disk
            book = StoryBook(store, settings.stories.window, settings.stories.threshold)
            summary = replay(settings.bus, engine, since, until, out,
                             bar=sys.stderr.isatty(), observe=by_story_book(book))  # fmt: skip
    except NewsmonError as exc:
        print(f"newsmon replay: {exc}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    for line in summary.lines(time.monotonic() - started):
        print(line, file=sys.stdout if args.out else sys.stderr)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from monitor.alerts.outbox import Outbox
    from monitor.store import Store

    if getattr(args, "config", None) is None:
        print("newsmon alerts: -c/--config is required", file=sys.stderr)
        return 2
    try:
        settings = _load(args.config)
        with Store(settings.state.path) as store:
            outbox = Outbox(store)
            if args.action == "retry":
                return _retry(outbox, args.alert_id)
            entries = outbox.entries(args.state)
    except ConfigError as exc:
        _print_problems(exc)
        return 1
    except NewsmonError as exc:
        print(f"newsmon alerts: {exc}", file=sys.stderr)
        return 1
    for line in _alert_lines(entries, as_json=args.json):
        print(line)
    return 0


def _retry(outbox: Outbox, alert_ids: Sequence[str]) -> int:
    missing = [a for a in alert_ids if not outbox.retry(a, time.time())]
    for alert_id in alert_ids:
        if alert_id not in missing:
            print(f"{alert_id}: queued")
    for alert_id in missing:
        print(f"newsmon alerts: no alert {alert_id!r} in the outbox", file=sys.stderr)
    return 1 if missing else 0


def _alert_lines(entries: Sequence[Entry], *, as_json: bool) -> list[str]:
    """One line per outbox entry; feed text made safe for a terminal."""
    from monitor.alerts.render import clip, one_line
    from monitor.model import iso

    def when(ts: float) -> str:
        return iso(datetime.fromtimestamp(ts, UTC)) or ""

    if as_json:
        return [json.dumps({"alert_id": e.alert_id, "receiver": e.receiver, "state": e.state,
                            "attempts": e.attempts, "due": when(e.due),
                            "last_error": e.last_error, "title": e.title},
                           ensure_ascii=False) for e in entries]  # fmt: skip
    head = ("ALERT_ID", "RECEIVER", "STATE", "TRIES", "DUE", "LAST_ERROR", "TITLE")
    rows = [head] + [
        (e.alert_id, clip(one_line(e.receiver), 24), e.state, str(e.attempts),
         when(e.due) if e.state == "pending" else "-", clip(one_line(e.last_error or "-"), 40),
         clip(one_line(e.title), 80))
        for e in entries
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    return ["  ".join(_cells(row, widths)) for row in rows]


def _cells(row: Sequence[str], widths: Sequence[int]) -> list[str]:
    """The row's cells padded to ``widths`` (TRIES, a count, right-aligned); the last
    cell, the title, as it is."""
    cells = enumerate(zip(row[:-1], widths, strict=True))
    padded = [c.rjust(w) if i == 3 else c.ljust(w) for i, (c, w) in cells]
    return [*padded, row[-1]]


def _print_problems(exc: ConfigError) -> None:
    for problem in exc.problems:
        print(problem, file=sys.stderr)


class _TextFormatter(logging.Formatter):
    """``2026-11-25T06:40:00Z INFO monitor.sources.poller feed_failed feed=x reason=y``"""

    converter = time.gmtime  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": message.split(" ", 1)[0],
            "message": message,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python logs every connect


if __name__ == "__main__":
    sys.exit(main())
