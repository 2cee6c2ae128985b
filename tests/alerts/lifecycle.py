"""A story's life as the alerts a receiver gets: created (post), grown (edit), a
significant update (followup), escalated; each built on support.records.alert."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from support import records

from monitor.model import Alert, StoryMember

OUTLETS = ("Wire", "AP", "TASS", "Daily Sabah", "Defense News", "Reuters")


def members(n: int, published_step: timedelta = timedelta(minutes=7)) -> tuple[StoryMember, ...]:
    """The first ``n`` outlets' items, seven minutes apart; the first is the story's."""
    return tuple(
        StoryMember(source, f"{source}: Russia to share S-400 technology with Turkey",
               f"https://{source.lower().replace(' ', '')}.example/s400",
               records.PUBLISHED + i * published_step, "first" if i == 0 else "event")
        for i, source in enumerate(OUTLETS[:n])
    )  # fmt: skip


def created(receiver: str = "slack", n: int = 1, **fields: object) -> Alert:
    first = records.alert(receiver, n, **fields)
    return replace(first, outlets=(first.source,), members=members(1)[:1])


def update(first: Alert, outlets: int, *, mode: str, changes: tuple[str, ...] = (),
           thread: Mapping[str, str] | None = None, event: str = "updated") -> Alert:  # fmt: skip
    """The story ``first`` began, now carried by ``outlets`` outlets."""
    grown = members(outlets)
    return replace(
        first, alert_id=f"{first.alert_id}-v{outlets}-{mode}", event=event, version=outlets,
        outlets=tuple(m.source for m in grown), members=grown, changes=changes, mode=mode,
        thread=tuple(sorted((thread or {}).items())), updated=grown[-1].published,
    )  # fmt: skip
