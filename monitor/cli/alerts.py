"""``newsmon alerts``: the outbox (pending, sent, dead, muted), and re-queuing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor.cli.settings import config_option, load, needs_config, print_problems
from monitor.errors import ConfigError, NewsmonError

if TYPE_CHECKING:
    from monitor.alerts.outbox import Entry, Outbox
    from monitor.cli.settings import Sub


def add(sub: Sub) -> None:
    config = config_option(required=False)  # -c before or after "retry"
    alerts = sub.add_parser("alerts", parents=[config],
                            help="list the alert outbox; re-queue a failed alert")  # fmt: skip
    which = alerts.add_mutually_exclusive_group()
    states = (("--pending", "pending"), ("--failed", "dead"), ("--sent", "sent"),
              ("--muted", "muted"))  # fmt: skip
    for flag, state in states:
        which.add_argument(flag, dest="state", action="store_const", const=state,
                           help=f"only {flag[2:]} alerts")  # fmt: skip
    alerts.add_argument("--json", action="store_true", help="one JSON object per line")
    alerts.set_defaults(handler=_alerts)
    actions = alerts.add_subparsers(dest="action")
    retry = actions.add_parser("retry", parents=[config], help="send a failed alert again")
    retry.add_argument("alert_id", nargs="+", help="alert ids (from `newsmon alerts --failed`)")


def _alerts(args: argparse.Namespace) -> int:
    from monitor.alerts.outbox import Outbox
    from monitor.store import Store

    if not needs_config(args, "alerts"):
        return 2
    try:
        settings = load(args.config)
        with Store(settings.state.path) as store:
            outbox = Outbox(store)
            if args.action == "retry":
                return _retry(outbox, args.alert_id)
            entries = outbox.entries(args.state)
    except ConfigError as exc:
        print_problems(exc)
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
