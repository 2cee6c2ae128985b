"""Silences for the web, Alertmanager's way: list, create, expire.

A silence is matchers (``story=ID``, ``rule=NAME``, ``entity=~"S-.*"``, a rule label
such as ``desk=defence``) for a duration, with an author and a comment
(:mod:`monitor.alerts.silence`). It is written to the state file, where the
daemon's senders read the silences at least once a second: the next alert or
update it matches is recorded as muted (the story's audit shows it), not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.alerts.silence import Silence, new_id
from monitor.config import Matcher, values
from monitor.config.routes import matcher
from monitor.model import parse_iso
from monitor.web.desk import Desk, Problem, when

MAX_MATCHERS = 20
MAX_TEXT = 1000  # characters of an author, a comment or a matcher
MAX_SPAN = 366 * 86400.0  # the longest silence, seconds


def silence_list(desk: Desk, everything: bool = False) -> dict[str, Any]:
    now = desk.clock()
    rows = [Silence(*row) for row in desk.store.silences(None if everything else now)]
    return {"silences": [shown(s, now) for s in rows], "all": everything}


def shown(s: Silence, now: float) -> dict[str, Any]:
    state = "active" if s.active(now) else ("pending" if now < s.starts else "expired")
    return {
        "silence_id": s.silence_id, "matchers": [matcher_text(m) for m in s.matchers],
        "starts": when(s.starts), "ends": when(s.ends), "author": s.author,
        "comment": s.comment, "created": when(s.created), "state": state,
    }  # fmt: skip


def matcher_text(m: Matcher) -> str:
    plain = m.value and not any(c.isspace() or c in "\"'" for c in m.value)
    return f"{m.label}{m.op}{m.value}" if plain else f'{m.label}{m.op}"{m.value}"'


def create(desk: Desk, body: Mapping[str, Any]) -> dict[str, Any]:
    """A silence from ``matchers`` (a list, or text: one a line), ``duration`` ("2h")
    or ``ends`` (ISO 8601), ``author`` and ``comment``; Problem(400) says what is wrong."""
    now = desk.clock()
    matchers = tuple(_matcher(text) for text in _texts(body.get("matchers")))
    if not matchers:
        raise Problem(400, "matchers: give at least one, such as story=ID or rule=s400",
                      "matchers")  # fmt: skip
    ends = _ends(body, now)
    author, comment = _text(body, "author"), _text(body, "comment")
    silence = Silence(new_id(), matchers, now, ends, author, comment, now)
    desk.store.add_silence(silence)
    return shown(silence, now)


def expire(desk: Desk, silence_id: str) -> dict[str, Any]:
    now = desk.clock()
    if not desk.store.expire_silence(silence_id, now):
        raise Problem(404, f"no silence {silence_id!r} in force")
    found = next(Silence(*r) for r in desk.store.silences() if r[0] == silence_id)
    return shown(found, now)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Problem(400, "matchers: expected a list of matchers such as rule=s400", "matchers")
    texts = [v.strip() for v in value if v.strip()]
    if len(texts) > MAX_MATCHERS or any(len(t) > MAX_TEXT for t in texts):
        raise Problem(400, f"matchers: at most {MAX_MATCHERS}, each {MAX_TEXT} characters",
                      "matchers")  # fmt: skip
    return texts


def _matcher(text: str) -> Matcher:
    try:
        return matcher(text)
    except values.Invalid as exc:
        raise Problem(400, f"matchers: {exc}", "matchers") from None


def _ends(body: Mapping[str, Any], now: float) -> float:
    duration, ends = body.get("duration"), body.get("ends")
    try:
        if ends:
            until = parse_iso(ends if "T" in str(ends) else f"{ends}T00:00:00Z")
            end = until.timestamp() if until else now
        else:
            end = now + values.duration(duration or "2h")
    except (values.Invalid, ValueError) as exc:
        raise Problem(400, f"{'ends' if ends else 'duration'}: {exc}",
                      "ends" if ends else "duration") from None  # fmt: skip
    if end <= now:
        raise Problem(400, "the end is not in the future", "ends" if ends else "duration")
    if end - now > MAX_SPAN:
        raise Problem(400, "a silence lasts at most 366 days", "ends" if ends else "duration")
    return end


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Problem(400, f"{name}: required (who is silencing, and why)", name)
    if len(value) > MAX_TEXT:
        raise Problem(400, f"{name}: at most {MAX_TEXT} characters", name)
    return value.strip()
