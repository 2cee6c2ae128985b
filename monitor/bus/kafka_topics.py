"""The Kafka bus's topics: made when missing, then watched.

:class:`TopicWatch` creates the topics missing (partitions, replication factor and
retention from config) and reports those that exist with other settings; the roles of
:mod:`monitor.cluster` add theirs (``KafkaBus.add_topics``). Every topic is checked
again after each reconnect and every ``TOPIC_CHECK_EVERY`` seconds (the broker probe
calls :meth:`TopicWatch.check`), and whenever a consumer is assigned partitions
(:meth:`TopicWatch.partitions_seen`): one missing, or with another partition count than
``bus.partitions``, is an error (logged, ``newsmon_cluster_topic_mismatch``, not ready)
until it is as configured again: keys would land in other partitions than the roles'
changelogs expect.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monitor.bus.kafka_admin import TopicSpec, check_topics, ensure_topics, partitions_problem
from monitor.errors import BusError

if TYPE_CHECKING:
    from monitor.metrics import Metrics

log = logging.getLogger(__name__)

TOPIC_CHECK_EVERY = 15.0  # seconds between two checks of the topics' partition counts
CREATED_WAIT = 10.0  # seconds a topic just created may take to be described


class TopicWatch:
    def __init__(self, servers: Sequence[str], prefix: str, metrics: Metrics | None) -> None:
        self.specs: dict[str, TopicSpec] = {}  # full name -> its spec: the topics checked
        self._servers, self._prefix, self._metrics = servers, prefix, metrics
        self._problems: dict[str, str] = {}  # full name -> what is wrong with it
        self._lock = threading.Lock()  # the probe's thread and consumers' set them

    def short(self, name: str) -> str:
        """A topic's name without the prefix (the metrics' label)."""
        return name.removeprefix(f"{self._prefix}.")

    async def add(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics missing (retried until the broker answers), report those with
        other settings, and check them from now on."""
        servers = self._servers
        for problem in await retrying(lambda: ensure_topics(servers, specs, partitions=False)):
            log.warning("topic_mismatch %s", problem)
        deadline = time.monotonic() + CREATED_WAIT
        while time.monotonic() < deadline:  # a topic just created is not described at once
            found = await retrying(lambda: check_topics(servers, specs))
            if not any("missing" in problem for problem in found.values()):
                break
            await asyncio.sleep(0.2)
        self.specs.update({s.name: s for s in specs})
        if self._metrics is not None:
            self._metrics.init_roles(self.short(s.name) for s in specs)
        await retrying(self.check)

    def check(self) -> None:
        """Ask the broker how the topics are (blocking: the probe's thread, or a worker)."""
        self._set(check_topics(self._servers, list(self.specs.values())))

    def partitions_seen(self, name: str, count: int) -> None:
        """A consumer of ``name`` was assigned partitions, the topic having ``count``
        (its client's metadata): another count than the config's is an error at once."""
        spec = self.specs.get(name)
        if spec is None or not count or count == spec.partitions:
            return
        with self._lock:
            if name in self._problems:
                return
            problems = {**self._problems, name: partitions_problem(spec, count)}
        self._set(problems)

    def _set(self, problems: dict[str, str]) -> None:
        with self._lock:
            before, self._problems = self._problems, problems
        for name in sorted(set(before) | set(problems)):
            now = problems.get(name)
            if now == before.get(name):
                continue
            if now is None:
                log.info("topic_as_configured topic=%s", name)
            else:
                log.error("topic_mismatch %s (not ready until it is as configured)", now)
            if self._metrics is not None:
                self._metrics.cluster_topic_mismatch.labels(self.short(name)).set(now is not None)

    def problems(self) -> list[str]:
        """What is wrong with the topics now (empty: as configured)."""
        return list(self._problems.values())


async def retrying(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` in a thread until the broker answers (logged once)."""
    delay, last = 0.5, ""
    while True:
        try:
            return await asyncio.to_thread(fn, *args)
        except BusError as exc:
            if str(exc) != last:
                log.warning("bus_unavailable error=%s (retrying)", exc)
                last = str(exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
