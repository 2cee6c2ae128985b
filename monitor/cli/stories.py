"""``newsmon stories`` and ``newsmon explain``: the audit of what became of each item.

    newsmon stories -c newsmon.yaml [--since 2h] [--json]   # the stories, newest change first
    newsmon stories show -c newsmon.yaml STORY_ID [--json]   # members, why each joined, sends
    newsmon explain -c newsmon.yaml URL|ITEM_ID              # each rule's verdict; the story

Read from the state file; a running daemon is not disturbed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor.cli.settings import config_option, load, needs_config, print_problems
from monitor.config import Settings, values
from monitor.errors import ConfigError, NewsmonError
from monitor.model import iso

if TYPE_CHECKING:
    from monitor.cli.settings import Sub
    from monitor.dedup.stories import StoryBook
    from monitor.store import Store


def add(sub: Sub) -> None:
    config = config_option(required=False)
    stories = sub.add_parser("stories", parents=[config], help="the stories and why each joined")
    stories.add_argument("--since", default="24h", help="changed in the last 2h, 7d ... (24h)")
    stories.add_argument("--json", action="store_true", help="one JSON object per line")
    stories.set_defaults(handler=_stories)
    actions = stories.add_subparsers(dest="action")
    show = actions.add_parser("show", parents=[config], help="one story: members, deliveries")
    show.add_argument("story_id")
    show.add_argument("--json", action="store_true", help="the story as one JSON object")
    explain = sub.add_parser("explain", parents=[config],
                             help="why an item matched each rule or not; its story")  # fmt: skip
    explain.add_argument("item", help="the item's link (any form) or its id")
    explain.add_argument("--json", action="store_true", help="as one JSON object")
    explain.set_defaults(handler=_explain)


def _open(args: argparse.Namespace, command: str) -> tuple[Settings, Store, StoryBook] | int:
    from monitor.dedup.stories import StoryBook
    from monitor.store import Store

    if not needs_config(args, command):
        return 2
    try:
        settings = load(args.config)
        store = Store(settings.state.path)
    except ConfigError as exc:
        print_problems(exc)
        return 1
    except NewsmonError as exc:
        print(f"newsmon {command}: {exc}", file=sys.stderr)
        return 1
    return settings, store, StoryBook(store, settings.stories.window)


def _stories(args: argparse.Namespace) -> int:
    opened = _open(args, "stories")
    if isinstance(opened, int):
        return opened
    _, store, book = opened
    with store:
        if args.action == "show":
            return _show(args, store, book)
        try:
            since = time.time() - values.duration(args.since)
        except values.Invalid as exc:
            print(f"newsmon stories: --since: {exc}", file=sys.stderr)
            return 2
        for story in reversed(book.stories_since(since)):
            print(json.dumps(_summary(story), ensure_ascii=False) if args.json
                  else _line(story))  # fmt: skip
    return 0


def _show(args: argparse.Namespace, store: Store, book: StoryBook) -> int:
    from monitor.alerts.render import clip, one_line

    story = book.get(args.story_id)
    if story is None:
        print(f"newsmon stories: no story {args.story_id!r} in the window", file=sys.stderr)
        return 1
    members = [_member(story, n) for n in range(len(story.members))]
    audit = {**_summary(story), "members": members, "near_miss": _near(story.near_miss),
             "deliveries": _deliveries(store, story.story_id)}  # fmt: skip
    if args.json:
        print(json.dumps(audit, ensure_ascii=False))
        return 0
    print(_line(story))
    if audit["near_miss"]:
        print(f"  started its own story; nearest: {audit['near_miss']}")
    for m in audit["members"]:
        print(f"  {m['seq']:>3}. {m['at']}  {clip(one_line(m['source']), 30)}: "
              f"{clip(one_line(m['title']), 90)}")  # fmt: skip
        print(f"       {m['why']}" + (f"  <{m['link']}>" if m["link"] else ""))
    for d in audit["deliveries"]:
        print(f"  -> {d['receiver']}: {d['kind']} {d['state']}"
              + (f" ({d['last_error']})" if d["last_error"] else ""))  # fmt: skip
    return 0


def _explain(args: argparse.Namespace) -> int:
    from monitor.rules.engine import Engine
    from monitor.rules.explain import explain
    from monitor.rules.load import load_rules, rule_files

    opened = _open(args, "explain")
    if isinstance(opened, int):
        return opened
    settings, store, book = opened
    with store:
        found = book.find_item(args.item)
        item = found[1].item if found else _retained(store, args.item)
        if item is None:
            print(f"newsmon explain: no item {args.item!r} in the window or the retained items",
                  file=sys.stderr)  # fmt: skip
            return 1
        try:
            engine = Engine(load_rules(rule_files(settings.rules)))
        except ConfigError as exc:
            print_problems(exc)
            return 1
        verdicts = explain(engine, item)
        story = None
        if found:
            home, member = found
            story = {**_summary(home), "member": _member(home, home.members.index(member))}
            story["near_miss"] = _near(home.near_miss) if member.tier == "first" else None
    rules = [{"rule": v.rule, "matched": v.matched, "reason": v.reason, "found": list(v.found)}
             for v in verdicts]  # fmt: skip
    out = {"item": item.to_dict(), "rules": rules, "story": story}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"item {item.id!r}: {item.title!r} ({item.source})")
    for v in verdicts:
        print(f"  {'MATCH' if v.matched else 'no   '} {v.rule}: {v.reason}")
    if story is None:
        print("  story: none (it matched no rule, or its story left the window)")
    else:
        print(f"  story {story['story_id']}: {story['member']['why']}")
        if story["near_miss"]:
            print(f"  nearest other story: {story['near_miss']}")
    return 0


def _retained(store: Store, ref: str) -> Any:
    """The item from the retained items, when the store keeps them (``state.item_retention``)."""
    find = getattr(store, "retained_item", None)
    return find(ref) if find is not None else None


def _when(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC)) or ""


def _summary(story: Any) -> dict[str, Any]:
    return {"story_id": story.story_id, "version": story.version, "title": story.item.title,
            "rules": list(story.rules), "severity": story.severity,
            "outlets": list(story.outlets), "members": len(story.members),
            "first_seen": _when(story.created), "updated": _when(story.last_seen)}  # fmt: skip


def _line(story: Any) -> str:
    from monitor.alerts.render import clip, one_line

    return (f"{story.story_id}  {story.severity.upper():<8} {_when(story.last_seen)}  "
            f"{len(story.outlets):>3} outlets  {','.join(story.rules)}  "
            f"{clip(one_line(story.item.title), 90)}")  # fmt: skip


def _member(story: Any, n: int) -> dict[str, Any]:
    m = story.members[n]
    matched = next((o for o in story.members if o.item.id == m.matched), None)
    if m.tier == "first":
        why = "first: started the story"
    else:
        target = f"{matched.item.source}: {matched.item.title!r}" if matched else m.matched
        why = f"{m.tier} (score {m.score:.1f}) of {target}"
    return {"seq": n + 1, "source": m.item.source, "title": m.item.title, "link": m.item.link,
            "at": _when(m.at), "tier": m.tier, "score": round(m.score, 1),
            "matched": m.matched, "why": why, "rules": list(m.rules)}  # fmt: skip


def _near(miss: Any) -> str | None:
    if miss is None:
        return None
    return f"story {miss.story_id} (member {miss.member}, score {miss.score:.1f}): {miss.veto}"


def _deliveries(store: Store, story_id: str) -> list[dict[str, Any]]:
    return [{"receiver": r.receiver, "kind": r.kind, "state": r.state, "attempts": r.attempts,
             "last_error": r.last_error, "updated": _when(r.updated)}
            for r in store.outbox_for_story(story_id)]  # fmt: skip
