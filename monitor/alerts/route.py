"""From a story to its receivers: the routing tree, grouping and mute windows (pure).

The tree is Alertmanager's (``dispatch/route.go``): each node has matchers, a
receiver and options its children inherit; a story's rule hits walk it
depth-first and the first matching child wins unless it says ``continue``; a
node none of whose children match takes the alert itself. Each rule hit is
routed with its labels (``rule``, ``severity`` and the rule's ``labels``); a
story goes once to each receiver any of its hits reached, listing every rule.
When several hits reach one receiver through different nodes, the most severe
hit's node decides how (its ``group_wait``, ``group_interval``, ``group_by`` and
mute windows), whatever order the rules matched in: hits are routed most severe
first (ties keep the rules' order), and a receiver keeps the first node that
reached it. So a critical story is never held in a muted route that only one
of its medium rules led to. No ``route:`` in the config: every receiver gets
every alert.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Escalation, Matcher, RouteConfig, TimeInterval
from monitor.model import SEVERITIES, Alert, Evidence, Match, RuleHit


@dataclass(frozen=True, slots=True)
class Routed:
    """Where one story goes, and how: the options of the route node that took it."""

    receiver: str
    route: str  # the node's path in the tree ("0", "0.1"): names its alert group
    group_wait: float = 0.0
    group_interval: float = 0.0
    mute: tuple[TimeInterval, ...] = ()
    group_by: tuple[str, ...] = ()
    updates: str = "significant"  # none | significant | all (config/routes.py)
    update_interval: float = 600.0
    escalate: Escalation | None = None


@dataclass(frozen=True, slots=True)
class _Node:
    routed: Routed
    matchers: tuple[tuple[Matcher, re.Pattern[str] | None], ...]
    continue_: bool
    children: tuple[_Node, ...]


class Router:
    def __init__(
        self,
        tree: RouteConfig | None,
        receivers: Sequence[str],
        intervals: Sequence[TimeInterval] = (),
    ) -> None:
        self._everyone = tuple(Routed(r, f"all.{r}") for r in receivers) if tree is None else ()
        by_name = {i.name: i for i in intervals}
        root = Routed(tree.receiver or "", "0") if tree else Routed("", "0")
        self._root = _compile(tree, root, by_name) if tree else None

    def route(self, hits: Sequence[RuleHit], severity: str | None = None) -> list[Routed]:
        """Where a story with these rule hits goes; ``severity`` overrides every hit's
        (a story routed again at an escalation's severity)."""
        if self._root is None:
            return list(self._everyone)
        out: dict[str, Routed] = {}
        for hit in sorted(hits, key=lambda h: -_rank(h.severity)):  # stable: most severe first
            labels = {**dict(hit.labels), "rule": hit.rule, "severity": severity or hit.severity}
            for routed in _walk(self._root, labels) or [self._root.routed]:
                out.setdefault(routed.receiver, routed)
        return list(out.values())


def _compile(cfg: RouteConfig, parent: Routed, intervals: Mapping[str, TimeInterval]) -> _Node:
    mute = parent.mute
    if cfg.mute_time_intervals is not None:
        mute = tuple(intervals[n] for n in cfg.mute_time_intervals if n in intervals)
    routed = Routed(
        receiver=cfg.receiver or parent.receiver,
        route=parent.route,
        group_wait=parent.group_wait if cfg.group_wait is None else cfg.group_wait,
        group_interval=parent.group_interval if cfg.group_interval is None else cfg.group_interval,
        mute=mute,
        group_by=parent.group_by if cfg.group_by is None else cfg.group_by,
        updates=parent.updates if cfg.updates is None else cfg.updates,
        update_interval=(
            parent.update_interval if cfg.update_interval is None else cfg.update_interval
        ),
        escalate=parent.escalate if cfg.escalate is None else cfg.escalate,
    )
    children = tuple(
        _compile(child, replace(routed, route=f"{routed.route}.{i}"), intervals)
        for i, child in enumerate(cfg.routes)
    )
    matchers = tuple(
        (m, re.compile(m.value) if m.op in ("=~", "!~") else None) for m in cfg.matchers
    )
    return _Node(routed, matchers, cfg.continue_, children)


def _walk(node: _Node, labels: Mapping[str, str]) -> list[Routed]:
    """The nodes that take an alert with ``labels`` under ``node`` (empty if none)."""
    if not all(_matches(m, rx, labels.get(m.label, "")) for m, rx in node.matchers):
        return []
    found: list[Routed] = []
    for child in node.children:
        taken = _walk(child, labels)
        found.extend(taken)
        if taken and not child.continue_:
            break
    return found or [node.routed]


def _matches(m: Matcher, rx: re.Pattern[str] | None, value: str) -> bool:
    if rx is not None:
        return (rx.fullmatch(value) is not None) == (m.op == "=~")
    return (value == m.value) == (m.op == "=")


# --- grouping and mute windows ------------------------------------------------------


def group_key(routed: Routed, alert: Alert) -> str:
    """Alerts of one route node and receiver (and ``group_by`` values) are batched,
    unless the node does not group."""
    if routed.group_wait <= 0 and routed.group_interval <= 0:
        return f"alert:{alert.alert_id}"
    values = {"story": alert.story_id, "severity": alert.severity, "rule": alert.rules[0]}
    by = "".join(f":{label}={values[label]}" for label in routed.group_by)
    return f"group:{routed.receiver}:{routed.route}{by}"


def due_time(
    routed: Routed, now: float, group_due: float | None, last_flush: float | None
) -> float:
    """When a new alert of a group is sent: with the group's pending digest if
    there is one; else ``group_interval`` after the last digest; else after
    ``group_wait``. Then pushed past any mute window."""
    if group_due is not None:
        due = group_due
    elif last_flush is not None and routed.group_interval > 0:
        due = max(now, last_flush + routed.group_interval)
    else:
        due = now + routed.group_wait
    return unmuted(routed.mute, due)


def unmuted(intervals: Sequence[TimeInterval], t: float) -> float:
    """``t``, or the end of the mute window(s) ``t`` falls in."""
    for _ in range(16):  # adjacent windows chain; 16 is plenty
        end = max((e for i in intervals if (e := _window_end(i, t)) is not None), default=None)
        if end is None:
            return t
        t = end
    return t


def _window_end(interval: TimeInterval, t: float) -> float | None:
    zone = ZoneInfo(interval.location)
    local = datetime.fromtimestamp(t, zone)
    minute = local.hour * 60 + local.minute
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for start, end in interval.times or ((0, 24 * 60),):
        if start <= end:
            inside, day, end_day = start <= minute < end, local, midnight
        elif minute >= start:
            inside, day, end_day = True, local, midnight + timedelta(days=1)
        else:
            inside, day, end_day = minute < end, local - timedelta(days=1), midnight
        if inside and (not interval.weekdays or day.weekday() in interval.weekdays):
            naive = end_day.replace(tzinfo=None) + timedelta(minutes=end)
            return naive.replace(tzinfo=zone).astimezone(UTC).timestamp()
    return None


# --- alerts --------------------------------------------------------------------------


def alerts_for(
    match: Match, story_id: str, receivers: Sequence[str], duplicates: Sequence[str] = ()
) -> list[Alert]:
    item = match.item
    severity = max((h.severity for h in match.hits), key=_rank, default="medium")
    matched: dict[str, list[Evidence]] = {}
    for hit in match.hits:
        for ev in hit.evidence:
            matched.setdefault(ev.term, []).append(ev)
    return [
        Alert(
            alert_id=alert_id(story_id, receiver),
            story_id=story_id,
            receiver=receiver,
            rules=match.rules,
            severity=severity,
            title=item.title,
            link=item.link,
            source=item.source,
            published=item.published,
            matched=tuple((term, tuple(ev)) for term, ev in matched.items()),
            duplicates=tuple(duplicates),
            summary=item.summary,
            item_id=item.id,
            feed_url=item.feed_url,
            item_seen=item.seen,
        )
        for receiver in receivers
    ]


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def alert_id(story_id: str, receiver: str) -> str:
    """One story alerts once per receiver: the id says so."""
    return hashlib.sha256(f"{story_id}\0{receiver}".encode()).hexdigest()[:20]
