"""One desk partition's stories stage, as its owner runs it: the memory bus's code on a
local ``:memory:`` view, its decisions turned into records instead of sends.

:class:`PartitionStories` holds a :class:`~monitor.dedup.stories.StoryBook` and the
:class:`~monitor.alerting.StoriesStage` exactly as the memory bus builds them, over a
private in-memory store, rebuilt from the partition's changelog
(:meth:`PartitionStories.restore`). :meth:`handle` runs one match through the stage and
returns what the owner's transaction must carry: the story's changelog records and one
``<prefix>.outbox`` record per receiver concerned. The stage's outbox is a
:class:`DecisionOutbox`: it keeps the rows that answer "has this receiver the story?"
(so a story is posted once per receiver) and hands over what was decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.alerting import StoriesStage
from monitor.alerts.outbox import Outbox
from monitor.alerts.route import Routed, Router
from monitor.bus.kafka_txn import Out, partition_for
from monitor.cluster import stories_changelog as changelog
from monitor.cluster.stories_intents import Intent
from monitor.cluster.stories_intents import encode as encode_intent
from monitor.config import Settings
from monitor.dedup.stories import Story as DedupStory
from monitor.dedup.stories import StoryBook
from monitor.metrics import Metrics
from monitor.model import Alert, Match, Story
from monitor.store import Store


class DecisionOutbox(Outbox):
    """The stories owner's outbox: records what the stage decides, sends nothing."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.posts: list[tuple[Routed, Alert]] = []
        self.syncs: list[Routed] = []

    def enqueue(self, routed: Iterable[tuple[Routed, Alert]], now: float) -> list[str]:
        pairs = list(routed)
        added = super().enqueue(pairs, now)  # the local row: this receiver has the story
        fresh = set(added)
        self.posts += [(r, a) for r, a in pairs if a.alert_id in fresh]
        return added

    def enqueue_sync(self, story: Story, routed: Iterable[Routed], now: float) -> list[str]:
        """Every sync goes to the receiver's owner (there, one pends per story)."""
        wanted = [r for r in routed if r.updates != "none"]
        self.syncs += wanted
        return [r.receiver for r in wanted]

    def take(self) -> tuple[list[tuple[Routed, Alert]], list[Routed]]:
        posts, syncs, self.posts, self.syncs = self.posts, self.syncs, [], []
        return posts, syncs


@dataclass(frozen=True, slots=True)
class Topics:
    stories: str
    outbox: str
    dead_letter: str
    partitions: int


class PartitionStories:
    def __init__(self, partition: int, settings: Settings, metrics: Metrics, topics: Topics,
                 receivers: list[str]) -> None:  # fmt: skip
        self.partition, self.topics = partition, topics
        self.store = Store(":memory:")
        s = settings.stories
        self.book = StoryBook(self.store, s.window, s.threshold)
        self.book.on_forget = self._forgot
        self.outbox = DecisionOutbox(self.store)
        router = Router(settings.route, receivers, settings.time_intervals)
        self.stage = StoriesStage(self.book, router, self.outbox, metrics, lambda _: None)
        self._gone: list[DedupStory] = []  # evicted since the last handle: tombstoned

    def restore(self, records: dict[bytes, bytes], now: float) -> tuple[int, list[Out]]:
        """Load the changelog partition; the stories in the window, and the tombstones of
        those that left it meanwhile (for the next transaction)."""
        got = changelog.decode(records)
        cutoff = now - self.book.window
        expired = [sid for sid, row in got.stories.items() if row.last_seen < cutoff]
        for sid, row in got.stories.items():
            if row.last_seen >= cutoff:
                self.store.import_story(row, got.members.get(sid, []))
        self.store.outbox_import(p for p in got.posted if p.story_id not in expired)
        for esc in got.escalations:
            if esc.story_id not in expired:
                self.store.record_escalation(esc)
        count = self.book.load(now)
        tombstones = [o for sid in expired
                      for o in self._tombstones(sid, len(got.members.get(sid, ())))]  # fmt: skip
        return count, tombstones

    def handle(self, match: Match, now: float) -> list[Out]:
        """Run ``match`` through the stories stage; the records its decisions make."""
        story = self.stage.handle(match, now)
        sid = story.story_id
        out = self._story_records(story)
        posts, syncs = self.outbox.take()
        escalations = tuple(self.store.escalations(sid))
        have = {r.receiver for r in self.store.outbox_for_story(sid) if r.kind == "alert"}
        have |= {r.receiver for r, _ in posts} | {r.receiver for r in syncs}
        for receiver in sorted(have):
            mine = tuple((r, a) for r, a in posts if r.receiver == receiver)
            sync = tuple(r for r in syncs if r.receiver == receiver)
            intent = Intent(receiver, now, story, mine, sync, escalations)
            out.append(Out(self.topics.outbox, receiver.encode(), encode_intent(intent),
                           partition_for(receiver.encode(), self.topics.partitions)))  # fmt: skip
        out += self._evicted()
        return out

    def _story_records(self, story: Story) -> list[Out]:
        sid = story.story_id
        row = self.store.story(sid)
        member = self.store.story_member(sid, story.version - 1)
        if row is None or member is None:  # the stage saves before it returns: a bug
            raise RuntimeError(f"story {sid} version {story.version} not in the local view")
        posted = [r for r in self.store.outbox_for_story(sid) if r.kind == "alert"]
        value = changelog.encode_story(row, posted, self.store.escalations(sid))
        joined = changelog.encode_member(member)
        return [self._out(changelog.story_key(sid), value),
                self._out(changelog.member_key(sid, member.seq), joined)]  # fmt: skip

    def _forgot(self, story: DedupStory) -> None:
        self._gone.append(story)

    def _evicted(self) -> list[Out]:
        gone, self._gone = self._gone, []
        if not gone:
            return []
        ids = [s.story_id for s in gone]
        self.store.outbox_forget_stories(ids)
        self.store.forget_deliveries_before(ids)
        return [o for s in gone for o in self._tombstones(s.story_id, len(s.members))]

    def _tombstones(self, story_id: str, members: int) -> list[Out]:
        keys = [changelog.story_key(story_id)]
        keys += [changelog.member_key(story_id, seq) for seq in range(members)]
        return [self._out(k, None) for k in keys]

    def _out(self, key: bytes, value: bytes | None) -> Out:
        return Out(self.topics.stories, key, value, self.partition)

    def close(self) -> None:
        self.store.close()
