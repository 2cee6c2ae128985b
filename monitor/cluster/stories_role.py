"""The stories role as the daemon runs it: its topics checked, its consumer thread
started and stopped, its readiness, and the drain of ``run --once`` and shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from monitor.bus.kafka import KafkaBus, consumer_kwargs
from monitor.bus.kafka_admin import TopicSpec
from monitor.bus.kafka_group import GroupLoop
from monitor.bus.kafka_txn import end_offsets
from monitor.cluster.stories import StoriesOwner
from monitor.config import Settings
from monitor.errors import BusError
from monitor.metrics import Metrics

log = logging.getLogger(__name__)

GROUP = "alerts"  # the stage that reads matches: its consumer group is <group_id>.alerts
STOP_SLACK = 15.0  # seconds, past a send's timeout, leaving takes at most without a deadline
JOIN_SLACK = 1.0  # seconds a role's thread gets past the deadline to notice it


def kafka_client(settings: Settings) -> dict[str, Any]:
    b = settings.bus
    return {"bootstrap_servers": list(b.bootstrap_servers), "client_id": f"newsmon-{b.group_id}"}


def topics(bus: KafkaBus) -> list[TopicSpec]:
    """The stories role's topics: its input, its changelog, its output."""
    return [bus.spec("matches"), bus.spec("stories", compact=True), bus.spec("outbox")]


async def check_topics(bus: KafkaBus, specs: list[TopicSpec]) -> bool:
    """Create what is missing and have the bus check them after every reconnect (a
    count changed later: an error, ``newsmon_cluster_topic_mismatch``, /readyz not
    ready); False when one is wrong now: the role does not start on topics whose keys
    would land elsewhere."""
    await bus.add_topics(specs)
    problems = [p for p in bus.topic_problems() for s in specs if p.startswith(f"topic {s.name} ")]
    for problem in problems:
        log.error("topic_mismatch %s: the role stays stopped (fix the topic or bus.partitions)",
                  problem)  # fmt: skip
    return not problems


class StoriesRole:
    def __init__(self, settings: Settings, metrics: Metrics, receivers: list[str],
                 bus: KafkaBus) -> None:  # fmt: skip
        self.settings, self.metrics, self.bus = settings, metrics, bus
        b = settings.bus
        self.topic = f"{b.topic_prefix}.matches"
        self.owner = StoriesOwner(settings, metrics, kafka_client(settings), receivers)
        kafka = {**consumer_kwargs(b, f"{b.group_id}.{GROUP}"), "max_poll_records": 500}
        self.loop = GroupLoop("stories", self.topic, kafka, self.owner)
        self.topics_ok = True
        self.deadline: float | None = None  # monotonic: when leaving must be done (the app's)

    async def __aenter__(self) -> StoriesRole:
        self.topics_ok = await check_topics(self.bus, topics(self.bus))
        if self.topics_ok:
            self.loop.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        deadline = stop_deadline(self.deadline, self.settings)
        self.loop.stop(deadline)
        self.owner.stop_by(deadline)
        await leave(self.loop, deadline)
        self.owner.close()

    async def drain(self, deadline: float) -> bool:
        """Until the matches partitions held now are handled up to their end (as it is
        now), or the deadline (monotonic) passes; True if they are."""
        return await caught_up(self.loop, self.settings, deadline, self.owner.ready)

    async def ready(self) -> bool:
        return self.topics_ok and self.loop.is_alive() and self.owner.ready()


async def caught_up(loop: GroupLoop, settings: Settings, deadline: float,
                    ready: Callable[[], bool]) -> bool:  # fmt: skip
    """Until ``loop``'s role is ``ready`` and has handled the partitions it holds up to
    their ends as they are now, or the (monotonic) deadline; True if so."""
    if not loop.is_alive():
        return True
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    try:
        ends = await asyncio.to_thread(end_offsets, kafka_client(settings), loop.topic,
                                       range(settings.bus.partitions), left)  # fmt: skip
    except BusError as exc:
        log.warning("drain_unknown topic=%s error=%s", loop.topic, exc)
        return False
    while not (ready() and loop.caught_up(ends)):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def stop_deadline(deadline: float | None, settings: Settings) -> float:
    """When a role must have left: the app's drain deadline, else as long as a send
    in flight may take to hand over, and some."""
    if deadline is not None:
        return deadline
    return time.monotonic() + settings.delivery.timeout + STOP_SLACK


async def leave(loop: GroupLoop, deadline: float) -> None:
    """Wait for ``loop``'s thread to leave the group, until ``deadline`` and a moment
    more (its blocking calls are bounded by the deadline): a thread that does not end
    by then waits on a broker that is gone, and is left to the process's exit."""
    if loop.is_alive():
        await asyncio.to_thread(loop.join, max(0.0, deadline - time.monotonic()) + JOIN_SLACK)
    if loop.is_alive():
        log.warning("stop_incomplete topic=%s (the broker did not answer in time: what was"
                    " not committed is redone by the partition's next owner)",
                    loop.topic)  # fmt: skip
