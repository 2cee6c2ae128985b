"""``newsmon silence add|list|expire``: mute what matches, for a while (Alertmanager's way).

    newsmon silence add -c newsmon.yaml -m story=8f3c... --for 2h --author ana --comment "known"
    newsmon silence add -c newsmon.yaml -m rule=sanctions -m desk=defence --until 2026-12-02T08:00
    newsmon silence list -c newsmon.yaml [--all] [--json]
    newsmon silence expire -c newsmon.yaml ID

The silences live in the state file: a running daemon honours a new one at its next send.
With a kafka bus they live in the ``<prefix>.silences`` topic, which every daemon of the
group follows: the command reads and writes the topic, not the state file.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from monitor.alerts.silence import Silence, new_id
from monitor.cli.settings import config_option, load, needs_config, print_problems
from monitor.config import BusConfig, values
from monitor.config.routes import matcher
from monitor.errors import ConfigError, NewsmonError
from monitor.model import iso, parse_iso
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.cli.settings import Sub


def add(sub: Sub) -> None:
    config = config_option(required=False)
    silence = sub.add_parser("silence", parents=[config], help="mute alerts for a while")
    actions = silence.add_subparsers(dest="action", required=True)
    new = actions.add_parser("add", parents=[config], help="add a silence; prints its id")
    new.add_argument(
        "-m", "--matcher", action="append", required=True, metavar="MATCHER",
        help="label op value: story=ID, rule=NAME, entity=~'S-.*', desk=defence",
    )  # fmt: skip
    span = new.add_mutually_exclusive_group()
    span.add_argument("--for", dest="duration", default="2h", help="how long (default 2h)")
    span.add_argument("--until", default=None, help="an ISO 8601 end time (UTC unless it says)")
    new.add_argument("--author", default=None, help="who (default: your user name)")
    new.add_argument("--comment", required=True, help="why")
    shown = actions.add_parser("list", parents=[config], help="the silences in force")
    shown.add_argument("--all", action="store_true", help="those over too")
    shown.add_argument("--json", action="store_true", help="one JSON object per line")
    end = actions.add_parser("expire", parents=[config], help="end a silence now")
    end.add_argument("silence_id", nargs="+", help="silence ids (from `newsmon silence list`)")
    silence.set_defaults(handler=_silence)


class _Kept(Protocol):
    """Where the silences are: the state file, or the kafka topic."""

    def add(self, silence: Silence) -> None: ...
    def all(self, ending_after: float | None) -> list[Silence]: ...
    def expire(self, silence_id: str, at: float) -> bool: ...


class _InStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, silence: Silence) -> None:
        self.store.add_silence(silence)

    def all(self, ending_after: float | None) -> list[Silence]:
        return [Silence(*row) for row in self.store.silences(ending_after)]

    def expire(self, silence_id: str, at: float) -> bool:
        return self.store.expire_silence(silence_id, at)


class _InKafka:
    def __init__(self, bus: BusConfig) -> None:
        from monitor.cluster import silences  # kafka-python, only for a kafka bus

        self.bus, self.shared = bus, silences

    def add(self, silence: Silence) -> None:
        self.shared.publish(self.bus, silence)

    def all(self, ending_after: float | None) -> list[Silence]:
        found = self.shared.read_all(self.bus)
        return [s for s in found if ending_after is None or s.ends > ending_after]

    def expire(self, silence_id: str, at: float) -> bool:
        running = [s for s in self.all(at) if s.silence_id == silence_id]
        for s in running:
            self.shared.publish(self.bus, replace(s, ends=at))
        return bool(running)


def _silence(args: argparse.Namespace) -> int:
    if not needs_config(args, "silence"):
        return 2
    action = {"add": _add, "list": _list, "expire": _expire}[args.action]
    try:
        settings = load(args.config)
        if settings.bus.kind == "kafka":
            return action(args, _InKafka(settings.bus))
        with Store(settings.state.path) as store:
            return action(args, _InStore(store))
    except ConfigError as exc:
        print_problems(exc)
        return 1
    except (NewsmonError, ValueError) as exc:
        print(f"newsmon silence: {exc}", file=sys.stderr)
        return 1


def _add(args: argparse.Namespace, store: _Kept) -> int:
    try:
        matchers = tuple(matcher(text) for text in args.matcher)
        now = time.time()
        if args.until:
            until = parse_iso(args.until if "T" in args.until else args.until + "T00:00:00Z")
            ends = until.timestamp() if until else now
        else:
            ends = now + values.duration(args.duration)
    except values.Invalid as exc:
        print(f"newsmon silence add: {exc}", file=sys.stderr)
        return 2
    if ends <= now:
        print("newsmon silence add: the end is not in the future", file=sys.stderr)
        return 2
    author = args.author or getpass.getuser()
    silence = Silence(new_id(), matchers, now, ends, author, args.comment, now)
    store.add(silence)
    print(silence.silence_id)
    return 0


def _list(args: argparse.Namespace, store: _Kept) -> int:
    now = time.time()
    rows = store.all(None if args.all else now)
    for s in rows:
        matchers = [f"{m.label}{m.op}{m.value}" for m in s.matchers]
        if args.json:
            print(json.dumps({"silence_id": s.silence_id, "matchers": matchers,
                              "starts": _when(s.starts), "ends": _when(s.ends),
                              "author": s.author, "comment": s.comment,
                              "active": s.active(now)}, ensure_ascii=False))  # fmt: skip
        else:
            state = "active" if s.active(now) else "over"
            print(f"{s.silence_id}  {state:<6}  until {_when(s.ends)}  by {s.author}: "
                  f"{' '.join(matchers)}  # {s.comment}")  # fmt: skip
    return 0


def _expire(args: argparse.Namespace, store: _Kept) -> int:
    missing = [i for i in args.silence_id if not store.expire(i, time.time())]
    for silence_id in args.silence_id:
        if silence_id not in missing:
            print(f"{silence_id}: expired")
    for silence_id in missing:
        print(f"newsmon silence: no silence {silence_id!r} in force", file=sys.stderr)
    return 1 if missing else 0


def _when(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC)) or ""
