"""Silences for the web, Alertmanager's way: list, create, expire.

A silence is matchers (``story=ID``, ``rule=NAME``, ``entity=~"S-.*"``, a rule label
such as ``desk=defence``) for a duration, with an author and a comment
(:mod:`monitor.alerts.silence`). On the memory bus it is written to the state file,
where the daemon's senders read the silences at least once a second: the next alert
or update it matches is recorded as muted (the story's audit shows it), not sent. On
Kafka it is published to ``<prefix>.silences`` (the desk's :class:`SilenceWriter`, in a
thread), which every daemon of the group follows into its own state file: the daemon
delivering to a receiver honours it, whichever daemon's desk made it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from monitor.alerts.silence import Silence, new_id
from monitor.config import Matcher, values
from monitor.config.routes import matcher
from monitor.errors import NewsmonError
from monitor.model import parse_iso
from monitor.web.desk import Desk, Problem, when

log = logging.getLogger(__name__)

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


async def create(desk: Desk, body: Mapping[str, Any]) -> dict[str, Any]:
    """A silence from ``matchers`` (a list, or text: one a line), ``duration`` ("2h")
    or ``ends`` (ISO 8601), ``author`` and ``comment``; Problem(400) says what is wrong,
    Problem(503) that the group's silences topic did not take it."""
    silence = build(desk, body)
    if desk.silences is None:
        desk.store.add_silence(silence)
    else:
        await _shared(desk.silences.add, silence)
    return shown(silence, silence.created)


def build(desk: Desk, body: Mapping[str, Any]) -> Silence:
    """The silence ``body`` asks for, from now (Problem(400) if it is not one)."""
    now = desk.clock()
    matchers = tuple(_matcher(text) for text in _texts(body.get("matchers")))
    if not matchers:
        raise Problem(400, "matchers: give at least one, such as story=ID or rule=s400",
                      "matchers")  # fmt: skip
    ends = _ends(body, now)
    author, comment = _text(body, "author"), _text(body, "comment")
    return Silence(new_id(), matchers, now, ends, author, comment, now)


async def expire(desk: Desk, silence_id: str) -> dict[str, Any]:
    """End the silence ``silence_id`` now; Problem(404) if none such is in force."""
    now = desk.clock()
    found = in_force(desk, silence_id, now)
    if desk.silences is None:
        if not desk.store.expire_silence(silence_id, now):
            raise Problem(404, f"no silence {silence_id!r} in force")
    else:
        await _shared(desk.silences.expire, found, now)
    return shown(replace(found, ends=min(found.ends, now)), now)


def in_force(desk: Desk, silence_id: str, now: float) -> Silence:
    for row in desk.store.silences(now):
        if row[0] == silence_id:
            return Silence(*row)
    raise Problem(404, f"no silence {silence_id!r} in force")


async def _shared(write: Callable[..., None], *args: Any) -> None:
    """A write to where the group's silences are (a broker: blocking, so in a thread)."""
    try:
        await asyncio.to_thread(write, *args)
    except NewsmonError as exc:
        log.warning("silence_not_written error=%s", exc)
        raise Problem(
            503,
            f"the group's silences did not take it (try again; `newsmon silence"
            f" list` shows what is in force): {exc}",
        ) from None


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
