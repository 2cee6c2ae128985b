"""The delivery role (and the silences it honours) as the daemon runs it: the outbox the
dispatcher's workers use, the dispatcher, the consumer thread, readiness and drains.

Entered after the dispatcher and left before it: leaving the group hands the receivers
over (the sends in flight finish and their outcomes commit) while the workers still run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from monitor.alerts.deliver import Dispatcher
from monitor.alerts.sinks import Sink
from monitor.bus.kafka import KafkaBus, consumer_kwargs
from monitor.bus.kafka_admin import TopicSpec
from monitor.bus.kafka_group import GroupLoop
from monitor.cluster import silences
from monitor.cluster.delivery import ROLE, DeliveryOwner
from monitor.cluster.delivery_outbox import ClusterOutbox
from monitor.cluster.stories_role import caught_up, check_topics, kafka_client, leave, stop_deadline
from monitor.config import Settings
from monitor.metrics import Metrics
from monitor.store import Store


def topics(bus: KafkaBus) -> list[TopicSpec]:
    """The delivery role's topics: its input, its changelog, the silences it honours."""
    return [bus.spec("outbox"), bus.spec("deliveries", compact=True),
            bus.spec(silences.SHORT, compact=True)]  # fmt: skip


class DeliveryRole:
    def __init__(
        self, settings: Settings, metrics: Metrics, store: Store, sinks: Mapping[str, Sink],
        limits: Mapping[str, tuple[int, float]], bus: KafkaBus,
    ) -> None:  # fmt: skip
        b = settings.bus
        self.settings, self.metrics, self.bus = settings, metrics, bus
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
        self.deadline: float | None = None  # monotonic: when leaving must be done (the app's)

    async def __aenter__(self) -> DeliveryRole:
        b = self.settings.bus
        self.topics_ok = await check_topics(self.bus, topics(self.bus))
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

    async def __aexit__(self, *exc_info: object) -> None:
        deadline = stop_deadline(self.deadline, self.settings)
        if self.owner is not None:
            self.owner.stop_by(deadline)
        if self.loop is not None:
            self.loop.stop(deadline)
            await leave(self.loop, deadline)  # leaving the group hands the receivers over
        if self.owner is not None:
            await asyncio.to_thread(self.owner.close, deadline)
        self.silences.stop()

    def _silences_loaded(self) -> None:
        """On the tail's thread: the receivers held back until now may send."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.dispatcher.wake, set(self.dispatcher.workers))

    async def drain(self, deadline: float) -> bool:
        if self.loop is None or self.owner is None:
            return True
        return await caught_up(self.loop, self.settings, deadline, self.owner.ready)

    async def ready(self) -> bool:
        return (self.topics_ok and self.loop is not None and self.loop.is_alive()
                and self.owner is not None and self.owner.ready())  # fmt: skip

    async def silences_ready(self) -> bool:
        return self.silences.caught_up and self.silences.error is None
