"""Stories: which matches are one story, within a window (default 48 h).

:class:`StoryBook` sees every match and decides, in two tiers, whether its item joins a
story of the window or starts one:

* **copy** (the same article): one of a member's exact keys (``keys.exact_keys``: the
  link with its http/https and AMP forms folded, a global GUID), else a near-duplicate
  of any member's title or lead (``fingerprint.similarity``: wire markup, outlet
  suffixes, case, the same lead under a new title);
* **event** (a rewrite of the same event): ``events.EventIndex``, against the members
  of the candidate stories within hours, with the vetoes of ``vetoes``.

Both tiers compare an item with a bounded panel of each candidate story (``panel``: at
most 24 members, its first and those nearest in time), so a story of hundreds of members
costs no more per item than one of 24.

Each member records its tier, its score and the member it matched; an item that starts
its own story records its near miss (the nearest story and the veto that kept them
apart). Times are on the story clock (``clock.story_time``: the published time when
plausible, else first-seen): a story joins an item whose time lies within the window of
it, and the event tier only members within its span.

Stories and their members are persisted on every change (``rows``), so a restart keeps them
(:meth:`StoryBook.load`); memory and the store are bounded by the window on the
processing clock: a story unchanged for a window is evicted from both.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass

from monitor.dedup.clock import story_time
from monitor.dedup.events import EventIndex, Panels
from monitor.dedup.features import Features, features
from monitor.dedup.fingerprint import TITLE_THRESHOLD, Signature, signature, similarity
from monitor.dedup.keys import exact_keys, link_key, story_id
from monitor.dedup.rows import decode, decoded, encoded, joined, member_of
from monitor.dedup.story import Member, NearMiss, Observed, Story, first_hits
from monitor.dedup.vetoes import veto
from monitor.model import Match
from monitor.store import MemberRow, Store

__all__ = ["DEFAULT_WINDOW", "Member", "NearMiss", "Observed", "Story", "StoryBook", "Verdict"]
DEFAULT_WINDOW = 48 * 3600.0
CERTAIN = 100.0  # the highest similarity there is
Joined = tuple[Story, Member]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What :meth:`StoryBook.decide` found for a match, before anything is written:
    the story it joins (None: it starts one) as ``member``, or its near miss."""

    story: Story | None
    member: Member
    near_miss: NearMiss | None
    features: Features
    signature: Signature
    keys: tuple[str, ...]


