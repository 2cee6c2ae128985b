"""The config's ``route:`` and ``time_intervals:`` sections (Alertmanager's shape)::

    route:                                  # the root: its receiver takes what no child does
      receiver: desk-file
      group_wait: 30s                       # batch a burst into one digest (0 = send at once)
      group_interval: 5m                    # then at most one digest per interval
      group_by: [story]                     # story | severity | rule; default: one group
      routes:                               # depth-first; the first match wins ...
        - matchers: ['severity=~"high|critical"', "desk=defence"]
          receiver: slack-defence
          continue: true                    # ... unless it says continue
        - matchers: ["rule=sanctions"]
          receiver: risk-email
          mute_time_intervals: [nights]     # held, then sent when the window ends
          updates: significant              # a story's later changes: none | significant | all
          update_interval: 10m              # at most one follow-up per story per 10 min
          escalate: {outlets: 5, within: 1h, severity: critical, receiver: oncall}
    time_intervals:
      - {name: nights, times: ["22:00-07:00"], weekdays: ["mon-fri"], location: Europe/Istanbul}

Children inherit ``receiver``, ``group_wait``, ``group_interval``, ``group_by``,
``mute_time_intervals``, ``updates``, ``update_interval`` and ``escalate`` from their
parent. ``updates`` (default ``significant``): ``none`` sends a story's first alert
only; ``significant`` also tells of a new rule, a new entity or number, or an
escalation, as a follow-up (a Slack thread reply, a mail in the first one's thread,
a webhook event), and keeps an editable first message (Slack's Web API) current on
every change; ``all`` sends a follow-up for every change. ``update_interval``
(default 10m) holds a story's follow-ups to one per interval per receiver, the
changes collected (escalations are sent at once). ``escalate`` routes a story again
at ``severity`` once it has run in ``outlets`` distinct outlets within ``within``.
``group_by: [story]`` with a ``group_wait`` holds each story's alert that long so the
copies that follow are counted in it, without batching different stories together.
Matchers are ``label op value``
with op ``=``, ``!=``, ``=~``, ``!~`` (regexes anchored); labels are ``rule``,
``severity`` and each rule's ``labels``. Receivers may also take
``rate_limit: 20/m`` (count per ``s``, ``m``, ``h`` or a duration).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

import yaml

from monitor.config import values
from monitor.config import yamlfile as yf

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"(.*)"|(.*?))\s*')
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\S+)\s*")
_TIME = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ROUTE_KEYS = (
    "receiver", "matchers", "continue", "group_wait", "group_interval",
    "mute_time_intervals", "group_by", "routes", "updates", "update_interval", "escalate",
)  # fmt: skip
GROUP_BY = ("story", "severity", "rule")
UPDATES = ("none", "significant", "all")
_SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Escalation:
    """Route a story again, at ``severity``, once it has run in ``outlets`` distinct
    outlets within ``within`` seconds ("spreading"); also to ``receiver`` if set."""

    outlets: int
    within: float
    severity: str = "critical"
    receiver: str | None = None


@dataclass(frozen=True, slots=True)
class Matcher:
    """``label op value``: op is ``=``, ``!=``, ``=~`` or ``!~`` (regex, anchored)."""

    label: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """A node of the routing tree; None means "inherit from the parent"."""

    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    group_wait: float | None = None
    group_interval: float | None = None
    mute_time_intervals: tuple[str, ...] | None = None
    group_by: tuple[str, ...] | None = None  # story, severity, rule; () = one group
    routes: tuple[RouteConfig, ...] = ()
    line: int = 0
    updates: str | None = None  # none | significant | all: what a story's later changes send
    update_interval: float | None = None  # at most one follow-up per story per this (0: any)
    escalate: Escalation | None = None


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """A named mute window: ``times`` (minutes of the day, end may wrap past
    midnight), ``weekdays`` (0 = Monday; empty = every day), in ``location``."""

    name: str
    times: tuple[tuple[int, int], ...] = ()
    weekdays: tuple[int, ...] = ()
    location: str = "UTC"


def rate(value: Any) -> tuple[int, float]:
    """``20/m``, ``1/s``, ``100/1h`` -> (count, per seconds)."""
    v = values.plain(value)
    m = _RATE.fullmatch(v) if isinstance(v, str) else None
    if m is None or int(m[1]) < 1:
        raise values.Invalid(
            f"expected a rate such as '20/m' or '100/1h', got {values.show(value)}"
        )
    per = m[2] if m[2][0].isdigit() else "1" + m[2]
    return int(m[1]), values.duration(per)


def matcher(value: Any) -> Matcher:
    v = values.string(value)
    m = _MATCHER.fullmatch(v)
    if m is None:
        raise values.Invalid(f"expected a matcher such as 'severity=~\"high|critical\"', got {v!r}")
    found = Matcher(m[1], m[2], m[3] if m[3] is not None else m[4])
    if found.op in ("=~", "!~"):
        try:
            re.compile(found.value)
        except re.error as exc:
            raise values.Invalid(f"bad regex {found.value!r}: {exc}") from None
    return found


def _times(value: Any) -> tuple[tuple[int, int], ...]:
    out = []
    for text in values.strings(value):
        m = _TIME.fullmatch(text)
        if m is None or int(m[1]) > 24 or int(m[3]) > 24 or int(m[2]) > 59 or int(m[4]) > 59:
            raise values.Invalid(f"expected times such as '22:00-07:00', got {text!r}")
        out.append((int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])))
    return tuple(out)


def _weekdays(value: Any) -> tuple[int, ...]:
    out: list[int] = []
    for text in values.strings(value):
        first, _, last = text.lower().partition("-")
        if first[:3] not in _DAYS or (last and last[:3] not in _DAYS):
            raise values.Invalid(f"expected weekdays such as 'mon-fri' or 'sat', got {text!r}")
        a, b = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
        out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return tuple(sorted(set(out)))


def _location(value: Any) -> str:
    v = values.string(value)
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise values.Invalid(f"unknown time zone {v!r} (expected e.g. 'Europe/Istanbul')") from None
    return v


_INTERVAL = {"name": values.string, "times": _times, "weekdays": _weekdays, "location": _location}


def time_intervals(f: yf.YamlFile, entry: tuple[int, yaml.Node] | None) -> tuple[TimeInterval, ...]:
    if entry is None:
        return ()
    if not isinstance(node := entry[1], yaml.SequenceNode):
        f.problem(yf.line(node), f"time_intervals: expected a list, got a {yf.kind(node)}")
        return ()
    out = []
    for item in node.value:
        got = f.fields(item, "time_intervals", _INTERVAL)
        if "name" not in got:
            f.problem(yf.line(item), "time_intervals: each needs a 'name'")
            continue
        out.append(TimeInterval(**got))
    return tuple(out)


class RouteSection:
    """Reads the ``route:`` tree, checking receivers and interval names exist."""

    def __init__(self, f: yf.YamlFile, receivers: set[str], intervals: set[str]) -> None:
        self.f, self.receivers, self.intervals = f, receivers, intervals

    def read(self, entry: tuple[int, yaml.Node] | None) -> RouteConfig | None:
        if entry is None:
            return None
        root = self.node(entry[1], "route")
        if root is not None and root.receiver is None:
            self.f.problem(entry[0], "route: the root route needs a 'receiver'")
        return root

    def node(self, node: yaml.Node, what: str) -> RouteConfig | None:
        keys = self.f.known(node, what, _ROUTE_KEYS)
        if not keys and not isinstance(node, yaml.MappingNode):
            return None
        got = {k: self.f.value(v) for k, (_, v) in keys.items() if k != "routes"}
        return RouteConfig(
            receiver=self.conv(keys, got, "receiver", self.receiver, what),
            matchers=tuple(self.conv(keys, got, "matchers", _matchers, what) or ()),
            continue_=bool(self.conv(keys, got, "continue", values.boolean, what)),
            group_wait=self.conv(keys, got, "group_wait", _seconds_or_zero, what),
            group_interval=self.conv(keys, got, "group_interval", _seconds_or_zero, what),
            mute_time_intervals=self.conv(keys, got, "mute_time_intervals", self.mutes, what),
            group_by=self.conv(keys, got, "group_by", _group_by, what),
            routes=self.children(keys.get("routes"), what),
            line=yf.line(node),
            updates=self.conv(keys, got, "updates", values.choice(*UPDATES), what),
            update_interval=self.conv(keys, got, "update_interval", _seconds_or_zero, what),
            escalate=self.conv(keys, got, "escalate", self.escalation, what),
        )

    def children(self, entry: tuple[yaml.Node, yaml.Node] | None, what: str) -> tuple[Any, ...]:
        if entry is None:
            return ()
        if not isinstance(seq := entry[1], yaml.SequenceNode):
            self.f.problem(yf.line(seq), f"{what}.routes: expected a list, got a {yf.kind(seq)}")
            return ()
        kids = (self.node(child, f"{what}.routes[{i}]") for i, child in enumerate(seq.value))
        return tuple(kid for kid in kids if kid is not None)

    def conv(
        self, keys: dict[str, tuple[yaml.Node, yaml.Node]], got: dict[str, Any], key: str,
        conv: values.Conv, what: str,
    ) -> Any:  # fmt: skip
        if key not in got or got[key] is values.MISSING:
            return None
        try:
            return conv(got[key])
        except values.Invalid as exc:
            self.f.problem(yf.line(keys[key][1]), f"{what}.{key}: {exc}")
            return None

    def escalation(self, value: Any) -> Escalation:
        """``{outlets: 5, within: 1h, severity: critical, receiver: oncall}``."""
        if not isinstance(value, dict):
            raise values.Invalid("expected a mapping such as {outlets: 5, within: 1h}")
        known = {"outlets", "within", "severity", "receiver"}
        if unknown := sorted(set(value) - known):
            raise values.Invalid(f"unknown key {unknown[0]!r}{values.hint(unknown[0], known)}")
        if "outlets" not in value or "within" not in value:
            raise values.Invalid("needs 'outlets' and 'within', e.g. {outlets: 5, within: 1h}")
        return Escalation(
            outlets=values.integer(2, 10_000)(value["outlets"]),
            within=values.duration(value["within"]),
            severity=values.choice(*_SEVERITIES)(value.get("severity", "critical")),
            receiver=self.receiver(value["receiver"]) if "receiver" in value else None,
        )

    def receiver(self, value: Any) -> str:
        name = values.string(value)
        if name not in self.receivers:
            raise values.Invalid(f"no receiver named {name!r}{values.hint(name, self.receivers)}")
        return name

    def mutes(self, value: Any) -> tuple[str, ...]:
        names = values.strings(value) if value != [] else ()
        for name in names:
            if name not in self.intervals:
                raise values.Invalid(
                    f"no time interval named {name!r}{values.hint(name, self.intervals)}"
                )
        return names


def _matchers(value: Any) -> tuple[Matcher, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(matcher(item) for item in items)


def _group_by(value: Any) -> tuple[str, ...]:
    labels = values.strings(value) if value != [] else ()
    for label in labels:
        if label not in GROUP_BY:
            raise values.Invalid(f"can group by {', '.join(GROUP_BY)}, not {label!r}")
    return labels


def _seconds_or_zero(value: Any) -> float:
    return 0.0 if values.plain(value) in (0, "0", "0s") else values.duration(value)
