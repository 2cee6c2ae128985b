"""``newsmon run`` and ``newsmon check``: the daemon, and the check that needs no network."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.cli.logs import setup_logging
from monitor.cli.settings import config_option, count, load, print_problems
from monitor.config import check_config, settings_dump
from monitor.errors import ConfigError, NewsmonError, Problem

if TYPE_CHECKING:
    from monitor.app import App
    from monitor.cli.settings import Sub


def add(sub: Sub) -> None:
    run = sub.add_parser(
        "run", parents=[config_option()], help="run the daemon until SIGTERM/SIGINT"
    )
    run.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    run.set_defaults(handler=_run)
    check = sub.add_parser("check", parents=[config_option()],
                           help="validate config and rules without network")  # fmt: skip
    check.add_argument("--dump", action="store_true", help="print the effective settings")
    check.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    check.set_defaults(handler=_check)


def _run(args: argparse.Namespace) -> int:
    from monitor.app import App, tune_gc

    try:
        settings = load(args.config)
        setup_logging(settings.log.format, settings.log.level)
        app = App(settings)
    except ConfigError as exc:
        print_problems(exc)
        return 1
    except NewsmonError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 1
    tune_gc()
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
            print(f"newsmon check: {count(warnings, 'warning')}, failing (--strict)",
                  file=sys.stderr)  # fmt: skip
        return 1
    if args.dump:
        print(json.dumps(settings_dump(settings), indent=2, default=str))
    noted = f", {count(warnings, 'warning')}" if warnings else ""
    print(
        f"{args.config}: ok: {len(settings.feeds)} feeds, {len(rules)} rules, "
        f"{len(settings.receivers)} receivers{noted}"
    )
    return 0


async def run_until_signalled(app: App, *, once: bool = False) -> None:
    """Run ``app`` until SIGTERM or SIGINT, then drain and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, app.request_reload)
    try:
        await _run_app(app, stop, once)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


async def _run_app(app: App, stop: asyncio.Event, once: bool) -> None:
    """``app.run``; a signal while it is still starting (the broker not answering yet,
    say) abandons the start: what was opened closes, nothing was polled, exit 0."""
    body = asyncio.create_task(app.run(stop, once=once), name="app")
    stopping = asyncio.create_task(stop.wait(), name="app-stop")
    try:
        await asyncio.wait({body, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not body.done() and not app.ready.is_set():
            body.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await body
            logging.getLogger("monitor.app").info("stopped while starting")
            return
        await body
    finally:
        stopping.cancel()
        body.cancel()  # done already, unless this task itself is cancelled