class StoryBook:
    def __init__(
        self, store: Store, window: float = DEFAULT_WINDOW, threshold: float = TITLE_THRESHOLD
    ) -> None:
        self.store = store
        self.window = window
        self.threshold = threshold
        self.events = EventIndex()  # both tiers' candidates; the event tier's features
        self._sigs: dict[str, Signature] = {}  # member key -> its title and lead signature
        self._leads: dict[str, list[str]] = {}  # exact lead key -> member keys, sorted
        self._live: dict[str, Story] = {}
        self._touched: dict[str, float] = {}  # story id -> last change, processing clock
        self._ages: list[tuple[float, str]] = []  # heap of (touched when pushed, story id)
        self._keys: dict[str, str] = {}  # exact key -> story id
        # told of each story evicted from the window (a changelog drops it: monitor.cluster)
        self.on_forget: Callable[[Story], None] | None = None

    def load(self, now: float) -> int:
        """Forget stories older than the window; index the rest. Returns how many."""
        cutoff = now - self.window
        self.store.forget_stories_before(cutoff)
        members: dict[str, list[MemberRow]] = {}
        for member in self.store.members_since(cutoff):
            members.setdefault(member.story_id, []).append(member)
        rows = self.store.stories_since(cutoff)
        for row in rows:
            story, feats = decoded(row, members.get(row.story_id, []))
            indexed = [(f, signature(m.item.title, m.item.summary), exact_keys(m.item))
                       for m, f in zip(story.members, feats, strict=True)]  # fmt: skip
            self._remember(story, row.last_seen, indexed)
        return len(rows)

    def reload(self, now: float) -> int:
        """Forget every story held in memory and :meth:`load` the window again: memory
        had gone ahead of the store (a batch of writes was rolled back)."""
        self.events = EventIndex(self.events.threshold, self.events.span)
        self._sigs, self._leads, self._live, self._touched = {}, {}, {}, {}
        self._ages, self._keys = [], {}
        return self.load(now)

    def decide(self, match: Match, now: float) -> Verdict:
        """Which story ``match`` joins, and why; nothing is written (pure, in memory)."""
        item = match.item
        at = story_time(item, now)
        keys = exact_keys(item)
        feats = features(match)
        sig = signature(item.title, item.summary)
        near: NearMiss | None = None
        candidates = self.events.candidates(feats)
        panels = self.events.panels(candidates, feats, at)
        found = self._copy(match, feats, sig, keys, at, now, panels)
        if found is None:
            found, near = self._event(match, feats, at, now, candidates, panels)
        if found is None:
            return Verdict(None, member_of(match, feats, "first", 0.0, None, at), near, feats, sig,
                           keys)  # fmt: skip
        return Verdict(found[0], found[1], None, feats, sig, keys)

    def observe(self, match: Match, now: float) -> Observed:
        """Decide, then keep the decision: in memory and, durably, in the store."""
        verdict = self.decide(match, now)
        member, old = verdict.member, verdict.story
        if old is None:
            sid, at, near = self._new_id(match, member.at), member.at, verdict.near_miss
            story = Story(sid, (member,), first_hits(match.hits), (match.item.source,), at, at,
                          near_miss=near)  # fmt: skip
            self._save(story, verdict, now)
            return Observed(story, True, member, verdict.near_miss, story.rules)
        story = joined(old, member)
        self._save(story, verdict, now)
        return Observed(story, False, member, None, story.rules[len(old.rules) :])

    def get(self, story_id: str) -> Story | None:
        live = self._live.get(story_id)
        if live is not None:
            return live
        row = self.store.story(story_id)
        return decode(row, self.store.story_members(story_id)) if row else None

    def stories_since(self, t: float) -> list[Story]:
        """The stories changed at or after ``t`` (processing clock), oldest change first."""
        return [decode(row, self.store.story_members(row.story_id))
                for row in self.store.stories_since(t)]  # fmt: skip

    def find_item(self, ref: str) -> tuple[Story, Member] | None:
        """The story and member of an item, by its item id or its link (any AMP form)."""
        key = link_key(ref) if "://" in ref else None
        row = self.store.find_member(ref, key)
        story = self.get(row.story_id) if row else None
        if story is None or row is None:
            return None
        return story, next(m for i, m in enumerate(story.members) if i == row.seq)

    def evict(self, now: float) -> int:
        cutoff = now - self.window
        dropped = 0
        while self._ages and self._ages[0][0] < cutoff:
            touched, sid = heapq.heappop(self._ages)
            if self._touched.get(sid) != touched:
                continue  # changed since: a newer heap entry stands for it
            self._forget(sid)
            dropped += 1
        self.store.forget_stories_before(cutoff)
        return dropped

    # -- the copy tier ------------------------------------------------------------------

    def _copy(
        self, match: Match, feats: Features, sig: Signature, keys: tuple[str, ...], at: float,
        now: float, panels: Panels,
    ) -> Joined | None:  # fmt: skip
        sid = next((s for k in keys if (s := self._keys.get(k)) is not None), None)
        story = self._live.get(sid) if sid else None
        if story is not None and self._joinable(story, at, now):
            wanted = set(keys)
            matched = next((m for m in story.members if wanted & set(exact_keys(m.item))),
                           story.members[0])  # fmt: skip
            return story, member_of(match, feats, "copy", 100.0, matched.item.id, at)
        best = self._look_alike(sig, at, panels)
        if best is None:
            return None
        member = self._member(best[0])
        story = self._live[best[0].rpartition("/")[0]]
        if not self._joinable(story, at, now):
            return None
        if veto(feats, self.events.features(best[0]), self.events.idf):
            return None  # a templated lead ("FM Fidan met ... in Antalya"), another name

        return story, member_of(match, feats, "copy", round(best[1], 1), member.item.id, at)

    # -- the event tier -----------------------------------------------------------------

    def _look_alike(self, sig: Signature, at: float, panels: Panels) -> tuple[str, float] | None:
        """The member ``sig`` is most a copy of (title or lead), among the candidate stories'
        panels and those with the same lead; ties go to the earlier member."""
        times = {m.key: m.at for members in panels.values() for m in members}
        for key in self._leads.get(sig.lead_key, ()) if sig.lead_key else ():
            if key not in times:
                times[key] = self._member(key).at
        best: tuple[str, float] | None = None
        span, sigs = self.events.span, self._sigs
        for key, when in times.items():
            if abs(when - at) > span:
                continue  # a look-alike a day later is the next development, not a copy
            value = similarity(sig, sigs[key])
            if value >= self.threshold and (best is None or value > best[1]):
                best = (key, value)
                if value >= CERTAIN:
                    break  # none after it can beat it: a wire copy's many look-alikes
        return best

    def _event(
        self, match: Match, feats: Features, at: float, now: float, candidates: list[str],
        panels: Panels,
    ) -> tuple[Joined | None, NearMiss | None]:  # fmt: skip
        decision = self.events.decide(feats, at, candidates, panels)
        if decision is None:
            return None, None
        story, matched = self._live[decision.story], self._member(decision.member)
        if decision.veto is None and self._joinable(story, at, now):
            return (
                story,
                member_of(match, feats, "event", decision.score, matched.item.id, at),
            ), None
        reason = decision.veto or "out of the window"
        return None, NearMiss(decision.story, matched.item.id, decision.score, reason)

    def _joinable(self, story: Story, at: float, now: float) -> bool:
        touched = self._touched.get(story.story_id, -1e300)
        inside = story.created - self.window <= at <= story.last_seen + self.window
        return inside and touched >= now - self.window

    # -- memory and the store -------------------------------------------------------------

    def _member(self, key: str) -> Member:
        sid, _, seq = key.rpartition("/")
        return self._live[sid].members[int(seq)]

    def _remember(
        self, story: Story, touched: float,
        new: list[tuple[Features, Signature, tuple[str, ...]]],
    ) -> None:  # fmt: skip
        """Keep ``story`` live; index its last ``len(new)`` members (features, signature,
        exact keys)."""
        sid = story.story_id
        self._live[sid] = story
        self._touched[sid] = touched
        heapq.heappush(self._ages, (touched, sid))
        first = len(story.members) - len(new)
        for seq, (feats, sig, keys) in enumerate(new, first):
            member = story.members[seq]
            key = f"{sid}/{seq}"
            self._sigs[key] = sig
            if sig.lead_key:
                same = self._leads.get(sig.lead_key)
                if same is None:
                    same = self._leads[sig.lead_key] = []
                _insert(same, key)
            self.events.add(key, sid, feats, member.at)
            for exact in keys:
                self._keys[exact] = sid

    def _forget(self, sid: str) -> None:
        story = self._live.pop(sid)
        if self.on_forget is not None:
            self.on_forget(story)
        self._touched.pop(sid, None)
        for seq, member in enumerate(story.members):
            sig = self._sigs.pop(f"{sid}/{seq}", None)
            if sig is not None and sig.lead_key in self._leads:
                _discard(self._leads[sig.lead_key], f"{sid}/{seq}")
                if not self._leads[sig.lead_key]:
                    del self._leads[sig.lead_key]
            for exact in exact_keys(member.item):
                if self._keys.get(exact) == sid:
                    del self._keys[exact]
        self.events.remove_story(sid)

    def _new_id(self, match: Match, at: float) -> str:
        sid = story_id(match.item)
        if sid in self._live or self.store.story(sid) is not None:  # that article, long ago
            sid = hashlib.sha256(f"{sid}\0{at}".encode()).hexdigest()[:20]
        return sid

    def _save(self, story: Story, verdict: Verdict, now: float) -> None:
        row, member_row = encoded(story, verdict.member, now)
        self.store.save_story(row, verdict.keys, member_row)
        self._remember(story, now, [(verdict.features, verdict.signature, verdict.keys)])


def _insert(keys: list[str], key: str) -> None:
    """Add ``key`` to the sorted ``keys`` (a set kept in order: once)."""
    at = bisect.bisect_left(keys, key)
    if at == len(keys) or keys[at] != key:
        keys.insert(at, key)


def _discard(keys: list[str], key: str) -> None:
    """Remove ``key`` from the sorted ``keys``, if there."""
    at = bisect.bisect_left(keys, key)
    if at < len(keys) and keys[at] == key:
        del keys[at]
