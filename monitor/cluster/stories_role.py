"""The stories role as the daemon runs it: its topics checked, its consumer thread
started and stopped, its readiness, and the drain of ``run --once`` and shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from monitor.bus.kafka import consumer_kwargs
from monitor.bus.kafka_txn import GroupLoop, TopicSpec, compacted, end_offsets, ensure_changelogs
from monitor.cluster.stories import StoriesOwner
from monitor.config import Settings
from monitor.errors import BusError
from monitor.metrics import Metrics

log = logging.getLogger(__name__)

GROUP = "alerts"  # the stage that reads matches: its consumer group is <group_id>.alerts


def kafka_client(settings: Settings) -> dict[str, Any]:
    b = settings.bus
    return {"bootstrap_servers": list(b.bootstrap_servers), "client_id": f"newsmon-{b.group_id}"}


async def check_topics(settings: Settings, metrics: Metrics, specs: list[TopicSpec]) -> bool:
    """Create what is missing; False (logged, counted) when one has another partition
    count: the role does not start on topics whose keys would land elsewhere."""
    b = settings.bus
    delay, last = 0.5, ""
    while True:
        try:
            problems = await asyncio.to_thread(ensure_changelogs, b.bootstrap_servers, specs)
            break
        except BusError as exc:
            if str(exc) != last:
                log.warning("bus_unavailable error=%s (retrying)", exc)
                last = str(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    prefix = f"{b.topic_prefix}."
    for spec in specs:
        bad = any(p.startswith(f"topic {spec.name} ") for p in problems)
        metrics.cluster_topic_mismatch.labels(spec.name.removeprefix(prefix)).set(int(bad))
    for problem in problems:
        log.error("topic_mismatch %s: the role stays stopped (fix the topic or bus.partitions)",
                  problem)  # fmt: skip
    return not problems


class StoriesRole:
    def __init__(self, settings: Settings, metrics: Metrics, receivers: list[str]) -> None:
        self.settings, self.metrics = settings, metrics
        b = settings.bus
        self.topic = f"{b.topic_prefix}.matches"
        self.owner = StoriesOwner(settings, metrics, kafka_client(settings), receivers)
        kafka = {**consumer_kwargs(b, f"{b.group_id}.{GROUP}"), "max_poll_records": 500}
        self.loop = GroupLoop("stories", self.topic, kafka, self.owner)
        self.topics_ok = True

    async def __aenter__(self) -> StoriesRole:
        b = self.settings.bus
        specs = [TopicSpec(self.topic, b.partitions, b.replication_factor),
                 compacted(f"{b.topic_prefix}.stories", b.partitions, b.replication_factor),
                 TopicSpec(f"{b.topic_prefix}.outbox", b.partitions, b.replication_factor,
                           {"retention.ms": str(int(b.retention * 1000))})]  # fmt: skip
        self.topics_ok = await check_topics(self.settings, self.metrics, specs)
        if self.topics_ok:
            self.loop.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:  # fmt: skip
        self.loop.stop()
        if self.loop.is_alive():
            await asyncio.to_thread(self.loop.join, 15.0)
        self.owner.close()

    async def drain(self, deadline: float) -> bool:
        """Until the matches partitions held now are handled up to their end (as it is
        now), or the deadline (monotonic) passes; True if they are."""
        return await caught_up(self.loop, kafka_client(self.settings), deadline, self.owner.ready)

    async def ready(self) -> bool:
        return self.topics_ok and self.loop.is_alive() and self.owner.ready()


async def caught_up(loop: GroupLoop, kafka: dict[str, Any], deadline: float,
                    ready: Callable[[], bool]) -> bool:  # fmt: skip
    """Until ``loop``'s role is ``ready`` and has handled the partitions it holds up to
    their ends as they are now, or the (monotonic) deadline; True if so."""
    if not loop.is_alive():
        return True
    try:
        ends = await asyncio.to_thread(end_offsets, kafka, loop.topic)
    except BusError as exc:
        log.warning("drain_unknown topic=%s error=%s", loop.topic, exc)
        return False
    while not (ready() and loop.caught_up(ends)):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True
