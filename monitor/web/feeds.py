"""Feed health for the web: every configured feed, failing first, and per host.

A feed is ``ok`` (its last poll answered: ``ok`` or ``not_modified``), ``failing``
(its last poll failed: the reason, and the detail the log gave), or ``pending``
(not polled yet). Items per day is the poller's smoothed rate of new items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from monitor.config import FeedConfig
from monitor.store import FeedState
from monitor.web.desk import Desk, when

OK = ("ok", "not_modified")
ORDER = {"failing": 0, "pending": 1, "ok": 2}


def host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower() or url
    except ValueError:
        return url


def status(state: FeedState) -> str:
    if state.last_poll is None and state.last_reason is None:
        return "pending"
    if state.consecutive_errors > 0 or (state.last_reason or "ok") not in OK:
        return "failing"
    return "ok"


def feed(config: FeedConfig, state: FeedState) -> dict[str, Any]:
    health = status(state)
    rate = state.update_rate
    return {
        "url": config.url, "name": config.name, "host": host(config.url),
        "title": state.title, "status": health,
        "reason": state.last_reason if health == "failing" else None,
        "detail": state.last_error if health == "failing" else None,
        "last_status": state.last_status, "last_poll": when(state.last_poll),
        "last_success": when(state.last_success), "next_poll": when(state.next_poll),
        "interval": state.interval if state.interval is not None else config.interval,
        "items_per_day": None if rate is None else round(rate * 86400, 1),
        "consecutive_errors": state.consecutive_errors, "truncated": state.truncated,
    }  # fmt: skip


def feed_list(desk: Desk, only_host: str | None = None) -> dict[str, Any]:
    states = {s.url: s for s in desk.store.feed_states()}
    rows = [feed(c, states.get(c.url) or FeedState(url=c.url)) for c in desk.feeds]
    rows.sort(key=lambda f: (ORDER[f["status"]], -f["consecutive_errors"], f["name"].casefold()))
    hosts = by_host(rows)
    if only_host:
        rows = [f for f in rows if f["host"] == only_host.lower()]
    counts = {name: sum(f["status"] == name for f in rows) for name in ORDER}
    return {"feeds": rows, "hosts": hosts, "counts": counts, "host": only_host or None}


def by_host(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per host: its feeds by status; hosts with failing feeds first."""
    found: dict[str, dict[str, Any]] = {}
    for f in rows:
        blank = {"host": f["host"], "feeds": 0, "ok": 0, "failing": 0, "pending": 0, "reasons": []}
        entry = found.setdefault(f["host"], blank)
        entry["feeds"] += 1
        entry[f["status"]] += 1
        if f["reason"] and f["reason"] not in entry["reasons"]:
            entry["reasons"].append(f["reason"])
    return sorted(found.values(), key=lambda h: (-h["failing"], h["host"]))
