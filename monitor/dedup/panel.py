"""Which members of a story an item is compared with: a bounded panel.

A story carried by hundreds of outlets over days is real news, and an item compared
with every member of its candidate stories costs O(members) per item, growing with the
story (a burst of one template chained stories of hundreds of members: 5-11 ms a match).
Both tiers compare an item with a story's panel instead, at most :data:`PANEL` members:

* its members within ``span`` of the item's time (story clock): those in the item's
  language when it has any there, else all (only they judge: ``monitor.dedup.events``);
* all of them when there are at most :data:`PANEL`; else the story's first
  :data:`FOUNDERS` of them (the event as first told: rewrites rephrase the wire's
  first reports) and the :data:`NEAREST` members nearest in time to the item (the story
  as it reads now: the event score's hourly penalty prefers them anyway).

Either set is what a rewrite most resembles; a member far down a long story that
neither holds is, in a story of many members, echoed by members that are held. The
panel is returned in arrival order, so a tie still goes to the earlier member.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Generic, TypeVar

FOUNDERS = 8
NEAREST = 16
PANEL = FOUNDERS + NEAREST  # at most 24 members of a story compared with an item

T = TypeVar("T")
_at = itemgetter(0)
_seq = itemgetter(1)


@dataclass(slots=True)
class _Lane(Generic[T]):
    """Members (of one language, or of all): the first few, and all by story time."""

    founders: list[tuple[float, int, T]] = field(default_factory=list)  # arrival order
    timeline: list[tuple[float, int, T]] = field(default_factory=list)  # by (time, seq)

    def add(self, entry: tuple[float, int, T]) -> None:
        if len(self.founders) < FOUNDERS:
            self.founders.append(entry)
        bisect.insort(self.timeline, entry, key=_at_seq)

    def pick(self, at: float, span: float) -> list[T]:
        timeline = self.timeline
        lo = bisect.bisect_left(timeline, at - span, key=_at)
        hi = bisect.bisect_right(timeline, at + span, key=_at)
        if hi - lo <= PANEL:
            return [e[2] for e in sorted(timeline[lo:hi], key=_seq)]
        chosen = {e[1]: e for e in self.founders if abs(e[0] - at) <= span}
        left = bisect.bisect_left(timeline, at, lo, hi, key=_at) - 1
        right = left + 1
        for _ in range(NEAREST):  # the nearest in time, outwards from the item's
            if right >= hi or (left >= lo and at - timeline[left][0] <= timeline[right][0] - at):
                entry, left = timeline[left], left - 1
            else:
                entry, right = timeline[right], right + 1
            chosen[entry[1]] = entry
        return [e[2] for e in sorted(chosen.values(), key=_seq)]


def _at_seq(entry: tuple[float, int, object]) -> tuple[float, int]:
    return entry[0], entry[1]


@dataclass(slots=True)
class Panel(Generic[T]):
    """One story's members, by language and by time; :meth:`pick` bounds a comparison."""

    lanes: dict[str | None, _Lane[T]] = field(default_factory=dict)
    every: _Lane[T] = field(default_factory=_Lane)

    def add(self, member: T, language: str | None, at: float, seq: int) -> None:
        """Add the story's ``seq``-th member (``seq`` counts up from 0 as members join)."""
        entry = (at, seq, member)
        lane = self.lanes.get(language)
        if lane is None:
            lane = self.lanes[language] = _Lane()
        lane.add(entry)
        self.every.add(entry)

    def pick(self, language: str | None, at: float, span: float) -> list[T]:
        """At most :data:`PANEL` members within ``span`` of ``at``, in arrival order:
        of ``language`` if it has any there, else of every language."""
        lane = self.lanes.get(language)
        return (lane.pick(at, span) if lane else []) or self.every.pick(at, span)
