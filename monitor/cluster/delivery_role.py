"""The delivery role (and the silences it honours) as the daemon runs it: the outbox the
dispatcher's workers use, the dispatcher, the consumer thread, readiness and drains.

Entered after the dispatcher and left before it: leaving the group hands the receivers
over (the sends in flight finish and their outcomes commit) while the workers still run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType

from monitor.alerts.deliver import Dispatcher
from monitor.alerts.sinks import Sink
from monitor.bus.kafka import consumer_kwargs
from monitor.bus.kafka_txn import GroupLoop, TopicSpec, compacted
from monitor.cluster import silences
from monitor.cluster.delivery import ROLE, DeliveryOwner
from monitor.cluster.delivery_outbox import ClusterOutbox
from monitor.cluster.stories_role import caught_up, check_topics, kafka_client
from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.store import Store


class DeliveryRole:
    def __init__(
        self, settings: Settings, metrics: Metrics, store: Store, sinks: Mapping[str, Sink],
        limits: Mapping[str, tuple[int, float]],
    ) -> None:  # fmt: skip
        b = settings.bus
        self.settings, self.metrics = settings, metrics
        self.topic = f"{b.topic_prefix}.outbox"
        self.outbox = ClusterOutbox(store, f"{b.topic_prefix}.deliveries", b.partitions, metrics,
                                    settings.stories.window)  # fmt: skip
        self.dispatcher = Dispatcher(sinks, self.outbox, settings.delivery, metrics, limits)
        self.silences = silences.SilencesTail(b, store, self._silences_loaded)
        self.outbox.silences_loaded = lambda: self.silences.caught_up
        self._loop: asyncio.AbstractEventLoop | None = None
        self.owner: DeliveryOwner | None = None
        self.loop: GroupLoop | None = None
        self.topics_ok = True

    async def __aenter__(self) -> DeliveryRole:
        b = self.settings.bus
        specs = [TopicSpec(self.topic, b.partitions, b.replication_factor,
                           {"retention.ms": str(int(b.retention * 1000))}),
                 compacted(f"{b.topic_prefix}.deliveries", b.partitions, b.replication_factor),
                 compacted(silences.topic(b), b.partitions, b.replication_factor)]  # fmt: skip
        self.topics_ok = await check_topics(self.settings, self.metrics, specs)
        self._loop = asyncio.get_running_loop()
        self.silences.start()
        self.owner = DeliveryOwner(self.settings, self.metrics, kafka_client(self.settings),
                                   self.outbox, self.dispatcher,
                                   asyncio.get_running_loop())  # fmt: skip
        kafka = {**consumer_kwargs(b, f"{b.group_id}.{ROLE}"), "max_poll_records": 500}
        self.loop = GroupLoop(ROLE, self.topic, kafka, self.owner)
        if self.topics_ok:
            self.loop.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:  # fmt: skip
        if self.loop is not None:
            self.loop.stop()
            if self.loop.is_alive():  # leaving the group hands the receivers over
                await asyncio.to_thread(self.loop.join, self.settings.delivery.timeout + 15)
        if self.owner is not None:
            await asyncio.to_thread(self.owner.close)
        self.silences.stop()

    def _silences_loaded(self) -> None:
        """On the tail's thread: the receivers held back until now may send."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.dispatcher.wake, set(self.dispatcher.workers))

    async def drain(self, deadline: float) -> bool:
        if self.loop is None or self.owner is None:
            return True
        return await caught_up(self.loop, kafka_client(self.settings), deadline,
                               self.owner.ready)  # fmt: skip

    async def ready(self) -> bool:
        return (self.topics_ok and self.loop is not None and self.loop.is_alive()
                and self.owner is not None and self.owner.ready())  # fmt: skip

    async def silences_ready(self) -> bool:
        return self.silences.caught_up and self.silences.error is None
