"""Silences, Alertmanager's idea: mute what matches, for a while, saying who and why.

A silence is a set of matchers (``label op value``, as in routes: ``=``, ``!=``,
``=~``, ``!~``) over an alert's labels, active from ``starts`` to ``ends``. The
labels of an alert: ``story`` (its id), ``rule`` (each rule it matched),
``entity`` (each matched term), ``severity``, ``receiver`` and each of its rules'
``labels`` (``desk=defence``). A matcher on a label with several values holds when
one value matches (``=``, ``=~``) or none does (``!=``, ``!~``). A muted alert or
update is not sent but kept in the outbox as ``muted``, with the silence that muted
it: the story's audit shows it. Silences live in the state file, so ``newsmon
silence add`` reaches a running daemon at its next send, and restarts keep them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.config import Matcher
from monitor.model import Alert


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: str
    matchers: tuple[Matcher, ...]
    starts: float
    ends: float
    author: str
    comment: str
    created: float

    def active(self, now: float) -> bool:
        return self.starts <= now < self.ends

    def mutes(self, alert: Alert, now: float) -> bool:
        return self.active(now) and matches(self.matchers, labels(alert))


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def labels(alert: Alert) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {
        "story": {alert.story_id}, "rule": set(alert.rules), "severity": {alert.severity},
        "receiver": {alert.receiver}, "entity": {term for term, _ in alert.matched},
    }  # fmt: skip
    for name, value in alert.labels:
        found.setdefault(name, set()).add(value)
    return found


def matches(matchers: Sequence[Matcher], found: Mapping[str, set[str]]) -> bool:
    return all(_holds(m, found.get(m.label, set())) for m in matchers)


def _holds(m: Matcher, values: set[str]) -> bool:
    if m.op in ("=~", "!~"):
        rx = re.compile(m.value)
        hit = any(rx.fullmatch(v) for v in values) or (not values and rx.fullmatch("") is not None)
        return hit == (m.op == "=~")
    hit = m.value in values or (not values and m.value == "")
    return hit == (m.op == "=")


def muting(silences: Iterable[Silence], alert: Alert, now: float) -> Silence | None:
    """The first active silence that mutes ``alert``, if any."""
    return next((s for s in silences if s.mutes(alert, now)), None)
